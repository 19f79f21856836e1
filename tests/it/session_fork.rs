//! `session fork` end to end: forking a session into worktrees and a run, long and odd texts.

use crate::common::serve::{Serve, describe, session_calls, state, text_of};
use crate::common::session::{answered_by, is_user_text, session_call, wait_run};
use crate::common::*;
use serde_json::json;

/// A world whose parent turn ("Plan the todo store") takes `first` steps, then forks for Redux
/// (answered by `redux`) and for the Context API (writes `src/context.js`).
pub(crate) fn fork_twice_world(first: Vec<Step>, redux: Rule) -> World {
    let fork = |text: &str| Step {
        tool: "session".into(),
        args: json!({ "mode": "fork", "agent": "build", "text": text }),
    };
    let mut steps = first;
    steps.push(fork("Implement using Redux"));
    steps.push(fork("Implement using Context API"));
    world(vec![
        Rule {
            when: "Plan the todo store".into(),
            model: None,
            steps,
            reply: "Forked twice.".into(),
            fail: None,
        },
        redux,
        writes(
            "Implement using Context API",
            &[("src/context.js", "// context\n")],
        ),
    ])
}

/// Waits for the parent's turn of a [`fork_twice_world`] in session `s` to end with its
/// `session` calls completed, then for the run its forks made to end `done`: its name and status.
pub(crate) fn forked_twice(srv: &Serve, w: &World, s: &str) -> (String, serde_json::Value) {
    let messages = srv.wait_for(s, &w.repo, "the parent's turn", |m| {
        m.last()
            .is_some_and(|m| answered_by(m, "build") && text_of(m).contains("Forked twice"))
    });
    for call in session_calls(&messages) {
        assert_eq!(state(call, "status"), "completed", "{call}");
    }
    let run = ocfork::relay::fork_run_name(s);
    let status = wait_run(srv, w, &run);
    assert_eq!(status["state"], "done", "{status}");
    (run, status)
}

#[test]
fn fork_twice_makes_two_worktrees_and_a_run() {
    let shared = Step {
        tool: "write".into(),
        args: json!({ "filePath": "src/shared.js", "content": "// shared\n" }),
    };
    let w = fork_twice_world(
        vec![shared],
        writes("Implement using Redux", &[("src/redux.js", "// redux\n")]),
    );
    let (srv, s) = Serve::prompted(&w, &[], "Plan the todo store");
    let (run, status) = forked_twice(&srv, &w, &s);
    let forks = forks_of(&status, 2);
    for (fork, name, file) in [
        (&forks[0], "implement-using-redux", "src/redux.js"),
        (&forks[1], "implement-using-context-api", "src/context.js"),
    ] {
        assert_eq!(fork["name"], name);
        assert_eq!(fork["state"], "done", "{fork}");
        assert_eq!(fork["branch"], format!("ocfork/{run}/{name}"));
        let worktree = worktree_of(fork);
        assert!(worktree.join(file).is_file());
        assert!(
            worktree.join("src/shared.js").is_file(),
            "the parent's uncommitted file is in the fork"
        );
        let commit = fork["commit"].as_str().expect("commit");
        let files = w.git(&["diff-tree", "--no-commit-id", "--name-only", "-r", commit]);
        assert_eq!(files.trim(), file);
        assert_eq!(fork["files_changed"], 1);
        // The fork's session lives in the worktree and starts with the parent's history.
        let session = fork["session"].as_str().expect("session");
        let info = srv
            .block(srv.client().session(session, None))
            .expect("fork session");
        assert_eq!(info.directory.as_deref(), Some(worktree.to_str().unwrap()));
        let history = srv.messages(session, &worktree);
        assert!(
            is_user_text(&history[0], "Plan the todo store"),
            "{}",
            describe(&history)
        );
        assert!(
            history
                .iter()
                .any(|m| is_user_text(m, fork["prompt"].as_str().unwrap()))
        );
    }
    // The parent's directory has only what the parent wrote.
    assert!(w.repo.join("src/shared.js").is_file());
    assert!(!w.repo.join("src/redux.js").exists());
    assert!(!w.repo.join("src/context.js").exists());
    assert_eq!(w.git(&["status", "--porcelain"]).trim(), "?? src/shared.js");
    let worktrees = w.git(&["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 3, "{worktrees}");
    // `ocfork diff` compares them like the forks of any run.
    let out = w.run(&["diff", &run, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let diff = json(&out);
    let files: Vec<(String, Vec<String>)> = diff["forks"]
        .as_array()
        .expect("forks")
        .iter()
        .map(|f| {
            let paths = f["files"].as_array().unwrap().iter();
            let paths = paths.map(|p| p["path"].as_str().unwrap().to_string());
            (f["name"].as_str().unwrap().to_string(), paths.collect())
        })
        .collect();
    assert_eq!(
        files,
        [
            (
                "implement-using-redux".to_string(),
                vec!["src/redux.js".to_string()]
            ),
            (
                "implement-using-context-api".to_string(),
                vec!["src/context.js".to_string()]
            ),
        ]
    );
    // `ocfork status` and `list` see the run like any other.
    let out = w.run(&["list", "--json"]);
    assert!(
        json(&out)
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["run"] == run.as_str())
    );

    // The parent's files changed since: a third fork starts from a different tree, so it opens
    // a run of its own, and diff measures it from that tree (not the new file's addition).
    std::fs::write(w.repo.join("src/later.js"), "// later\n").expect("write");
    let out = srv.session(
        &w,
        "fork",
        &s,
        &["--agent", "build", "--json", "Implement using Redux"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = format!("{run}-2");
    let out = w.run(&["status", &second, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status = json(&out);
    assert_eq!(
        status["forks"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
    assert_eq!(status["forks"][0]["state"], "done", "{status}");
    let out = w.run(&["diff", &second, "--json"]);
    let diff = json(&out);
    let paths = paths_in(&diff["forks"][0]["files"]);
    assert_eq!(paths, vec!["src/redux.js"], "{diff}");
    // The first run still has its two forks, measured from its own start.
    let first = json(&w.run(&["status", &run, "--json"]));
    assert_eq!(first["forks"].as_array().map(Vec::len), Some(2));
}

/// A text past the kernel's 128 KiB limit on one argument, which the plugin and ocfork pass
/// on through pipes; values the schema does not allow stop in the plugin; a fork's shell
/// commands do not see the server's password; forks go in the configured worktree folder.
#[test]
fn long_texts_odd_values_the_password_and_the_worktree_folder() {
    let filler = "Keep every line of this plan. ".repeat(5000);
    let long = format!("Implement the long plan\n{filler}");
    let longer = format!("Implement the longer plan\n{filler}{filler}");
    assert!(long.len() > 128 * 1024);
    let mut fork = writes("Implement the long plan", &[("src/long.js", "// long\n")]);
    fork.steps.push(Step {
        tool: "bash".into(),
        args: json!({"command": "env > envdump.txt", "description": "Dump the environment"}),
    });
    let script = Script {
        rules: vec![
            session_call(
                "Fork a long one",
                &[
                    ("--server=http://127.0.0.1:9/", None, "hello"),
                    ("message", Some("--server=http://127.0.0.1:9/"), "hello"),
                    ("fork", Some("build"), &long),
                ],
            ),
            fork,
            writes(
                "Implement the longer plan",
                &[("src/longer.js", "// longer\n")],
            ),
        ],
        default_reply: "ok".into(),
    };
    let w = World::new(script);
    std::fs::write(
        w.repo.join(".ocfork.toml"),
        "worktree_root = \"../trees\"\n",
    )
    .expect("write");
    w.git(&["add", ".ocfork.toml"]);
    w.git(&["commit", "-q", "-m", "worktree folder"]);
    let srv = Serve::start(&w, &[]);
    let s = srv.create_session(&w.repo);
    srv.prompt(&s, &w.repo, "build", "Fork a long one");
    let messages = srv.wait_for(&s, &w.repo, "the parent's turn", |m| {
        m.last().is_some_and(|m| {
            answered_by(m, "build") && text_of(m).contains("Handed over (Fork a long one)")
        })
    });
    let calls = session_calls(&messages);
    assert_eq!(calls.len(), 3, "{}", describe(&messages));
    let outcome = |c: &serde_json::Value| {
        let status = c.pointer("/state/status").and_then(|v| v.as_str());
        let error = c.pointer("/state/error").and_then(|v| v.as_str());
        (
            status.unwrap_or_default().to_string(),
            error.unwrap_or_default().to_string(),
        )
    };
    let (status, error) = outcome(calls[0]);
    assert_eq!(status, "error");
    assert!(
        error.contains(
            "unknown mode \"--server=http://127.0.0.1:9/\"; modes: message, new, compact, fork"
        ),
        "{error}"
    );
    let (status, error) = outcome(calls[1]);
    assert_eq!(status, "error");
    assert!(
        error.contains("unknown agent \"--server=http://127.0.0.1:9/\""),
        "{error}"
    );
    let (status, error) = outcome(calls[2]);
    assert_eq!(status, "completed", "{error}");

    // The same through the command line, text on stdin, under `umask 0`: the background
    // relay's log and folder are private all the same.
    let mut cmd = std::process::Command::new("sh");
    let base = w.ocfork();
    cmd.arg("-c")
        .arg("umask 0; exec \"$0\" \"$@\"")
        .arg(base.get_program());
    cmd.args(["session", "fork", "--session", &s, "--agent", "build"])
        .args(["--server", &srv.url, "--detach", "--json", "--stdin"])
        .current_dir(&w.repo);
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.env("OPENCODE_SERVER_PASSWORD", &srv.password);
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ocfork runs");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(longer.as_bytes()).expect("write the text");
    }
    let out = child.wait_with_output().expect("ocfork ends");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let run = ocfork::relay::fork_run_name(&s);
    let status = wait_run(&srv, &w, &run);
    let forks = status["forks"].as_array().expect("forks");
    for (fork, text, file) in [
        (&forks[0], &long, "src/long.js"),
        (&forks[1], &longer, "src/longer.js"),
    ] {
        assert_eq!(fork["state"], "done", "{}", fork["error"]);
        assert_eq!(fork["prompt"].as_str().map(str::len), Some(text.len()));
        let worktree = std::path::Path::new(fork["worktree"].as_str().expect("worktree"));
        let trees = w
            .path("trees")
            .join(&run)
            .canonicalize()
            .expect("configured folder");
        assert_eq!(
            worktree.parent().map(|p| p.canonicalize().expect("folder")),
            Some(trees)
        );
        let branch = fork["branch"].as_str().expect("branch");
        let files = w.git(&["diff-tree", "--no-commit-id", "--name-only", "-r", branch]);
        assert!(files.lines().any(|l| l == file), "{files}");
    }
    let branch = forks[0]["branch"].as_str().expect("branch");
    let dumped = w.git(&["show", &format!("{branch}:envdump.txt")]);
    assert!(dumped.contains("PWD="), "{dumped}");
    assert!(
        !dumped
            .lines()
            .any(|l| l.starts_with("OPENCODE_SERVER_PASSWORD")),
        "the fork's shell saw the password: {dumped}"
    );
    use std::os::unix::fs::PermissionsExt;
    let relay = w.path("xdg/state/ocfork/relay");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&relay), 0o700);
    let logs: Vec<_> = std::fs::read_dir(&relay)
        .expect("relay dir")
        .flatten()
        .collect();
    assert!(!logs.is_empty());
    for e in logs {
        assert_eq!(mode(&e.path()), 0o600, "{}", e.path().display());
    }
}
