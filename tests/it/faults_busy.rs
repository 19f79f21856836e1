//! A busy OpenCode server is not a dead one: a server stopped (SIGSTOP) mid-turn and
//! then continued finishes its forks `done` (session forks on the user's server, and `try` on
//! ocfork's own), while a killed one leaves its session forks `interrupted` with everything
//! already written committed, for `resume` to finish.

use std::time::Duration;

use crate::common::serve::{Serve, text_of};
use crate::common::session::answered_by;
use crate::common::*;
use nix::sys::signal::Signal;
use serde_json::{Value, json};

/// ocfork's time limits in these tests, scaled (`OCFORK_TEST_TIMEOUT_SCALE`) together with
/// [`STOPPED`], so the stop outlasts the same limits a 12.5 s stop outlasts at full scale.
const SCALE: (&str, &str) = ("OCFORK_TEST_TIMEOUT_SCALE", "0.4");
/// How long the server is stopped: at [`SCALE`], longer than two liveness probes (2 s each),
/// the wait for a refusing server's exit (3.2 s), a connection, a dispose and a usage read
/// (4 s each); as 12.5 s is at full scale.
const STOPPED: Duration = Duration::from_secs(5);
/// Files each slow fork writes, one per (delayed) model call.
const FILES: usize = 8;

/// A rule that writes `{prefix}1.txt` .. `{prefix}8.txt`, one per model call.
fn slow(when: &str, prefix: &str) -> Rule {
    writes_numbered(when, FILES, |i| {
        (format!("{prefix}{i}.txt"), format!("{prefix} step {i}\n"))
    })
}

fn all_files(prefix: &str) -> Vec<String> {
    (1..=FILES).map(|i| format!("{prefix}{i}.txt")).collect()
}

/// The parent ("Fork both ways") forks twice; fork A writes a1..a8, fork B b1..b8; a continued
/// session writes `resumed.txt`.
fn session_world() -> World {
    let fork = |text: &str| Step {
        tool: "session".into(),
        args: json!({ "mode": "fork", "agent": "build", "text": text }),
    };
    let rules = vec![
        writes("Continue the task", &[("resumed.txt", "resumed\n")]),
        Rule {
            when: "Fork both ways".into(),
            model: None,
            steps: vec![fork("Build it the A way"), fork("Build it the B way")],
            reply: "Forked both.".into(),
            fail: None,
        },
        slow("Build it the A way", "a"),
        slow("Build it the B way", "b"),
    ];
    World::with_delay(script(rules), Duration::from_millis(300))
}

const FORKS: [(&str, &str); 2] = [("build-it-the-a-way", "a"), ("build-it-the-b-way", "b")];

fn signal(pid: u32, sig: Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).expect("signal");
}

fn status(w: &World, run: &str) -> Option<Value> {
    let out = w.run(&["status", run, "--json"]);
    out.status.success().then(|| json(&out))
}

/// Waits until both forks of the run are working and have written their first file.
fn both_mid_turn(w: &World, run: &str) -> Value {
    let mut last = Value::Null;
    wait_until(Duration::from_secs(120), || {
        last = status(w, run)?;
        let forks = last["forks"].as_array()?;
        let mid = forks.len() == 2
            && FORKS.iter().all(|(name, prefix)| {
                let f = fork(&last, name);
                f["state"] == "running" && worktree_of(f).join(format!("{prefix}1.txt")).is_file()
            });
        mid.then(|| last.clone())
    })
    .unwrap_or_else(|| panic!("the forks did not start writing: {last:#}"))
}

/// Waits until no fork of the run is pending or running (the run's forks are all finished).
fn settled(w: &World, run: &str, limit: Duration) -> Value {
    let mut last = Value::Null;
    wait_until(limit, || {
        last = status(w, run)?;
        let forks = last["forks"].as_array()?;
        let over = forks.len() == 2
            && forks.iter().all(|f| {
                !["pending", "setup", "running", "checking"]
                    .contains(&f["state"].as_str().unwrap_or(""))
            });
        over.then(|| last.clone())
    })
    .unwrap_or_else(|| panic!("the forks did not finish: {last:#}"))
}

fn start_parent(w: &World) -> (Serve, String) {
    // The relays the plugin starts get the server's environment, the scale with it.
    let srv = Serve::start(w, &[SCALE]);
    let s = fork_both_ways(w, &srv);
    (srv, s)
}

/// A new parent session on `srv` that has forked both ways; its id.
fn fork_both_ways(w: &World, srv: &Serve) -> String {
    let s = srv.create_session(&w.repo);
    srv.prompt(&s, &w.repo, "build", "Fork both ways");
    srv.wait_for(&s, &w.repo, "the parent's turn", |m| {
        m.last()
            .is_some_and(|m| answered_by(m, "build") && text_of(m).contains("Forked both"))
    });
    s
}

/// The user's server is stopped (for [`STOPPED`]) while two session forks work on it, then
/// continued: ocfork waits for it, and both forks finish `done` with all their files on their
/// branches. Then the same server is killed while two more session forks work on it, after
/// each wrote files: neither is left `running`, both are `interrupted` with everything they
/// wrote committed, and `resume` finishes them on a server of its own. (One test: the server
/// a session fork needs is the user's, and the kill ends it.)
#[test]
fn session_forks_outlast_a_stopped_server_and_keep_their_work_when_it_is_killed() {
    let w = session_world();
    let (srv, s) = start_parent(&w);
    let run = ocfork::relay::fork_run_name(&s);
    both_mid_turn(&w, &run);
    signal(srv.pid(), Signal::SIGSTOP);
    std::thread::sleep(STOPPED);
    signal(srv.pid(), Signal::SIGCONT);

    let after = settled(&w, &run, Duration::from_secs(180));
    for (name, prefix) in FORKS {
        let f = fork(&after, name);
        assert_eq!(f["state"], "done", "{f:#}");
        let branch = f["branch"].as_str().expect("branch");
        let files = files_at(&w.repo, branch);
        for file in all_files(prefix) {
            assert!(files.contains(&file), "{file} not on {branch}: {files:?}");
        }
        let left = git(&worktree_of(f), &["status", "--porcelain"]);
        assert_eq!(left, "", "uncommitted work in {name}");
    }

    // The same server, killed while two more session forks work on it.
    let s = fork_both_ways(&w, &srv);
    let run = ocfork::relay::fork_run_name(&s);
    killed_mid_turn(&w, srv, &run);
}

/// Kills `srv` once both forks of session fork run `run` wrote two files, then checks they
/// end `interrupted` with their work committed and that `resume` finishes them.
fn killed_mid_turn(w: &World, srv: Serve, run: &str) {
    let mut last = Value::Null;
    wait_until(Duration::from_secs(120), || {
        last = status(w, run)?;
        let two = last["forks"].as_array().is_some_and(|f| f.len() == 2);
        (two && FORKS.iter().all(|(name, prefix)| {
            worktree_of(fork(&last, name))
                .join(format!("{prefix}2.txt"))
                .is_file()
        }))
        .then_some(())
    })
    .unwrap_or_else(|| panic!("the forks did not write two files: {last:#}"));
    drop(srv);
    // What the agents wrote before the kill (the server can write no more).
    let written: Vec<(String, Vec<String>)> = FORKS
        .iter()
        .map(|(name, prefix)| {
            let dir = worktree_of(fork(&last, name));
            let files = (1..=FILES)
                .map(|i| format!("{prefix}{i}.txt"))
                .filter(|f| dir.join(f).is_file())
                .collect();
            (name.to_string(), files)
        })
        .collect();

    let after = settled(w, run, Duration::from_secs(60));
    for (name, wrote) in &written {
        let f = fork(&after, name);
        assert_eq!(f["state"], "interrupted", "{f:#}");
        let branch = f["branch"].as_str().expect("branch");
        let files = files_at(&w.repo, branch);
        for file in wrote {
            assert!(files.contains(file), "{file} not on {branch}: {files:?}");
        }
        let left = git(&worktree_of(f), &["status", "--porcelain"]);
        assert_eq!(left, "", "uncommitted work in {name}");
    }
    // The background relays are gone before resume takes the run over.
    wait_until(Duration::from_secs(20), || {
        let out = w.run(&["resume", run, "--json"]);
        (!stderr(&out).contains("being driven by another")).then_some(out)
    })
    .map(|out| {
        assert_eq!(out.status.code(), Some(0), "resume: {}", stderr(&out));
        let resumed = json(&out);
        for (name, wrote) in &written {
            let f = fork(&resumed, name);
            assert_eq!(f["state"], "done", "{f:#}");
            let files = files_at(&w.repo, f["branch"].as_str().expect("branch"));
            assert!(files.contains(&"resumed.txt".to_string()), "{files:?}");
            for file in wrote {
                assert!(files.contains(file), "{file}: {files:?}");
            }
        }
    })
    .expect("resume ran");
}

/// `try`'s own server is stopped (for [`STOPPED`]) mid-turn, then continued: both forks
/// finish `done`.
#[test]
fn try_forks_outlast_a_stopped_server() {
    let rules = vec![slow("Use slow A", "a"), slow("Use slow B", "b")];
    let w = World::with_delay(script(rules), Duration::from_millis(300));
    w.seed_opencode_deps();
    let child = w
        .ocfork()
        .env(SCALE.0, SCALE.1)
        .args([
            "try",
            "--json",
            "-n",
            "busy",
            "a=Use slow A",
            "b=Use slow B",
        ])
        .in_background();
    let mut last = Value::Null;
    let server = wait_until(Duration::from_secs(120), || {
        last = status(&w, "busy")?;
        let mid = ["a", "b"].iter().all(|n| {
            worktree_of(fork(&last, n))
                .join(format!("{n}1.txt"))
                .is_file()
        });
        mid.then(|| last["spawned_server"]["pid"].as_u64())?
    })
    .unwrap_or_else(|| panic!("the forks did not start writing: {last:#}")) as u32;
    signal(server, Signal::SIGSTOP);
    std::thread::sleep(STOPPED);
    signal(server, Signal::SIGCONT);
    let run = json_at_exit(child, 0);
    for n in ["a", "b"] {
        let f = fork(&run, n);
        assert_eq!(f["state"], "done", "{f:#}");
        let files = files_at(&w.repo, f["commit"].as_str().expect("commit"));
        for file in all_files(n) {
            assert!(files.contains(&file), "{file}: {files:?}");
        }
    }
}

/// `try --server URL` on the user's server, killed mid-turn: the fork ends within seconds,
/// `server_exited` with its work committed (not at its time limit), and `resume` finishes it
/// on a server of its own.
#[test]
fn try_on_a_killed_user_server_ends_its_fork_and_resumes() {
    let rules = vec![
        writes("Continue the task", &[("resumed.txt", "resumed\n")]),
        slow("Use slow A", "a"),
    ];
    let w = World::with_delay(script(rules), Duration::from_millis(300));
    let srv = Serve::start(&w, &[]);
    let child = w
        .ocfork()
        .env("OPENCODE_SERVER_PASSWORD", &srv.password)
        .args(["try", "--json", "--server", &srv.url, "--timeout", "10m"])
        .args(["-n", "gone", "a=Use slow A"])
        .in_background();
    let mut last = Value::Null;
    wait_until(Duration::from_secs(120), || {
        last = status(&w, "gone")?;
        worktree_of(fork(&last, "a"))
            .join("a1.txt")
            .is_file()
            .then_some(())
    })
    .unwrap_or_else(|| panic!("the fork did not start writing: {last:#}"));
    drop(srv);
    let pid = child.id();
    if wait_until(Duration::from_secs(60), || {
        !crate::common::procs::alive(pid)
    })
    .is_none()
    {
        crate::common::procs::kill9(pid);
        panic!("ocfork still waited on the killed server a minute later");
    }
    let run = json_at_exit(child, 1);
    let f = fork(&run, "a");
    assert_eq!(f["state"], "failed", "{f:#}");
    assert_eq!(f["end"], "server_exited", "{f:#}");
    let error = f["error"].as_str().unwrap_or_default();
    assert!(error.contains("refuses connections"), "{error}");
    let files = files_at(&w.repo, f["commit"].as_str().expect("work committed"));
    assert!(files.contains(&"a1.txt".to_string()), "{files:?}");

    let out = w.run(&["resume", "gone", "--json"]);
    exits_with(&out, 0, "starting one for the resume");
    let f = fork(&json(&out), "a").clone();
    assert_eq!(f["state"], "done", "{f:#}");
    let files = files_at(&w.repo, f["commit"].as_str().expect("commit"));
    for file in ["a1.txt", "resumed.txt"] {
        assert!(files.contains(&file.to_string()), "{file}: {files:?}");
    }
}
