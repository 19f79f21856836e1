//! `session fork` when the user's OpenCode goes away mid-fork: the fork is committed, left
//! `interrupted`, and `resume` finishes it on a server of its own.

use crate::common::serve::{Serve, text_of};
use crate::common::session::{answered_by, session_call};
use crate::common::*;

/// The user quits OpenCode (here its server is killed) while a fork made with the tool is
/// working: the background ocfork notices within seconds, commits what is in the worktree,
/// leaves the fork `interrupted`, and `resume` finishes it on a server of its own.
#[test]
fn a_fork_whose_server_is_gone_is_interrupted_and_resumed() {
    let script = Script {
        rules: vec![
            session_call(
                "Fork it",
                &[("fork", Some("build"), "Implement after a pause")],
            ),
            Rule {
                fail: Some(ocfork_scripted::Failure {
                    hang: true,
                    times: Some(1),
                    ..Default::default()
                }),
                ..writes("Implement after a pause", &[("src/out.js", "// early\n")])
            },
            writes(
                "the previous run was interrupted",
                &[("src/out.js", "// done\n")],
            ),
        ],
        default_reply: "ok".into(),
    };
    let w = World::new(script);
    let srv = Serve::start(&w, &[]);
    let s = srv.create_session(&w.repo);
    srv.prompt(&s, &w.repo, "build", "Fork it");
    srv.wait_for(&s, &w.repo, "the parent's turn", |m| {
        m.last()
            .is_some_and(|m| answered_by(m, "build") && text_of(m).contains("Handed over"))
    });
    let run = ocfork::relay::fork_run_name(&s);
    let hung = |w: &World| {
        w.model
            .requests()
            .iter()
            .any(|r| r.agent_turn && r.rule.as_deref() == Some("Implement after a pause"))
    };
    crate::common::wait_until(std::time::Duration::from_secs(120), || {
        hung(&w).then_some(())
    })
    .expect("the fork's model call is hanging");
    let fork = json(&w.run(&["status", &run, "--json"]))["forks"][0].clone();
    assert_eq!(fork["state"], "running", "{fork}");
    let relay = fork["driver"]["pid"].as_u64().expect("driver pid") as u32;
    let session = fork["session"].clone();
    let worktree = std::path::PathBuf::from(fork["worktree"].as_str().expect("worktree"));
    std::fs::write(worktree.join("partial.txt"), "half done\n").expect("write");
    drop(srv);

    let fork = crate::common::wait_until(std::time::Duration::from_secs(60), || {
        let f = json(&w.run(&["status", &run, "--json"]))["forks"][0].clone();
        (f["state"] != "running").then_some(f)
    })
    .expect("the fork stops waiting on the gone server");
    assert_eq!(fork["state"], "interrupted", "{fork}");
    let error = fork["error"].as_str().unwrap_or_default();
    assert!(error.contains("refuses connections"), "{error}");
    let branch = fork["branch"].as_str().expect("branch");
    assert_eq!(
        w.git(&["show", &format!("{branch}:partial.txt")]),
        "half done\n"
    );
    crate::common::wait_until(std::time::Duration::from_secs(20), || {
        (!crate::common::procs::alive(relay)).then_some(())
    })
    .expect("the background ocfork ends");

    let out = w.run(&["resume", &run, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fork = &json(&out)["forks"][0];
    assert_eq!(fork["state"], "done", "{fork}");
    assert_eq!(fork["session"], session, "resumed on its own session");
    assert_eq!(
        w.git(&["show", &format!("{branch}:src/out.js")]),
        "// done\n"
    );
    assert_eq!(
        w.git(&["show", &format!("{branch}:partial.txt")]),
        "half done\n"
    );
}
