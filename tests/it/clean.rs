//! `ocfork clean` never loses what it does not own: the user's own worktrees, commits made in a
//! fork's worktree on another branch or a detached HEAD, nested git repositories; and it cleans
//! up what it does own: branches the user's branch already has, the run's lock files. Real git,
//! real OpenCode, scripted model; the tests of cleaning a finished run read one made by
//! `common::finished` (real git and the run store, no OpenCode).

use std::path::{Path, PathBuf};

use crate::common::finished::{finished_run, wrote};
use crate::common::*;
use serde_json::Value;

/// A finished run `name` of forks `approaches` (`fork=text`); its JSON whatever the exit code.
fn try_run(w: &World, name: &str, approaches: &[&str]) -> Value {
    let mut args = vec!["try", "--json", "-n", name, "-t", "Improve the app"];
    args.extend(approaches);
    json(&w.run(&args))
}

fn worktree(run: &Value, name: &str) -> PathBuf {
    worktree_of(fork(run, name))
}

fn rev(dir: &Path, what: &str) -> String {
    git(dir, &["rev-parse", what]).trim().to_string()
}

/// The commit printed in a line of `out` starting with `prefix` (`PREFIX <sha>...`), checked
/// to come with the `git branch NAME <sha>` that brings it back.
fn printed_commit(out: &str, prefix: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}:\n{out}"));
    let sha: String = line[prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    assert_eq!(sha.len(), 40, "{line}");
    assert!(
        line.contains("`git branch ") && line.contains(&format!(" {sha}`")),
        "{line}"
    );
    sha
}

#[test]
fn clean_leaves_the_users_missing_worktrees_alone_and_drops_what_main_already_has() {
    let w = world(vec![]);
    let same = &[("src/same.js", "export const same = 1;\n")];
    let forks = [wrote("a", "SAME", same), wrote("b", "SAME", same)];
    let run = finished_run(&w, "twin", Some("Improve the app"), &forks);
    assert_eq!(fork(&run, "a")["state"], "done", "{run:#}");
    assert_eq!(fork(&run, "b")["state"], "done", "{run:#}");

    // The user's own linked worktree: a commit on a detached HEAD and staged work, on a
    // disk that is not mounted while clean runs.
    let mine = w.path("mine");
    w.git(&["worktree", "add", "-q", "--detach", mine.to_str().unwrap()]);
    std::fs::write(mine.join("wip.txt"), "committed\n").unwrap();
    git(&mine, &["add", "wip.txt"]);
    git(&mine, &["commit", "-q", "-m", "my detached work"]);
    std::fs::write(mine.join("staged.txt"), "staged\n").unwrap();
    git(&mine, &["add", "staged.txt"]);
    let admin = PathBuf::from(git(&mine, &["rev-parse", "--absolute-git-dir"]).trim());
    assert!(
        admin.starts_with(w.repo.join(".git/worktrees")),
        "{}",
        admin.display()
    );
    let away = w.path("unmounted");
    std::fs::rename(&mine, &away).unwrap();

    // Fork a is squash-merged; fork b made the very same change.
    let out = ok(&w.run(&["merge", "twin/a"]));
    assert!(out.contains("merged twin/a"), "{out}");
    let out = ok(&w.run(&["merge", "twin/b", "--dry-run"]));
    assert!(out.contains("already has every change of twin/b"), "{out}");

    let out = ok(&w.run(&["clean", "twin"]));
    assert!(
        out.contains("deleted branch ocfork/twin/a (merged"),
        "{out}"
    );
    assert!(
        out.contains("deleted branch ocfork/twin/b (main already has every change"),
        "{out}"
    );
    assert!(out.contains("removed run twin"), "{out}");
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");

    // The user's worktree entry is intact: its HEAD and its index with the staged file.
    assert!(
        admin.join("HEAD").is_file(),
        "{} was pruned",
        admin.display()
    );
    assert!(
        admin.join("index").is_file(),
        "{} was pruned",
        admin.display()
    );
    std::fs::rename(&away, &mine).unwrap();
    assert_eq!(git(&mine, &["status", "--porcelain"]), "A  staged.txt\n");
    assert_eq!(
        git(&mine, &["log", "-1", "--format=%s"]),
        "my detached work\n"
    );

    // Nothing of the run is left in the store, lock files included.
    let runs = w.repo.join(".git/ocfork/runs");
    let left: Vec<String> = std::fs::read_dir(&runs)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with("twin"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", runs.display());
}

#[test]
fn force_prints_the_forks_tip_and_the_worktrees_own_head() {
    let w = world(vec![]);
    let forks = [
        wrote(
            "sw",
            "SWITCH",
            &[("src/switch.js", "export const s = 1;\n")],
        ),
        wrote(
            "dt",
            "DETACH",
            &[("src/detach.js", "export const d = 1;\n")],
        ),
    ];
    let run = finished_run(&w, "moved", Some("Improve the app"), &forks);
    let sw_tip = fork(&run, "sw")["commit"]
        .as_str()
        .expect("commit")
        .to_string();
    let dt_tip = fork(&run, "dt")["commit"]
        .as_str()
        .expect("commit")
        .to_string();

    // In one fork the user switched to a branch of their own (at the run's base, so no
    // branch but the fork's holds its work) and left a new file; in the
    // other they committed on a detached HEAD.
    let sw = worktree(&run, "sw");
    let base = run["base"].as_str().expect("base").to_string();
    git(&sw, &["checkout", "-q", "-b", "other", &base]);
    std::fs::write(sw.join("mine.txt"), "left on other\n").unwrap();
    let dt = worktree(&run, "dt");
    git(&dt, &["checkout", "-q", "--detach"]);
    std::fs::write(dt.join("detached.txt"), "on a detached head\n").unwrap();
    git(&dt, &["add", "detached.txt"]);
    git(&dt, &["commit", "-q", "-m", "detached work"]);
    let detached = rev(&dt, "HEAD");

    // Without --force the commit no branch holds is a reason to refuse.
    let out = w.run(&["clean", "moved"]);
    assert_eq!(out.status.code(), Some(1), "stdout: {}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&detached) && err.contains(&dt.display().to_string()),
        "{err}"
    );
    assert!(sw.exists() && dt.exists());

    let out = ok(&w.run(&["clean", "moved", "--force"]));
    // Each fork branch is printed at its own tip, not at the worktree's HEAD.
    assert_eq!(
        printed_commit(&out, "dropped branch ocfork/moved/sw at "),
        sw_tip
    );
    assert_eq!(
        printed_commit(&out, "dropped branch ocfork/moved/dt at "),
        dt_tip
    );
    // The detached commit, and the file left on `other`, are printed too.
    let head = printed_commit(
        &out,
        &format!("dropped the detached HEAD of {} at ", dt.display()),
    );
    assert_eq!(head, detached);
    let leftovers = printed_commit(
        &out,
        &format!("dropped uncommitted changes in {} as ", sw.display()),
    );
    assert!(!sw.exists() && !dt.exists());

    // `other` is the user's: untouched, at the commit it was made at.
    assert_eq!(w.git(&["rev-parse", "other"]).trim(), base);
    // Every printed commit brings its work back.
    for (name, sha, file, content) in [
        ("r1", &sw_tip, "src/switch.js", "export const s = 1;\n"),
        ("r2", &dt_tip, "src/detach.js", "export const d = 1;\n"),
        ("r3", &head, "detached.txt", "on a detached head\n"),
        ("r4", &leftovers, "mine.txt", "left on other\n"),
    ] {
        w.git(&["branch", name, sha]);
        assert_eq!(w.git(&["show", &format!("{name}:{file}")]), content);
    }
}

#[test]
fn nested_repositories_are_not_deleted_with_the_worktree() {
    let w = world(vec![
        Rule {
            steps: vec![bash(
                "git init -q vendor/lib && printf 'x\\n' > vendor/lib/a.txt",
            )],
            ..writes("EMPTY-REPO", &[])
        },
        writes("OWN-REPO", &[("src/own.js", "export const own = 1;\n")]),
        writes("CLONE", &[("src/clone.js", "export const clone = 1;\n")]),
    ]);
    let run = try_run(
        &w,
        "nest",
        &["empty=EMPTY-REPO", "own=OWN-REPO", "clone=CLONE"],
    );

    // A nested repository with no commit cannot be committed: the fork's error says where.
    let empty = fork(&run, "empty");
    assert_eq!(empty["state"], "failed", "{empty:#}");
    let error = empty["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("vendor/lib") && error.contains("no commit"),
        "{error}"
    );

    // A nested repository whose commit exists nowhere else, and a clone of an upstream.
    let own = worktree(&run, "own").join("vendor/lib");
    std::fs::create_dir_all(&own).unwrap();
    git(&own, &["init", "-q", "-b", "main"]);
    std::fs::write(own.join("lib.txt"), "only here\n").unwrap();
    git(&own, &["add", "-A"]);
    git(&own, &["commit", "-q", "-m", "only here"]);
    let upstream = w.path("upstream");
    std::fs::create_dir_all(&upstream).unwrap();
    git(&upstream, &["init", "-q", "-b", "main"]);
    std::fs::write(upstream.join("up.txt"), "upstream\n").unwrap();
    git(&upstream, &["add", "-A"]);
    git(&upstream, &["commit", "-q", "-m", "upstream"]);
    let clone = worktree(&run, "clone").join("vendor/lib");
    git(
        &w.repo,
        &[
            "clone",
            "-q",
            upstream.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );

    for args in [&["clean", "nest"][..], &["clean", "nest", "--force"]] {
        let out = w.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        let empty_wt = worktree(&run, "empty").join("vendor/lib");
        assert!(err.contains(&empty_wt.display().to_string()), "{err}");
        assert!(err.contains("no commit"), "{err}");
        assert!(err.contains(&own.display().to_string()), "{err}");
        assert!(!err.contains(&clone.display().to_string()), "{err}");
        assert!(own.join("lib.txt").is_file() && empty_wt.join("a.txt").is_file());
        // Each fork stands alone: the two holding such repositories are kept whole.
        let branches = w.git(&["branch", "--list", "ocfork/*"]);
        assert!(
            branches.contains("ocfork/nest/empty") && branches.contains("ocfork/nest/own"),
            "{branches}"
        );
    }
    // The clone's (its repository is upstream's) went with --force all the same.
    assert!(!worktree(&run, "clone").exists());

    // Once the user moved them out, --force goes on; the clone's content is upstream's.
    std::fs::rename(&own, w.path("own-lib")).unwrap();
    std::fs::rename(worktree(&run, "empty").join("vendor"), w.path("empty-lib")).unwrap();
    let out = ok(&w.run(&["clean", "nest", "--force"]));
    assert!(out.contains("removed run nest"), "{out}");
    assert!(!worktree(&run, "clone").exists());
    assert_eq!(
        git(&w.path("own-lib"), &["log", "-1", "--format=%s"]),
        "only here\n"
    );
}
