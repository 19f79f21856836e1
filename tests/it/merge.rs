//! `ocfork merge` and `ocfork clean` end to end: squash and merge commits, refusals that leave
//! everything as it was (conflicts, uncommitted changes), and cleaning merged and unmerged
//! forks. Real git, real OpenCode, scripted model; the tests of merging a finished run read
//! one made by `common::finished` (real git and the run store, no OpenCode).

use crate::common::finished::{finished_run, wrote};
use crate::common::*;
use serde_json::Value;

/// A finished run `name` with the task "Improve the app".
fn try_run(w: &World, name: &str, forks: &[finished::Done]) -> Value {
    finished_run(w, name, Some("Improve the app"), forks)
}

fn read(w: &World, rel: &str) -> String {
    std::fs::read_to_string(w.repo.join(rel)).unwrap()
}

fn head(w: &World) -> String {
    w.git(&["rev-parse", "HEAD"]).trim().to_string()
}

fn parents(w: &World) -> Vec<String> {
    w.git(&["rev-list", "--parents", "-n", "1", "HEAD"])
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect()
}

#[test]
fn merge_squash_then_merge_commit_then_force_clean() {
    let w = suite_world(vec![]);
    let left = &[
        ("src/app.js", "console.log('left');\n"),
        ("src/left.js", "export const left = true;\n"),
    ];
    let right = &[("src/right.js", "export const right = true;\n")];
    let run = try_run(
        &w,
        "mrg",
        &[
            wrote("left", "Use the left approach", left),
            wrote("right", "Use the right approach", right),
        ],
    );
    let start = run["base"].as_str().unwrap().to_string();
    let left_commit = fork(&run, "left")["commit"].as_str().unwrap().to_string();
    let right_commit = fork(&run, "right")["commit"].as_str().unwrap().to_string();
    let head0 = head(&w);

    // An uncommitted edit to a file the merge would write: refused, the edit intact.
    std::fs::write(w.repo.join("src/app.js"), "console.log('mine');\n").unwrap();
    let out = w.run(&["merge", "left"]);
    exits_with(&out, 1, "src/app.js");
    assert_eq!(read(&w, "src/app.js"), "console.log('mine');\n");
    assert_eq!(head(&w), head0);
    assert!(!w.repo.join("src/left.js").exists());

    // Uncommitted edits elsewhere: the merge goes ahead and leaves them be.
    w.git(&["checkout", "--", "src/app.js"]);
    std::fs::write(w.repo.join("README.md"), "# app\nmy notes\n").unwrap();
    std::fs::write(w.repo.join("notes.txt"), "todo\n").unwrap();
    let dry = ok(&w.run(&["merge", "left", "--dry-run"]));
    assert!(dry.contains("would squash mrg/left"), "{dry}");
    assert!(
        dry.contains("src/app.js") && dry.contains("src/left.js"),
        "{dry}"
    );
    assert_eq!(head(&w), head0);
    assert_eq!(read(&w, "src/app.js"), "console.log('app');\n");

    let merged = ok(&w.run(&["merge", "left"]));
    assert!(
        merged.contains("merged mrg/left into main (squash)"),
        "{merged}"
    );
    assert_eq!(parents(&w), vec![head0.clone()]);
    assert_eq!(
        w.git(&["diff-tree", "--no-commit-id", "--name-status", "-r", "HEAD"]),
        "M\tsrc/app.js\nA\tsrc/left.js\n"
    );
    assert_eq!(
        w.git(&["diff", "--numstat", "HEAD^", "HEAD"]),
        w.git(&["diff", "--numstat", &start, &left_commit])
    );
    let log = w.git(&["log", "-1", "--stat"]);
    assert!(log.contains("ocfork mrg/left: Improve the app"), "{log}");
    assert!(log.contains("Use the left approach"), "{log}");
    assert!(
        log.contains("2 files changed, 2 insertions(+), 1 deletion(-)"),
        "{log}"
    );
    assert_eq!(read(&w, "src/app.js"), "console.log('left');\n");
    assert_eq!(read(&w, "README.md"), "# app\nmy notes\n");
    assert_eq!(read(&w, "notes.txt"), "todo\n");
    assert_eq!(
        w.git(&["status", "--porcelain"]),
        " M README.md\n?? notes.txt\n"
    );
    let status = json(&w.run(&["status", "--json"]));
    assert_eq!(fork(&status, "left")["merged"], true);
    assert_eq!(fork(&status, "right")["merged"], false);

    // A merge commit on top of the squash: the base is behind the branch now.
    let head1 = head(&w);
    let merged = ok(&w.run(&["merge", "mrg/right", "--merge"]));
    assert!(merged.contains("(merge)"), "{merged}");
    assert_eq!(parents(&w), [head1, right_commit]);
    assert_eq!(read(&w, "src/right.js"), "export const right = true;\n");
    assert_eq!(read(&w, "README.md"), "# app\nmy notes\n");
    let again = ok(&w.run(&["merge", "right"]));
    assert!(again.contains("nothing to merge"), "{again}");

    // An edit left in a worktree: clean keeps that fork, saying why, and cleans the other.
    let left_wt = worktree_of(fork(&run, "left"));
    let right_wt = worktree_of(fork(&run, "right"));
    std::fs::write(
        left_wt.join("src/left.js"),
        "export const left = 'edited';\n",
    )
    .unwrap();
    let out = w.run(&["clean"]);
    assert_eq!(out.status.code(), Some(1), "stdout: {}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&left_wt.display().to_string()) && err.contains("src/left.js"),
        "{err}"
    );
    assert!(err.contains("kept fork mrg/left"), "{err}");
    assert!(left_wt.exists() && !right_wt.exists());
    assert_eq!(w.git(&["worktree", "list"]).lines().count(), 2);
    assert_eq!(
        w.git(&["branch", "--list", "--format=%(refname:short)", "ocfork/*"])
            .trim(),
        "ocfork/mrg/left"
    );
    assert!(
        stdout(&out).contains("deleted branch ocfork/mrg/right"),
        "{}",
        stdout(&out)
    );

    // --force: the rest goes, and the dropped commit brings the edit back.
    let out = ok(&w.run(&["clean", "--force"]));
    let dropped = out
        .lines()
        .find_map(|l| l.strip_prefix("dropped branch ocfork/mrg/left at "))
        .unwrap_or_else(|| panic!("no dropped commit printed:\n{out}"));
    let sha = dropped.split(';').next().unwrap().trim();
    assert_eq!(w.git(&["worktree", "list"]).lines().count(), 1);
    assert!(!left_wt.exists() && !right_wt.exists());
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");
    w.git(&["branch", "rescued", sha]);
    assert_eq!(
        w.git(&["show", "rescued:src/left.js"]),
        "export const left = 'edited';\n"
    );
    assert_eq!(w.run(&["status", "mrg"]).status.code(), Some(2));
}

#[test]
fn conflict_is_refused_and_clean_keeps_unmerged() {
    let w = suite_world(vec![]);
    let run = try_run(
        &w,
        "cfl",
        &[
            wrote(
                "edit",
                "EDIT-APP",
                &[("src/app.js", "console.log('fork');\n")],
            ),
            wrote(
                "add",
                "ADD-FILE",
                &[("src/add.js", "export const add = 1;\n")],
            ),
        ],
    );

    // The main branch changes the same line after the run started.
    std::fs::write(w.repo.join("src/app.js"), "console.log('main');\n").unwrap();
    w.git(&["commit", "-q", "-am", "main changes app.js"]);
    std::fs::write(w.repo.join("README.md"), "# app\nwip\n").unwrap();
    let head1 = head(&w);
    let status = w.git(&["status", "--porcelain"]);
    let index = w.repo.join(".git/index");
    let index_before = std::fs::read(&index).unwrap();
    for args in [
        &["merge", "edit"][..],
        &["merge", "edit", "--dry-run"],
        &["merge", "cfl/edit", "--merge"],
    ] {
        let out = w.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("conflict") && err.contains("src/app.js"),
            "{err}"
        );
        assert_eq!(std::fs::read(&index).unwrap(), index_before, "{args:?}");
    }
    assert_eq!(head(&w), head1);
    assert_eq!(read(&w, "src/app.js"), "console.log('main');\n");
    assert_eq!(read(&w, "README.md"), "# app\nwip\n");
    assert_eq!(w.git(&["status", "--porcelain"]), status);

    // The other fork merges cleanly on top of the new commit.
    ok(&w.run(&["merge", "add"]));
    assert_eq!(parents(&w), [head1]);
    assert_eq!(read(&w, "src/add.js"), "export const add = 1;\n");

    // clean: both worktrees go, the merged branch goes, the unmerged one stays.
    let out = ok(&w.run(&["clean"]));
    assert!(out.contains("deleted branch ocfork/cfl/add"), "{out}");
    assert!(
        out.contains("kept branch ocfork/cfl/edit (not merged)"),
        "{out}"
    );
    assert_eq!(w.git(&["worktree", "list"]).lines().count(), 1);
    for f in run["forks"].as_array().unwrap() {
        assert!(!worktree_of(f).exists());
    }
    assert_eq!(
        w.git(&["branch", "--list", "ocfork/*"]).trim(),
        "ocfork/cfl/edit"
    );
    // The run is still known, and the kept fork can be looked at and dropped later.
    ok(&w.run(&["status", "cfl"]));
    let patch = ok(&w.run(&["diff", "edit"]));
    assert!(patch.contains("+console.log('fork');"), "{patch}");
    let out = ok(&w.run(&["clean", "cfl", "--force"]));
    let edit_commit = fork(&run, "edit")["commit"].as_str().unwrap();
    assert!(
        out.contains(&format!("dropped branch ocfork/cfl/edit at {edit_commit}")),
        "{out}"
    );
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");
    assert_eq!(read(&w, "README.md"), "# app\nwip\n");
}

#[test]
fn unfinished_forks_are_neither_merged_nor_cleaned() {
    let mut slow = writes("SLOW", &[("src/slow.js", "export const slow = 1;\n")]);
    slow.steps.push(held());
    let w = suite_world(vec![slow]);
    let out = w.run(&["try", "--detach", "-n", "busy", "slow=SLOW"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let head0 = head(&w);

    let out = w.run(&["merge", "slow"]);
    exits_with(&out, 1, "fork busy/slow is still");
    let out = w.run(&["clean"]);
    exits_with(&out, 1, "run busy is still running");
    assert_eq!(head(&w), head0);
    assert_eq!(w.git(&["worktree", "list"]).lines().count(), 2);

    release(&[w.path("app.ocfork/busy/slow")]);
    ok(&w.run(&["wait", "busy"]));
    ok(&w.run(&["merge", "slow"]));
    let out = ok(&w.run(&["clean"]));
    assert!(
        out.contains("deleted branch ocfork/busy/slow (merged"),
        "{out}"
    );
    assert!(out.contains("removed run busy"), "{out}");
    assert_eq!(w.git(&["worktree", "list"]).lines().count(), 1);
}

/// What the user should know, said: a dirty main tree does not reach the forks, a failed check
/// shows in try's last line and in a warning when merging, and a file in the way is called
/// what it is.
#[test]
fn try_and_merge_say_what_the_user_should_know() {
    let w = suite_world(vec![writes(
        "the new file",
        &[
            ("src/app.js", "console.log('new');\n"),
            ("src/new.js", "export const n = 1;\n"),
        ],
    )]);
    std::fs::write(w.repo.join("notes.txt"), "mine\n").unwrap();
    let out = w.run(&[
        "try",
        "-n",
        "say",
        "--check",
        "exit 3",
        "a=Write the new file",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "ocfork: warning: the main tree has uncommitted changes (1 file); they do not reach the forks unless you pass --include-dirty"
        ),
        "{err}"
    );
    let last = err.lines().last().unwrap_or_default();
    insta::assert_snapshot!("try_last_line_check_failed", last);
    std::fs::remove_file(w.repo.join("notes.txt")).unwrap();

    // In the way: an edit to a file the merge writes, and an untracked file it would create.
    std::fs::write(w.repo.join("src/app.js"), "console.log('mine');\n").unwrap();
    std::fs::write(w.repo.join("src/new.js"), "mine\n").unwrap();
    let out = w.run(&["merge", "a"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    insta::assert_snapshot!("merge_files_in_the_way", stderr(&out));
    assert_eq!(read(&w, "src/new.js"), "mine\n");

    w.git(&["checkout", "--", "src/app.js"]);
    std::fs::remove_file(w.repo.join("src/new.js")).unwrap();
    let out = w.run(&["merge", "a"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    insta::assert_snapshot!("merge_check_failed_warning", stderr(&out));
}
