//! `ocfork try` end to end: real git, real OpenCode, scripted model.

use crate::common::*;

#[test]
fn two_approaches_json() {
    let w = world(vec![
        writes("Use Redux", &[("src/store.js", "// redux store\n")]),
        writes(
            "Use the Context API",
            &[("src/context.js", "// context store\n")],
        ),
    ]);
    let status_before = w.git(&["status", "--porcelain"]);
    let out = w.run(&[
        "try",
        "--json",
        "-t",
        "Add a todo store in src/",
        "redux=Use Redux",
        "context=Use the Context API",
    ]);
    let run = json(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(run["schema"], 1);
    assert_eq!(run["state"], "done");
    let forks = forks_of(&run, 2);
    for (fork, file) in [(&forks[0], "src/store.js"), (&forks[1], "src/context.js")] {
        assert_eq!(fork["state"], "done", "{fork}");
        let commit = fork["commit"].as_str().expect("commit");
        let files = w.git(&["diff-tree", "--no-commit-id", "--name-only", "-r", commit]);
        assert_eq!(files.trim(), file);
        assert_eq!(fork["files_changed"], 1);
    }
    assert_eq!(w.git(&["status", "--porcelain"]), status_before);
    let prompts: Vec<String> = w
        .model
        .requests()
        .iter()
        .filter(|r| r.agent_turn)
        .map(|r| r.last_user.clone())
        .collect();
    assert!(
        prompts
            .iter()
            .any(|p| p.contains("Add a todo store in src/") && p.contains("Use Redux"))
    );
    assert!(prompts.iter().any(|p| p.contains("Use the Context API")));
    let worktrees = w.git(&["worktree", "list"]);
    assert!(
        worktrees.contains("ocfork/redux-vs-context/redux"),
        "{worktrees}"
    );
    assert!(
        worktrees.contains("ocfork/redux-vs-context/context"),
        "{worktrees}"
    );
}

#[test]
fn works_from_a_subdirectory_on_a_detached_head() {
    let w = world(vec![writes("Go", &[("done.txt", "done")])]);
    w.git(&["checkout", "-q", "--detach", "HEAD"]);
    let head = w.git(&["rev-parse", "HEAD"]);
    w.seed_opencode_deps();
    let out = w
        .ocfork_in(&w.repo.join("src"))
        .args(["try", "--json", "a=Go"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let run = json(&out);
    assert_eq!(run["base"].as_str(), Some(head.trim()));
    assert_eq!(run["repo"].as_str(), Some(w.repo.to_str().expect("utf-8")));
    // Paths the agent writes are relative to the worktree root, not to where ocfork ran.
    let wt = worktree_of(&run["forks"][0]);
    assert!(wt.join("done.txt").exists());
    assert!(
        !wt.starts_with(&w.repo),
        "worktree {} is inside the main tree",
        wt.display()
    );
    // Without a terminal, progress is plain lines on stderr; stdout holds only the JSON.
    assert!(
        stderr(&out).contains("ocfork: a running"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("ocfork: a done"), "{}", stderr(&out));
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(w.git(&["status", "--porcelain"]), "");
}
