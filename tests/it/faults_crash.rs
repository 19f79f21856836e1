//! Crashes: `kill -9` of `try` and of the detached driver, and of the OpenCode server, mid-run;
//! then `resume` continues the same sessions in a new server and leaves finished forks alone.

use std::process::Stdio;
use std::time::Duration;

use crate::common::procs::{alive, group, kill9};
use crate::common::*;
use serde_json::Value;

const CONTINUE: &str = "Continue the task; the previous run was interrupted.";

/// `quick` writes one file; `slow` writes many, one per (delayed) model call; a continued
/// session writes `resumed.txt`.
fn crash_rules() -> Vec<Rule> {
    vec![
        writes("Continue the task", &[("resumed.txt", "resumed\n")]),
        writes("Use quick", &[("quick.txt", "quick\n")]),
        writes_numbered("Use slow", 40, |i| {
            (format!("s{i}.txt"), format!("step {i}\n"))
        }),
    ]
}

fn slow_world() -> World {
    World::with_delay(script(crash_rules()), Duration::from_millis(600))
}

fn status(w: &World, run: &str) -> Value {
    let out = w.run(&["status", run, "--json"]);
    assert_eq!(out.status.code(), Some(0), "status: {}", stderr(&out));
    json(&out)
}

/// Waits until `check` holds for the run's status; panics with the last status otherwise.
fn wait_status(w: &World, run: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    wait_until(Duration::from_secs(90), || {
        let out = w.run(&["status", run, "--json"]);
        if out.status.success() {
            last = json(&out);
            if check(&last) {
                return Some(last.clone());
            }
        }
        None
    })
    .unwrap_or_else(|| panic!("timed out waiting for {what}; last status: {last:#}"))
}

fn worktree_has(run: &Value, fork_name: &str, file: &str) -> bool {
    let wt = fork(run, fork_name)["worktree"]
        .as_str()
        .unwrap_or_default();
    std::path::Path::new(wt).join(file).exists()
}

fn server_pid(run: &Value) -> u32 {
    run["spawned_server"]["pid"]
        .as_u64()
        .expect("spawned_server.pid in the manifest") as u32
}

/// The server and everything in its process group die with ocfork.
fn assert_server_gone(pid: u32) {
    let gone = wait_until(Duration::from_secs(10), || {
        !alive(pid) && group(pid).is_empty()
    });
    assert!(
        gone.is_some(),
        "opencode serve (pid {pid}) outlived ocfork; its group: {:?}",
        group(pid)
    );
}

#[test]
fn kill9_try_then_resume_continues_same_session() {
    let w = slow_world();
    let mut child = w.spawn(
        &["try", "-n", "crash", "quick=Use quick", "slow=Use slow"],
        Stdio::null(),
        Stdio::null(),
    );
    let before = wait_status(&w, "crash", "quick done and slow mid-run", |r| {
        fork(r, "quick")["state"] == "done"
            && fork(r, "slow")["state"] == "running"
            && worktree_has(r, "slow", "s2.txt")
    });
    let server = server_pid(&before);
    assert!(alive(server));
    kill9(child.id());
    let _ = child.wait();
    assert_server_gone(server);

    let after = status(&w, "crash");
    assert_eq!(fork(&after, "slow")["state"], "interrupted", "{after:#}");
    assert_eq!(fork(&after, "quick")["state"], "done");
    assert_eq!(after["state"], "failed");
    let session = fork(&after, "slow")["session"]
        .as_str()
        .expect("slow has a session")
        .to_string();
    let quick_commit = fork(&after, "quick")["commit"].clone();
    let quick_session = fork(&after, "quick")["session"].clone();

    let out = w.run(&["resume", "crash", "--json"]);
    assert_eq!(out.status.code(), Some(0), "resume: {}", stderr(&out));
    let resumed = json(&out);
    assert_eq!(resumed["state"], "done", "{resumed:#}");
    let slow = fork(&resumed, "slow");
    assert_eq!(slow["state"], "done");
    assert_eq!(
        slow["session"],
        session.as_str(),
        "the same session is continued"
    );
    assert_eq!(slow["error"], Value::Null);
    let files = files_at(&w.repo, slow["commit"].as_str().expect("slow commit"));
    for f in ["s1.txt", "s2.txt", "resumed.txt"] {
        assert!(
            files.contains(&f.to_string()),
            "{f} missing from the slow fork's commit: {files:?}"
        );
    }
    assert_eq!(
        fork(&resumed, "quick")["commit"],
        quick_commit,
        "finished forks are left alone"
    );

    let requests = w.model.requests();
    let continued: Vec<_> = requests
        .iter()
        .filter(|r| r.agent_turn && r.last_user == CONTINUE)
        .collect();
    assert!(
        !continued.is_empty(),
        "the continuation prompt reached the model"
    );
    assert!(
        continued
            .iter()
            .all(|r| r.session.as_deref() == Some(session.as_str())),
        "only the slow fork's session is continued: {continued:?}"
    );
    assert!(
        !continued
            .iter()
            .any(|r| Some(r.session.clone().unwrap_or_default())
                == quick_session.as_str().map(str::to_string))
    );
    // Nothing is left registered twice or dangling.
    assert_eq!(w.git(&["worktree", "prune", "--dry-run", "-v"]), "");
}

#[test]
fn kill9_detached_driver_leaves_no_server_and_marks_interrupted() {
    let w = slow_world();
    let out = w.run(&["try", "--detach", "-n", "bg", "slow=Use slow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let running = wait_status(&w, "bg", "slow mid-run", |r| {
        worktree_has(r, "slow", "s1.txt")
    });
    let driver = running["pid"].as_u64().expect("driver pid") as u32;
    let server = server_pid(&running);
    assert_ne!(driver, 0);
    kill9(driver);
    assert_server_gone(server);

    let out = w.run(&["wait", "bg", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let run = json(&out);
    assert_eq!(fork(&run, "slow")["state"], "interrupted");
    assert_eq!(run["state"], "failed");
    let table = stdout(&w.run(&["status", "bg"]));
    assert!(table.contains("interrupted"), "{table}");
}

#[test]
fn server_death_fails_running_forks_with_work_committed_then_resume() {
    let w = slow_world();
    let child = w.spawn(
        &["try", "--json", "-n", "sd", "a=Use slow A", "b=Use slow B"],
        Stdio::piped(),
        Stdio::piped(),
    );
    let running = wait_status(&w, "sd", "both forks mid-run", |r| {
        worktree_has(r, "a", "s1.txt") && worktree_has(r, "b", "s1.txt")
    });
    let server = server_pid(&running);
    kill9(server);
    let run = json_at_exit(child, 1);
    for name in ["a", "b"] {
        let f = fork(&run, name);
        assert_eq!(f["state"], "failed", "{f:#}");
        // The typed reason `resume` reads; the words stay for people.
        assert_eq!(f["end"], "server_exited", "{f:#}");
        let error = f["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("OpenCode server exited ("), "{error}");
        assert!(
            error.contains("SIGKILL") || error.contains("signal: 9"),
            "{error}"
        );
        let files = files_at(&w.repo, f["commit"].as_str().expect("work committed"));
        assert!(files.contains(&"s1.txt".to_string()), "{files:?}");
    }
    assert!(!alive(server));

    let out = w.run(&["resume", "--json"]);
    assert_eq!(out.status.code(), Some(0), "resume: {}", stderr(&out));
    let resumed = json(&out);
    for name in ["a", "b"] {
        let f = fork(&resumed, name);
        assert_eq!(f["state"], "done", "{f:#}");
        assert_eq!(f["session"], fork(&run, name)["session"]);
        let files = files_at(&w.repo, f["commit"].as_str().expect("commit"));
        assert!(files.contains(&"resumed.txt".to_string()), "{files:?}");
    }
    // Nothing left to resume.
    let out = w.run(&["resume", "sd"]);
    exits_with(&out, 0, "nothing to resume");
}

#[test]
fn ctrl_c_ends_a_run_whose_server_stopped_answering() {
    let w = slow_world();
    // ocfork's limits at 0.4: the stop's whole bound is 4 s instead of 10.
    w.seed_opencode_deps();
    let child = w
        .ocfork()
        .env("OCFORK_TEST_TIMEOUT_SCALE", "0.4")
        .args(["try", "--json", "-n", "frozen", "a=Use slow A"])
        .in_background();
    let running = wait_status(&w, "frozen", "the fork mid-run", |r| {
        worktree_has(r, "a", "s1.txt")
    });
    // The server is alive but answers nothing, as OpenCode does when it stalls.
    let server = server_pid(&running);
    let stop = std::process::Command::new("kill")
        .args(["-STOP", &server.to_string()])
        .status()
        .expect("kill runs");
    assert!(stop.success());
    std::thread::sleep(Duration::from_secs(1));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("signal");
    // One Ctrl-C is enough: ocfork gives up on the silent server within seconds, not after
    // its two-minute request timeout.
    let pid = child.id();
    let ended = wait_until(Duration::from_secs(60), || !alive(pid));
    if ended.is_none() {
        kill9(pid);
        kill9(server);
        panic!("ocfork was still waiting on the stopped server 60 s after Ctrl-C");
    }
    let run = json_at_exit(child, 130);
    let f = fork(&run, "a");
    assert_eq!(f["state"], "cancelled", "{f:#}");
    let files = files_at(&w.repo, f["commit"].as_str().expect("work committed"));
    assert!(files.contains(&"s1.txt".to_string()), "{files:?}");
    assert_server_gone(server);
}
