//! Odd repositories: a path with spaces and unicode, non-UTF-8 file names, symlinks, CRLF
//! files, a 50 MB binary changed by a fork, submodules, a repo that is itself a linked
//! worktree, and `--base` a tag or a remote branch.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::common::*;
use serde_json::Value;

fn rule(when: &str, steps: Vec<Step>) -> Rule {
    Rule {
        steps,
        ..writes(when, &[])
    }
}

/// A new repo at `dir` holding `files` (made by `fill`), one commit.
fn repo_at(dir: &Path, fill: impl FnOnce(&Path)) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    git(dir, &["init", "-q", "-b", "main"]);
    fill(dir);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "odd base"]);
    dir.to_path_buf()
}

fn ok_json(out: &std::process::Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    json(out)
}

const NON_UTF8: &[u8] = b"latin1-caf\xe9.txt";

#[test]
fn spaces_unicode_non_utf8_symlinks_crlf_and_a_50mb_binary() {
    let w = suite_world(vec![rule(
        "Change the binary",
        vec![
            bash("printf 'CHANGED' | dd of=big.bin bs=1 seek=4096 conv=notrunc 2>/dev/null"),
            bash("printf 'new\\n' > \"$(printf 'new-\\351.txt')\""),
            bash("printf 'from fork\\n' >> notes.txt"),
            // A type change: the symlink becomes a file.
            bash("rm link-to-notes && printf 'now a file\\n' > link-to-notes"),
            // A binary file whose content stays: only its mode changes.
            bash("chmod +x small.bin"),
        ],
    )]);
    let dir = w.path("dir with spaces/ünïcødé répo");
    let repo = repo_at(&dir, |d| {
        std::fs::write(d.join(OsStr::from_bytes(NON_UTF8)), "old\n").expect("write");
        std::fs::write(d.join("crlf.txt"), "one\r\ntwo\r\n").expect("write");
        std::fs::write(d.join("notes.txt"), "notes\n").expect("write");
        std::os::unix::fs::symlink("notes.txt", d.join("link-to-notes")).expect("symlink");
        std::os::unix::fs::symlink("does/not/exist", d.join("dangling")).expect("symlink");
        let mut big = vec![0u8; 50 * 1024 * 1024];
        for (i, b) in big.iter_mut().enumerate() {
            *b = (i.wrapping_mul(2654435761) >> 13) as u8;
        }
        std::fs::write(d.join("big.bin"), big).expect("write");
        std::fs::write(d.join("small.bin"), b"\0\x01binary\0").expect("write");
    });
    // try here starts a server of its own (no --server): it gets the plugin's dependencies.
    w.seed_opencode_deps();
    let out = w
        .ocfork_in(&repo)
        .args(["try", "--json", "-n", "odd", "bin=Change the binary"])
        .output()
        .expect("try");
    let run = ok_json(&out);
    let fork = &run["forks"][0];
    assert_eq!(fork["state"], "done", "{fork:#}");
    let wt = worktree_of(fork);
    assert!(
        wt.to_string_lossy().contains("ünïcødé répo.ocfork"),
        "{}",
        wt.display()
    );
    let commit = fork["commit"].as_str().expect("commit");
    let base = run["base"].as_str().expect("base");

    // What the fork changed, in raw git terms (names quoted by git as it quotes them).
    let changed = git(&repo, &["diff", "--name-only", "-z", base, commit]);
    let mut changed: Vec<&str> = changed.split('\0').filter(|s| !s.is_empty()).collect();
    changed.sort();
    assert_eq!(changed.len(), 5, "{changed:?}");
    assert!(
        changed.contains(&"big.bin") && changed.contains(&"notes.txt"),
        "{changed:?}"
    );
    let numstat = git(&repo, &["diff", "--numstat", base, commit, "--", "big.bin"]);
    assert!(numstat.starts_with("-\t-\tbig.bin"), "binary: {numstat}");
    assert_eq!(fork["files_changed"], 5);

    // Symlinks stay symlinks, CRLF stays CRLF, the non-UTF-8 name is intact.
    let tree = git(&repo, &["ls-tree", commit]);
    assert!(
        tree.lines()
            .any(|l| l.starts_with("100644") && l.ends_with("link-to-notes")),
        "{tree}"
    );
    assert!(
        tree.lines()
            .any(|l| l.starts_with("120000") && l.ends_with("dangling")),
        "{tree}"
    );
    let crlf = std::process::Command::new("git")
        .current_dir(&repo)
        .args(["cat-file", "blob", &format!("{commit}:crlf.txt")])
        .output()
        .expect("git");
    assert_eq!(crlf.stdout, b"one\r\ntwo\r\n");
    let mut name = NON_UTF8.to_vec();
    assert!(wt.join(OsStr::from_bytes(&name)).exists());
    name.clear();
    name.extend_from_slice(b"new-\xe9.txt");
    assert!(
        wt.join(OsStr::from_bytes(&name)).exists(),
        "the fork wrote a non-UTF-8 name"
    );

    // diff says binary; merge brings it all in.
    let diff = ok_json(
        &w.ocfork_in(&repo)
            .args(["diff", "odd/bin", "--json"])
            .output()
            .expect("diff"),
    );
    let files = diff["forks"][0]["files"].as_array().expect("files").clone();
    let big = files
        .iter()
        .find(|f| f["path"] == "big.bin")
        .expect("big.bin in diff");
    assert_eq!(big["binary"], true, "{big}");
    // Every count is the one `git diff --numstat` gives (binary files: `-`), the type change
    // and the non-UTF-8 name included.
    let numstat = git(&repo, &["diff", "--numstat", "-z", base, commit]);
    let mut counted = 0;
    for entry in numstat.split('\0').filter(|s| !s.is_empty()) {
        let mut parts = entry.splitn(3, '\t');
        let (ins, del, path) = (parts.next(), parts.next(), parts.next());
        let file = files
            .iter()
            .find(|f| f["path"].as_str() == path)
            .unwrap_or_else(|| panic!("{path:?} in diff --json: {files:?}"));
        let want = match (ins, del) {
            (Some("-"), Some("-")) => (0, 0),
            (Some(i), Some(d)) => (i.parse().expect("count"), d.parse().expect("count")),
            _ => panic!("numstat entry {entry:?}"),
        };
        assert_eq!(
            (file["insertions"].as_u64(), file["deletions"].as_u64()),
            (Some(want.0), Some(want.1)),
            "{file}"
        );
        assert_eq!(file["binary"], ins == Some("-"), "{file}");
        counted += 1;
    }
    assert_eq!(counted, files.len(), "{files:?}");
    let out = w
        .ocfork_in(&repo)
        .args(["merge", "odd/bin"])
        .output()
        .expect("merge");
    assert_eq!(out.status.code(), Some(0), "merge: {}", stderr(&out));
    let merged = git(&repo, &["diff", "--stat", commit, "HEAD"]);
    assert_eq!(merged.trim(), "", "the main branch now has the fork's tree");
    assert!(git(&repo, &["status", "--porcelain"]).is_empty());
}

#[test]
fn submodules_are_initialized_in_each_fork() {
    let w = suite_world(vec![rule(
        "Use the lib",
        vec![bash("cat lib/lib.txt > copied.txt")],
    )]);
    // A private git config that lets file:// submodules clone (git refuses them by default).
    std::fs::write(
        w.path("home/.gitconfig"),
        "[protocol \"file\"]\n\tallow = always\n",
    )
    .expect("gitconfig");
    let lib = repo_at(&w.path("lib"), |d| {
        std::fs::write(d.join("lib.txt"), "library v1\n").expect("write")
    });
    let url = format!("file://{}", lib.display());
    git(
        &w.repo,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            &url,
            "lib",
        ],
    );
    git(&w.repo, &["commit", "-q", "-m", "add lib"]);
    let run = ok_json(&w.run(&["try", "--json", "a=Use the lib", "b=Use the lib too"]));
    for fork in run["forks"].as_array().expect("forks") {
        assert_eq!(fork["state"], "done", "{fork:#}");
        let wt = worktree_of(fork);
        assert_eq!(read(wt.join("lib/lib.txt")), "library v1\n");
        let commit = fork["commit"].as_str().expect("commit");
        assert_eq!(
            git(&w.repo, &["show", &format!("{commit}:copied.txt")]),
            "library v1\n"
        );
        // The gitlink is unchanged.
        let base = run["base"].as_str().expect("base");
        assert_eq!(
            git(&w.repo, &["diff", "--name-only", base, commit]).trim(),
            "copied.txt"
        );
    }
}

#[test]
fn from_a_linked_worktree_with_base_a_tag_or_a_remote_branch() {
    let w = suite_world(vec![
        writes("Use the tag", &[("from-tag.txt", "t\n")]),
        writes("Use the remote", &[("from-remote.txt", "r\n")]),
    ]);
    std::fs::write(w.repo.join("tagged.txt"), "v1\n").expect("write");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "tagged"]);
    w.git(&["tag", "-a", "v1", "-m", "release 1"]);
    let tag_commit = w.git(&["rev-parse", "v1^{commit}"]).trim().to_string();
    std::fs::write(w.repo.join("later.txt"), "later\n").expect("write");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "after the tag"]);

    // A remote with a branch of its own, fetched as origin/feature.
    let upstream = w.path("upstream");
    git(
        w.tmp.path(),
        &[
            "clone",
            "-q",
            w.repo.to_str().expect("utf8"),
            upstream.to_str().expect("utf8"),
        ],
    );
    git(&upstream, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(upstream.join("feature.txt"), "feature\n").expect("write");
    git(&upstream, &["add", "-A"]);
    git(&upstream, &["commit", "-q", "-m", "feature work"]);
    w.git(&["remote", "add", "origin", upstream.to_str().expect("utf8")]);
    w.git(&["fetch", "-q", "origin"]);
    let remote_commit = w.git(&["rev-parse", "origin/feature"]).trim().to_string();

    // The user works in a linked worktree of the repository.
    let linked = w.path("linked wt");
    w.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "side",
        linked.to_str().expect("utf8"),
    ]);
    let sub = linked.join("src");
    w.seed_opencode_deps();
    let run = ok_json(
        &w.ocfork_in(&sub)
            .args([
                "try",
                "--json",
                "--base",
                "v1",
                "-n",
                "tag",
                "t=Use the tag",
            ])
            .output()
            .expect("try"),
    );
    assert_eq!(run["base"], tag_commit.as_str());
    assert_eq!(run["repo"], linked.to_str().expect("utf8"));
    let fork = &run["forks"][0];
    assert_eq!(fork["state"], "done", "{fork:#}");
    let commit = fork["commit"].as_str().expect("commit");
    assert_eq!(
        w.git(&["rev-parse", &format!("{commit}^")]).trim(),
        tag_commit
    );
    assert!(!worktree_of(fork).starts_with(&linked));

    let run = ok_json(
        &w.ocfork_in(&linked)
            .args([
                "try",
                "--json",
                "--base",
                "origin/feature",
                "-n",
                "remote",
                "r=Use the remote",
            ])
            .output()
            .expect("try"),
    );
    assert_eq!(run["base"], remote_commit.as_str());
    let commit = run["forks"][0]["commit"].as_str().expect("commit");
    let files = w.git(&["ls-tree", "-r", "--name-only", commit]);
    assert!(
        files.contains("feature.txt") && files.contains("from-remote.txt"),
        "{files}"
    );
    // Both runs are visible from the main worktree too.
    let listed = stdout(&w.run(&["list"]));
    assert!(
        listed.contains("tag") && listed.contains("remote"),
        "{listed}"
    );
    assert!(w.git(&["status", "--porcelain"]).is_empty());
    assert!(git(&linked, &["status", "--porcelain"]).is_empty());
}

#[test]
fn non_utf8_names_through_diff_merge_and_report() {
    // Two forks write files whose names differ only in a byte that is not UTF-8, alike.
    let w = suite_world(vec![
        rule(
            "NAME-E9",
            vec![bash("printf 'same text\\n' > \"$(printf 'caf\\351.txt')\"")],
        ),
        rule(
            "NAME-E8",
            vec![bash("printf 'same text\\n' > \"$(printf 'caf\\350.txt')\"")],
        ),
    ]);
    let run = ok_json(&w.run(&["try", "--json", "-n", "nu", "e9=NAME-E9", "e8=NAME-E8"]));
    for f in run["forks"].as_array().expect("forks") {
        assert_eq!(f["state"], "done", "{f:#}");
    }

    // Different files: not "the same file changed alike".
    let diff = ok_json(&w.run(&["diff", "nu", "--json"]));
    let pair = &diff["pairs"][0];
    assert_eq!(pair["same"], serde_json::json!([]), "{pair:#}");
    assert_eq!(pair["only_a"].as_array().map(Vec::len), Some(1), "{pair:#}");
    assert_eq!(diff["forks"][0]["files"][0]["insertions"], 1, "{diff:#}");

    // The report shows the file's text.
    let out = w.run(&["report", "nu"]);
    assert_eq!(out.status.code(), Some(0), "report: {}", stderr(&out));
    assert!(stdout(&out).contains("same text"), "{}", stdout(&out));

    // An untracked file of that exact name in the main tree blocks the merge, by our check.
    let e9 = w.repo.join(OsStr::from_bytes(b"caf\xe9.txt"));
    std::fs::write(&e9, "mine\n").expect("write");
    let head0 = git(&w.repo, &["rev-parse", "HEAD"]);
    let out = w.run(&["merge", "e9"]);
    exits_with(&out, 1, "untracked file in the way");
    assert_eq!(read(&e9), "mine\n");
    assert_eq!(git(&w.repo, &["rev-parse", "HEAD"]), head0);

    // Moved away, the merge writes the exact bytes of the name.
    std::fs::remove_file(&e9).expect("rm");
    let out = w.run(&["merge", "e9"]);
    assert_eq!(out.status.code(), Some(0), "merge: {}", stderr(&out));
    assert_eq!(read(&e9), "same text\n");
    assert!(!w.repo.join(OsStr::from_bytes(b"caf\xe8.txt")).exists());
    assert!(git(&w.repo, &["status", "--porcelain"]).is_empty());
}
