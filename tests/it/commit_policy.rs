//! Whose rules a commit follows: the commit `merge` makes on the user's branch follows the
//! user's git configuration as `git commit` would (hooks, signing, identity; `--no-verify`
//! skips the hooks), and changes nothing when it fails; fork commits are ocfork's own
//! bookkeeping that the user's signing and hooks cannot stop; a fork whose work could not be
//! committed is never shown as having nothing to merge. Real git, real OpenCode, scripted model.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::*;
use serde_json::Value;

fn shell_script(path: &Path, body: &str) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// HEAD, `git status` and the index's bytes: what a refused merge must leave as it was.
fn snapshot(w: &World) -> (String, String, Vec<u8>) {
    (
        w.git(&["rev-parse", "HEAD"]),
        w.git(&["status", "--porcelain"]),
        std::fs::read(w.repo.join(".git/index")).unwrap(),
    )
}

fn fails_with(
    w: &World,
    out: &std::process::Output,
    want: &str,
    before: &(String, String, Vec<u8>),
) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    assert!(
        stderr(out).contains(want),
        "wanted {want:?} in:\n{}",
        stderr(out)
    );
    assert_eq!(&snapshot(w), before, "a failed merge changed something");
}

fn commits(run: &Value) -> Vec<String> {
    run["forks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["state"], "done", "{f:#}");
            f["commit"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn merge_commits_follow_the_users_hooks_signing_and_identity() {
    let w = suite_world(numbered_exports(&["PLAN-A", "PLAN-B", "PLAN-C"]));
    let log = w.path("hooks.log");
    let logged = |name: &str| format!("echo \"{name} $PWD\" >> '{}'", log.display());
    let hooks = w.repo.join(".git/hooks");
    shell_script(
        &hooks.join("pre-commit"),
        &format!(
            "{}\necho 'LINT-FAILED: src/a.js' >&2\nexit 1",
            logged("pre-commit")
        ),
    );
    shell_script(
        &hooks.join("prepare-commit-msg"),
        &logged("prepare-commit-msg"),
    );
    shell_script(
        &hooks.join("post-commit"),
        &format!("{}\nexit 1", logged("post-commit")),
    );
    let no_key = shell_script(
        &w.path("bin/no-key-gpg"),
        "cat >/dev/null\necho 'gpg: signing failed: No secret key' >&2\nexit 2",
    );
    w.git(&["config", "commit.gpgsign", "true"]);
    w.git(&["config", "gpg.program", no_key.to_str().unwrap()]);

    // The forks commit their work although every commit the user makes would fail.
    let run = w.try_json(0, &["-n", "pol", "a=PLAN-A", "b=PLAN-B", "c=PLAN-C"]);
    for c in commits(&run) {
        let raw = w.git(&["cat-file", "-p", &c]);
        assert!(!raw.contains("gpgsig"), "{raw}");
    }
    assert!(
        !log.exists(),
        "hooks ran for fork commits: {:?}",
        std::fs::read_to_string(&log)
    );

    // Uncommitted work of the user's, staged and not, that every refusal must leave alone.
    std::fs::write(w.repo.join("README.md"), "# app\nmine\n").unwrap();
    std::fs::write(w.repo.join("staged.txt"), "staged\n").unwrap();
    w.git(&["add", "staged.txt"]);
    let before = snapshot(&w);

    // The pre-commit hook refuses: its output is the error.
    fails_with(
        &w,
        &w.run(&["merge", "a"]),
        "LINT-FAILED: src/a.js",
        &before,
    );
    // --no-verify skips it; then signing fails, with gpg's message.
    fails_with(
        &w,
        &w.run(&["merge", "a", "--no-verify"]),
        "No secret key",
        &before,
    );

    // core.hooksPath is where hooks are: a commit-msg hook refusing the message.
    let dir = w.path("hooks");
    w.git(&["config", "core.hooksPath", dir.to_str().unwrap()]);
    shell_script(&dir.join("pre-commit"), &logged("pre-commit"));
    shell_script(
        &dir.join("commit-msg"),
        &format!(
            "{}\necho 'MSG-REJECTED: no ticket' >&2\nexit 1",
            logged("commit-msg")
        ),
    );
    fails_with(
        &w,
        &w.run(&["merge", "a"]),
        "MSG-REJECTED: no ticket",
        &before,
    );

    // Hooks that pass and a gpg that signs: the commit is signed, the hook's trailer in it.
    shell_script(
        &dir.join("commit-msg"),
        &format!(
            "{}\nprintf '\\nTicket: T-1\\n' >> \"$1\"",
            logged("commit-msg")
        ),
    );
    let signer = shell_script(
        &w.path("bin/fake-gpg"),
        "cat >/dev/null\necho '[GNUPG:] SIG_CREATED D 1 8 00 1 0' >&2\n\
         printf -- '-----BEGIN PGP SIGNATURE-----\\n\\nZmFrZQ==\\n-----END PGP SIGNATURE-----\\n'",
    );
    w.git(&["config", "gpg.program", signer.to_str().unwrap()]);
    let out = w.run(&["merge", "a"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let raw = w.git(&["cat-file", "-p", "HEAD"]);
    assert!(
        raw.contains("gpgsig -----BEGIN PGP SIGNATURE-----"),
        "{raw}"
    );
    assert!(raw.contains("Ticket: T-1"), "{raw}");
    assert_eq!(w.git(&["rev-parse", "HEAD^"]), before.0);
    assert_eq!(read(w.repo.join("src/a.js")), "export const a = 1;\n");
    assert_eq!(
        w.git(&["status", "--porcelain"]),
        " M README.md\nA  staged.txt\n",
        "the user's own changes stay as they were"
    );
    let hooked = read(&log);
    let repo = w.repo.display().to_string();
    for hook in ["pre-commit", "commit-msg"] {
        assert!(hooked.contains(&format!("{hook} {repo}")), "{hooked}");
    }

    // A merge commit is signed too and keeps both parents.
    let head1 = w.git(&["rev-parse", "HEAD"]);
    let out = w.run(&["merge", "b", "--merge", "--no-verify"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let raw = w.git(&["cat-file", "-p", "HEAD"]);
    assert!(raw.contains("gpgsig "), "{raw}");
    let parents = w.git(&["rev-list", "--parents", "-n", "1", "HEAD"]);
    let b = &commits(&run)[1];
    assert_eq!(
        parents.split_whitespace().skip(1).collect::<Vec<_>>(),
        [head1.trim(), b.as_str()]
    );
    assert!(!w.repo.join(".git/MERGE_HEAD").exists());

    // No identity: one short error with the hint, nothing changed.
    let before = snapshot(&w);
    let empty_home = w.path("empty-home");
    std::fs::create_dir_all(&empty_home).unwrap();
    let mut cmd = w.ocfork();
    for k in [
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
    ] {
        cmd.env_remove(k);
    }
    let out = cmd
        .env("HOME", &empty_home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(["merge", "c", "--no-verify"])
        .output()
        .unwrap();
    fails_with(&w, &out, "git config user.name", &before);
    let err = stderr(&out);
    assert!(err.contains("user.email"), "{err}");
    assert!(
        !err.contains("commit-tree") && !err.contains("Please tell me"),
        "{err}"
    );
    assert!(err.lines().count() <= 3, "{err}");

    // A git too old for `merge-tree --merge-base`: the version needed, not git's usage text.
    let real_git = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let old = w.path("old-git");
    shell_script(
        &old.join("git"),
        &format!(
            "if [ \"$1\" = --version ]; then echo 'git version 2.39.2'; exit 0; fi\nexec '{}' \"$@\"",
            real_git.trim()
        ),
    );
    let path = format!("{}:{}", old.display(), std::env::var("PATH").unwrap());
    let out = w
        .ocfork()
        .env("PATH", path)
        .args(["merge", "c", "--no-verify"])
        .output()
        .unwrap();
    fails_with(&w, &out, "2.40", &before);
    assert!(stderr(&out).contains("2.39.2"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("usage:"), "{}", stderr(&out));
}

#[test]
fn a_fork_whose_work_was_not_committed_is_never_shown_as_empty() {
    // Both forks write the same file, then hold the worktree's index lock so the commit fails.
    let lock = Step {
        tool: "bash".into(),
        args: serde_json::json!({
            "command": "touch \"$(git rev-parse --git-dir)/index.lock\"",
            "description": "hold the index lock"
        }),
    };
    let mut x = writes("PLAN-X", &[("src/same.js", "export const same = 1;\n")]);
    x.steps.push(lock.clone());
    let mut y = writes("PLAN-Y", &[("src/same.js", "export const same = 1;\n")]);
    y.steps.push(lock);
    let w = suite_world(vec![x, y]);
    let run = w.try_json(1, &["-n", "unc", "x=PLAN-X", "y=PLAN-Y"]);
    for f in run["forks"].as_array().unwrap() {
        assert_eq!(f["state"], "failed", "{f:#}");
    }
    // The table names the cause, not only that the commit failed.
    let table = stdout(&w.run(&["status", "unc"]));
    let row = table
        .lines()
        .find(|l| l.starts_with("x "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("index.lock"), "{table}");

    let head0 = w.git(&["rev-parse", "HEAD"]);
    for args in [&["merge", "x", "--dry-run"][..], &["merge", "x"]] {
        let out = w.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        assert!(
            !stdout(&out).contains("already has every change"),
            "{}",
            stdout(&out)
        );
        let err = stderr(&out);
        assert!(
            err.contains("uncommitted") && err.contains("src/same.js"),
            "{err}"
        );
    }
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head0);

    let diff = stdout(&w.run(&["diff", "unc"]));
    assert!(!diff.contains("x ~ y  1.00"), "{diff}");
    assert!(diff.contains("uncommitted"), "{diff}");
    let diff = json(&w.run(&["diff", "unc", "--json"]));
    assert_eq!(
        diff["forks"][0]["uncommitted"][0], "src/same.js",
        "{diff:#}"
    );
}
