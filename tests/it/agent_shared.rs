//! Agents reaching beyond their worktree into git state every worktree shares (the stash,
//! the branch list) and into the main tree: ocfork stops what OpenCode lets it stop, says what
//! changed at the end of the run, and keeps what was moved recoverable.

use crate::common::*;

#[test]
fn an_agent_meddling_with_shared_state_is_reported_and_the_stash_kept() {
    let w = World::new(script(vec![])).on_suite_server();
    let app = w.repo.join("src/app.js");
    let meddle = Rule {
        steps: vec![
            bash("git stash pop"),
            bash("git update-ref refs/heads/agent-made HEAD"),
            bash("cd \"$(git rev-parse --git-common-dir)/..\" && echo meddled >> README.md"),
            Step {
                tool: "write".into(),
                args: serde_json::json!({
                    "filePath": app.to_string_lossy(),
                    "content": "hijacked\n",
                }),
            },
        ],
        ..writes("Use meddle", &[])
    };
    w.model.set_script(script(vec![meddle]));
    // The user has a stash from before the run.
    std::fs::write(&app, "console.log('mine');\n").expect("write");
    w.git(&["stash", "-q"]);
    let stash = w.git(&["rev-parse", "refs/stash"]).trim().to_string();

    let out = w.try_run(0, &["-n", "m", "-t", "task", "meddle=Use meddle"]);
    let run = json(&out);
    let err = stderr(&out);
    // OpenCode refused the write outside the worktree.
    assert_eq!(read(&app), "console.log('app');\n");
    // What it could not stop is said, in the run's JSON and on stderr.
    let warnings = run["warnings"].as_array().expect("warnings").clone();
    let said = |what: &str| {
        assert!(
            warnings
                .iter()
                .any(|w| w.as_str().is_some_and(|s| s.contains(what))),
            "no warning about {what}: {warnings:#?}"
        );
        assert!(err.contains(what), "stderr says nothing of {what}: {err}");
    };
    said("stash");
    said("agent-made");
    said("README.md");
    // The popped stash is still to be had.
    let kept = w.git(&["for-each-ref", "--format=%(objectname)", "refs/ocfork/"]);
    assert!(kept.contains(&stash), "stash {stash} not kept: {kept}");
    let status = w.run(&["status", "m"]);
    assert!(
        stdout(&status).contains("agent-made"),
        "{}",
        stdout(&status)
    );
}
