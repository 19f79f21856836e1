//! A run's life beyond the happy path: live status from another process, Ctrl-C, `--detach`
//! with `wait`, and `--server` with a server the user runs. (A fork's `--timeout` on a hung
//! model is `faults_model::hung_model_call_times_out_and_the_session_is_stopped`.)

use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

#[test]
fn ctrl_c_aborts_commits_and_exits_130() {
    let w = World::with_delay(
        script(vec![writes(
            "Go",
            &[("first.txt", "1"), ("second.txt", "2"), ("third.txt", "3")],
        )]),
        Duration::from_millis(1500),
    );
    let child = w.spawn(
        &["try", "--json", "-n", "stop", "a=Go"],
        Stdio::piped(),
        Stdio::piped(),
    );
    let wt = w.path("app.ocfork/stop/a");
    assert!(
        wait_until(Duration::from_secs(120), || wt.join("first.txt").exists()).is_some(),
        "timed out waiting for the first file"
    );

    // Another process sees the run live.
    let live = json(&w.run(&["status", "stop", "--json"]));
    assert_eq!(live["state"], "running");
    assert_eq!(live["forks"][0]["state"], "running");
    assert!(
        live["forks"][0]["session"]
            .as_str()
            .is_some_and(|s| s.starts_with("ses"))
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("signal");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "stderr: {}", stderr(&out));
    let run = json(&out);
    let fork = &run["forks"][0];
    assert_eq!(fork["state"], "cancelled");
    assert_eq!(fork["end"], "cancelled");
    assert_eq!(run["state"], "cancelled");
    // Said in plain words, not "a cancelled: cancelled".
    let err = stderr(&out);
    assert!(
        err.contains("ocfork: a cancelled: stopped by Ctrl-C"),
        "{err}"
    );
    let commit = fork["commit"].as_str().expect("work committed");
    let files = w.git(&["show", "--name-only", "--format=", commit]);
    assert!(files.contains("first.txt"), "{files}");
    assert!(!files.contains("third.txt"), "{files}");
    // The saved record says the same, and nobody drives it any more.
    let saved = json(&w.run(&["status", "stop", "--json"]));
    assert_eq!(saved["forks"][0]["state"], "cancelled");
    assert_eq!(saved["state"], "cancelled");
}

#[test]
fn detach_then_wait() {
    let w = World::with_delay(
        script(vec![writes("Use Redux", &[("r.txt", "r")])]),
        Duration::from_millis(500),
    );
    std::fs::write(w.path("task.md"), "Add a store\nin two lines").expect("write");
    let task_file = w.path("task.md");
    let (starts, opencode) = w.counting_opencode();
    w.seed_opencode_deps();
    let mut cmd = w.ocfork();
    cmd.env("OCFORK_OPENCODE", &opencode).args([
        "try",
        "--detach",
        "--json",
        "-n",
        "bg",
        "--task-file",
        task_file.to_str().expect("utf-8"),
        "redux=Use Redux",
    ]);
    let out = cmd.output().expect("ocfork runs");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let dispatched = json(&out);
    assert_eq!(dispatched["run"], "bg");
    assert_eq!(dispatched["task"], "Add a store\nin two lines");

    let out = w.run(&["wait", "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let run = json(&out);
    assert_eq!(run["state"], "done");
    assert_eq!(run["forks"][0]["state"], "done");
    assert_eq!(
        run["forks"][0]["prompt"],
        "Add a store\nin two lines\n\nUse Redux"
    );
    let commit = run["forks"][0]["commit"].as_str().expect("commit");
    assert_eq!(
        w.git(&["show", "--name-only", "--format=", commit]).trim(),
        "r.txt"
    );
    let listed = json(&w.run(&["list", "--json"]));
    assert_eq!(listed[0]["run"], "bg");
    assert_eq!(listed[0]["state"], "done");
    assert_eq!(listed[0]["forks"], 1);
    // The server that checked the agent and model drove the run: one start, not two.
    let starts = read(&starts);
    assert_eq!(starts.matches("serve").count(), 1, "{starts}");

    // A check that fails in the background is the command's own failure: its message and
    // exit code, and nothing recorded.
    let out = w.run(&[
        "try",
        "--detach",
        "-n",
        "bad",
        "-a",
        "nosuch",
        "x=Use Redux",
    ]);
    exits_with(&out, 2, "nosuch");
    let listed = json(&w.run(&["list", "--json"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
}

#[test]
fn uses_a_running_server() {
    let w = world(vec![writes("Use Redux", &[("r.txt", "r")])]);
    // `opencode serve` started by the test itself, as a user would.
    let server = crate::common::serve::Serve::start(&w, &[]);
    let out = w
        .ocfork()
        .env("OPENCODE_SERVER_PASSWORD", "wrong")
        .args([
            "try",
            "--server",
            &server.url,
            "-n",
            "wrongpw",
            "a=Use Redux",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let msg = stderr(&out);
    assert!(
        msg.contains(&server.url) && msg.contains("401: wrong or missing password"),
        "{msg}"
    );
    // Nothing was recorded for the refused run.
    assert_eq!(json(&w.run(&["list", "--json"])), serde_json::json!([]));
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");

    let out = server.ocfork(
        &w,
        &[
            "try",
            "--json",
            "--server",
            &server.url,
            "-n",
            "served",
            "a=Use Redux",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let run = json(&out);
    assert_eq!(run["forks"][0]["state"], "done");
    let wt = worktree_of(&run["forks"][0]);
    assert_eq!(read(wt.join("r.txt")), "r");
    // A run name is used once.
    let again = server.ocfork(
        &w,
        &[
            "try",
            "--server",
            &server.url,
            "-n",
            "served",
            "a=Use Redux",
        ],
    );
    exits_with(&again, 2, "a run named `served` already exists");
    // The user's server is still up afterwards: ocfork only stops servers it started.
    assert!(std::net::TcpStream::connect(server.url.trim_start_matches("http://")).is_ok());
}
