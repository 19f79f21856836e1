//! Iterating on a fork: `continue` (a follow-up committed on the branch), `open`, `attach`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::common::*;

#[test]
fn continue_adds_a_commit_and_open_attach_find_the_fork() {
    let w = world(vec![
        writes("Use Redux", &[("src/store.js", "// redux store\n")]),
        writes("Also add tests", &[("src/store.test.js", "// tests\n")]),
    ]);
    let first = w.try_json(0, &["-n", "todo", "redux=Use Redux", "mobx=Use MobX"]);
    let fork = &first["forks"][0];
    let c1 = fork["commit"].as_str().expect("commit").to_string();
    let session = fork["session"].as_str().expect("session").to_string();
    let wt = worktree_of(fork);

    let out = w.run(&["continue", "redux", "Also add tests", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = json(&out);
    let fork = &run["forks"][0];
    assert_eq!(fork["state"], "done");
    assert_eq!(fork["session"], session.as_str(), "same session");
    assert_eq!(
        fork["prompt"], first["forks"][0]["prompt"],
        "first prompt kept"
    );
    assert_eq!(fork["follow_ups"], serde_json::json!(["Also add tests"]));
    let c2 = fork["commit"].as_str().expect("commit");
    assert_ne!(c2, c1);
    assert_eq!(
        w.git(&["rev-parse", &format!("{c2}^")]).trim(),
        c1,
        "one new commit on top"
    );
    assert_eq!(w.git(&["rev-parse", "ocfork/todo/redux"]).trim(), c2);
    assert_eq!(
        w.git(&["diff", "--name-only", &c1, c2]).trim(),
        "src/store.test.js",
        "the follow-up's work"
    );
    assert!(
        w.git(&["log", "-1", "--format=%B", c2])
            .contains("Also add tests")
    );
    assert_eq!(fork["files_changed"], 2, "totals against the base");
    assert_eq!(
        run["forks"][1]["commit"], first["forks"][1]["commit"],
        "other fork untouched"
    );
    let follow_ups: Vec<_> = w
        .model
        .requests()
        .into_iter()
        .filter(|r| r.agent_turn && r.last_user.contains("Also add tests"))
        .collect();
    assert!(!follow_ups.is_empty());
    assert!(
        follow_ups
            .iter()
            .all(|r| r.session.as_deref().is_none_or(|s| s == session))
    );

    // open: FORK and RUN/FORK; unknown names are listed.
    for reference in ["redux", "todo/redux"] {
        let out = w.run(&["open", reference]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(PathBuf::from(stdout(&out).trim()), wt);
    }
    let out = w.run(&["open", "todo/nope"]);
    exits_with(&out, 2, "nope");
    assert!(stderr(&out).contains("redux, mobx"), "{}", stderr(&out));
    assert_eq!(
        w.run(&["continue", "nope/redux", "x"]).status.code(),
        Some(2)
    );

    // attach runs `opencode <worktree> --session <id>` in the worktree.
    let out = w.run(&["attach", "redux", "--print"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .trim()
            .ends_with(&format!("--session {session}")),
        "{}",
        stdout(&out)
    );
    let fake = w.path("fake-opencode");
    let log = w.path("argv.txt");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\n[ \"$1\" = --version ] && echo 1.18.33 && exit 0\nprintf '%s\\n' \"$PWD\" \"$@\" > '{}'\n",
            log.display()
        ),
    )
    .expect("write");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = w
        .ocfork()
        .args(["attach", "todo/redux"])
        .env("OCFORK_OPENCODE", &fake)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let argv = read(&log);
    let wt_s = wt.display().to_string();
    assert_eq!(
        argv.lines().collect::<Vec<_>>(),
        vec![wt_s.as_str(), wt_s.as_str(), "--session", session.as_str()]
    );
}
