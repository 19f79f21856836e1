//! Errors say what failed, in the user's words, with git's own message under them and only the
//! hints that fit: run state that cannot be written, a merge whose HEAD moved meanwhile, git
//! failing while comparing a fork; and a fork holding a nested repository (a gitlink) reports.

use std::os::unix::fs::PermissionsExt;

use crate::common::*;

fn world_a() -> World {
    suite_world(vec![writes("Use a", &[("a.txt", "a\n")])])
}

/// No raw git command line: no "`git merge-tree ...`" or "`git diff --raw ...`".
fn no_command_line(err: &str) {
    for raw in ["`git ", "merge-tree", "diff --raw", "cat-file"] {
        assert!(
            !err.contains(raw),
            "a git command line reached the user:\n{err}"
        );
    }
}

#[test]
fn run_state_that_cannot_be_written_says_so() {
    let w = world_a();
    // A file where the runs' folder should be: writing fails (as root, too).
    let ocfork = w.repo.join(".git/ocfork");
    std::fs::create_dir_all(&ocfork).expect("mkdir");
    std::fs::write(ocfork.join("runs"), "x").expect("write");
    let out = w.run(&["try", "-n", "state", "a=Use a"]);
    let err = stderr(&out);
    exits_with(&out, 1, "cannot write run state");
    assert!(
        err.contains(ocfork.join("runs").to_str().expect("utf8")),
        "names the path: {err}"
    );
    assert!(err.contains("(os error "), "says the OS error: {err}");
    assert!(!err.contains("pick another name"), "a wrong hint: {err}");
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");
}

#[test]
fn merge_refused_because_head_moved_does_not_blame_hooks() {
    let w = world_a();
    let run = w.try_json(0, &["-n", "moved", "a=Use a"]);
    assert_eq!(fork(&run, "a")["state"], "done");
    // A commit lands on the user's branch while the merge commits (here, from a hook that
    // passes: the hook is not what failed).
    let hook = w.repo.join(".git/hooks/pre-commit");
    std::fs::create_dir_all(hook.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &hook,
        "#!/bin/sh\ngit update-ref HEAD \"$(git commit-tree 'HEAD^{tree}' -p HEAD -m elsewhere)\"\n",
    )
    .expect("write hook");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = w.run(&["merge", "a"]);
    let err = stderr(&out);
    exits_with(&out, 1, "HEAD moved");
    assert!(!err.contains("--no-verify"), "a hint for hooks: {err}");
    no_command_line(&err);
    assert_eq!(w.git(&["log", "-1", "--format=%s"]).trim(), "elsewhere");
    assert!(!w.repo.join("a.txt").exists(), "nothing was merged");
}

#[test]
fn git_failing_under_diff_and_merge_is_said_in_words() {
    let w = world_a();
    let run = w.try_json(0, &["-n", "broken", "a=Use a"]);
    let commit = fork(&run, "a")["commit"]
        .as_str()
        .expect("commit")
        .to_string();
    // The user's branch adds the same file, so merging must read both sides of it...
    std::fs::write(w.repo.join("a.txt"), "main\n").expect("write");
    w.git(&["add", "a.txt"]);
    w.git(&["commit", "-q", "-m", "main's a"]);
    // ... and the fork's side is gone from the object store (and from ocfork's kept diff).
    let blob = w.git(&["rev-parse", &format!("{commit}:a.txt")]);
    let blob = blob.trim();
    std::fs::remove_file(
        w.repo
            .join(format!(".git/objects/{}/{}", &blob[..2], &blob[2..])),
    )
    .expect("the blob is a loose object");
    let _ = std::fs::remove_dir_all(w.repo.join(".git/ocfork/diffs"));

    let out = w.run(&["diff", "broken", "--stat"]);
    let err = stderr(&out);
    exits_with(&out, 1, "git: ");
    no_command_line(&err);

    let out = w.run(&["merge", "a"]);
    let err = stderr(&out);
    exits_with(&out, 1, "could not compare the fork");
    assert!(err.contains("\n  git: "), "git's message under it: {err}");
    no_command_line(&err);
}

#[test]
fn report_shows_a_nested_repository_as_a_subproject() {
    let mut rule = writes("Use a", &[("a.txt", "a\n")]);
    rule.steps.insert(
        0,
        bash("git init -q nested && cd nested && echo n > n.txt && git add n.txt && git commit -q -m nested"),
    );
    let w = suite_world(vec![rule]);
    let run = w.try_json(0, &["-n", "sub", "a=Use a"]);
    let a = fork(&run, "a");
    assert_eq!(a["state"], "done", "{a:#}");
    let commit = a["commit"].as_str().expect("commit");
    let tree = w.git(&["ls-tree", commit, "nested"]);
    assert!(tree.starts_with("160000 commit "), "a gitlink: {tree}");
    let id = tree.split_whitespace().nth(2).expect("id").to_string();

    let out = w.run(&["report", "sub"]);
    let page = ok(&out);
    assert!(page.contains("nested"), "the entry is listed");
    assert!(page.contains(&format!("Subproject commit {id}")), "{page}");
    assert!(page.contains("a.txt"), "other files still show");
}
