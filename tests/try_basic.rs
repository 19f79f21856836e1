//! `ocfork try` end to end: real git, real OpenCode, scripted model.

mod common;

use common::*;

#[test]
fn two_approaches_json() {
    let script = Script {
        rules: vec![
            writes("Use Redux", &[("src/store.js", "// redux store\n")]),
            writes(
                "Use the Context API",
                &[("src/context.js", "// context store\n")],
            ),
        ],
        default_reply: "ok".into(),
    };
    let Some(w) = World::new(script) else { return };
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
    let forks = run["forks"].as_array().expect("forks");
    assert_eq!(forks.len(), 2);
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
