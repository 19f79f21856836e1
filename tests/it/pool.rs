//! Forks spread over a pool of OpenCode servers: ones ocfork starts (`--servers K`), the
//! user's own (`--server URL` repeated), a pool server dying mid-run, and every fork's
//! instance let go of on the server that ran it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::serve::Serve;
use crate::common::*;

type Events = tokio::sync::broadcast::Receiver<ocfork::opencode::Event>;

/// Follows a server's events from now on (until the token is dropped and cancelled).
fn follow(s: &Serve) -> (Events, tokio_util::sync::DropGuard) {
    let stop = tokio_util::sync::CancellationToken::new();
    let hub = s.block(async {
        let hub = ocfork::opencode::EventHub::start(s.client().clone(), stop.clone());
        assert!(hub.wait_connected(Duration::from_secs(30)).await);
        hub
    });
    (hub.subscribe(), stop.drop_guard())
}

/// Waits up to 30 s until each server in `servers` has said it let go of the instances of
/// `dirs` between them; panics naming those it did not.
fn assert_disposed(servers: &mut [(&Serve, &mut Events)], dirs: &BTreeSet<String>) {
    let mut disposed = BTreeSet::new();
    let until = Instant::now() + Duration::from_secs(30);
    while !dirs.is_subset(&disposed) && Instant::now() < until {
        for (s, rx) in servers.iter_mut() {
            let got = s
                .block(async { tokio::time::timeout(Duration::from_millis(200), rx.recv()).await });
            if let Ok(Ok(e)) = got
                && e.kind_name() == "server.instance.disposed"
                && let Some(d) = e.properties().get("directory").and_then(|d| d.as_str())
            {
                disposed.insert(d.to_string());
            }
        }
    }
    assert!(
        dirs.is_subset(&disposed),
        "not all disposed: {dirs:?}; disposed: {disposed:?}"
    );
}

fn worktrees_of(run: &serde_json::Value) -> BTreeSet<String> {
    run["forks"]
        .as_array()
        .expect("forks")
        .iter()
        .map(|f| f["worktree"].as_str().expect("worktree").to_string())
        .collect()
}

fn script(files: &[(&str, &str)]) -> Script {
    Script {
        rules: vec![writes("Go", files)],
        default_reply: "ok".into(),
    }
}

/// The `server` of every fork in a run object.
fn servers_of(run: &serde_json::Value) -> BTreeSet<String> {
    run["forks"]
        .as_array()
        .expect("forks")
        .iter()
        .map(|f| {
            f["server"]
                .as_str()
                .expect("a fork names its server")
                .to_string()
        })
        .collect()
}

/// How many forks each server of the run ran, fewest first, leaving out the fork `except`.
fn forks_on_each(run: &serde_json::Value, except: &str) -> Vec<usize> {
    let forks = run["forks"].as_array().expect("forks");
    let mut counts: Vec<usize> = servers_of(run)
        .iter()
        .map(|u| {
            (forks.iter())
                .filter(|f| f["server"] == u.as_str() && f["name"] != except)
                .count()
        })
        .collect();
    counts.sort();
    counts
}

fn assert_done_with_work(w: &World, run: &serde_json::Value, file: &str) {
    for f in run["forks"].as_array().expect("forks") {
        assert_eq!(f["state"], "done", "{f}");
        let commit = f["commit"].as_str().expect("work committed");
        let files = w.git(&["show", "--name-only", "--format=", commit]);
        assert!(files.contains(file), "{files}");
    }
}

#[test]
fn repeated_server_pools_the_users_servers_and_disposes_each_forks_instance() {
    let w = World::new(script(&[("out.txt", "x")]));
    let one = Serve::start(&w, &[]);
    let two = Serve::start(&w, &[]);
    // Follow each server's events from before the run, to see its instances let go of.
    let (mut ev_one, _stop_one) = follow(&one);
    let (mut ev_two, _stop_two) = follow(&two);
    let out = one.ocfork(
        &w,
        &[
            "try", "--json", "--server", &one.url, "--server", &two.url, "-n", "mine", "a=Go",
            "b=Go",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let run = json(&out);
    assert_done_with_work(&w, &run, "out.txt");
    let used = servers_of(&run);
    let given: BTreeSet<String> = [&one.url, &two.url]
        .iter()
        .map(|u| u.trim_end_matches('/').to_string())
        .collect();
    assert_eq!(used, given, "one fork on each of the user's servers");
    assert_eq!(run["pool_urls"].as_array().map(Vec::len), Some(2));

    // Each server let go of the worktree of the fork it ran (its event may trail the run).
    assert_disposed(
        &mut [(&one, &mut ev_one), (&two, &mut ev_two)],
        &worktrees_of(&run),
    );
}

#[test]
fn clean_lets_go_of_a_fork_instance_the_users_server_opened_again() {
    let w = World::new(script(&[("out.txt", "x")]));
    let srv = Serve::start(&w, &[]);
    let (mut events, _stop) = follow(&srv);
    let args = ["try", "--json", "--server", &srv.url, "-n", "again", "a=Go"];
    let run = json(&srv.ocfork(&w, &args));
    assert_done_with_work(&w, &run, "out.txt");
    let worktrees = worktrees_of(&run);
    // The run let go of the fork's instance; only once that is over does the user's OpenCode
    // look at the fork again (as its TUI would), so the server opens the instance anew rather
    // than answering from the one being disposed.
    assert_disposed(&mut [(&srv, &mut events)], &worktrees);
    drop(_stop);
    let wt = worktree_of(fork(&run, "a"));
    srv.block(srv.client().status(&wt)).expect("status");
    // Events from here on only: what follows is clean's doing.
    let (mut events, _stop) = follow(&srv);
    let out = srv.ocfork(&w, &["clean", "again", "--force"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(!wt.exists(), "the worktree is removed");
    assert_disposed(&mut [(&srv, &mut events)], &worktrees);
}

#[test]
fn a_pool_server_that_dies_fails_only_its_forks_with_their_work_committed() {
    // Every fork writes its first file, then its turn is held until the server is killed.
    let mut go = writes(
        "Go",
        &[("first.txt", "1"), ("second.txt", "2"), ("third.txt", "3")],
    );
    go.steps.insert(1, held());
    let w = World::new(Script {
        rules: vec![go],
        default_reply: "ok".into(),
    });
    w.seed_opencode_deps();
    let child = w
        .ocfork()
        .args([
            "try",
            "--json",
            "--servers",
            "2",
            "-n",
            "die",
            "a=Go",
            "b=Go",
            "c=Go",
            "d=Go",
        ])
        .in_background();
    let mut live = serde_json::Value::Null;
    let worktrees: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|f| w.path(&format!("app.ocfork/die/{f}")))
        .collect();
    let first_files = wait_until(Duration::from_secs(180), || {
        let status = w.run(&["status", "die", "--json"]);
        if status.status.code() != Some(0) {
            return false;
        }
        live = json(&status);
        worktrees
            .iter()
            .all(|wt| wt.join("first.txt").exists() && wt.join(".started").exists())
    });
    assert!(
        first_files.is_some(),
        "every fork wrote its first file and is held"
    );
    let pool = live["spawned_servers"].as_array().expect("pool").clone();
    assert_eq!(pool.len(), 2, "{live}");
    let victim = pool[1]["url"].as_str().expect("url").to_string();
    let pid = pool[1]["pid"].as_i64().expect("pid") as i32;
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the server");
    // The forks on the live server go on; the dead server's held steps end too.
    release(&worktrees);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let run = json(&out);
    let (dead, alive): (Vec<_>, Vec<_>) = run["forks"]
        .as_array()
        .expect("forks")
        .iter()
        .partition(|f| f["server"] == victim.as_str());
    assert_eq!(dead.len(), 2, "{run}");
    for f in &dead {
        assert_eq!(f["end"], "server_exited", "{f}");
        let commit = f["commit"].as_str().expect("its work is committed");
        let files = w.git(&["show", "--name-only", "--format=", commit]);
        assert!(files.contains("first.txt"), "{files}");
    }
    for f in &alive {
        assert_eq!(f["state"], "done", "{f}");
    }
    // The failed forks resume and finish.
    let resumed = w.run(&["resume", "die", "--json"]);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "stderr: {}",
        stderr(&resumed)
    );
    assert_done_with_work(&w, &json(&resumed), "first.txt");
}

/// Eight fresh forks: one fork's session is made and prompted first, and the others' only
/// once OpenCode has recorded the run's worktrees in the project (its
/// `project.directories.updated`), so each instance's refresh does not list every other
/// worktree (64 forks starting together spawned ~7,000 `git worktree list` at once).
#[test]
fn the_first_fork_goes_alone_until_opencode_has_the_worktrees() {
    // Every turn is held until all eight have started, so the others starting shows that
    // OpenCode's update opened the gate, not the end of the pioneer's turn.
    let mut slow = writes("Go", &[("out.txt", "x")]);
    slow.steps.insert(0, held());
    let w = World::new(Script {
        rules: vec![slow],
        default_reply: "ok".into(),
    });
    let srv = Serve::start(&w, &[]);
    let (mut events, _stop) = follow(&srv);
    let mut args = vec!["try", "--json", "--server", &srv.url, "-n", "eight"];
    let names: Vec<String> = (1..=8).map(|i| format!("f{i}=Go")).collect();
    args.extend(names.iter().map(String::as_str));
    // The events in the order the server sent them, read while the run goes on.
    let (out, seen) = std::thread::scope(|scope| {
        let run = scope.spawn(|| srv.ocfork(&w, &args));
        scope.spawn(|| {
            let root = w.path("app.ocfork/eight");
            let all = wait_until(Duration::from_secs(120), || {
                let wts = folders_in(&root);
                let started = wts.iter().filter(|wt| wt.join(".started").exists()).count();
                (started == 8).then_some(wts)
            });
            release(&all.expect("all eight turns started"));
        });
        let mut seen = Vec::new();
        let mut quiet_since = None;
        loop {
            let got = srv.block(async {
                tokio::time::timeout(Duration::from_millis(200), events.recv()).await
            });
            match got {
                Ok(Ok(e)) => seen.push(e),
                Ok(Err(e)) => panic!("events lost: {e}"),
                Err(_) if run.is_finished() => {
                    let since = *quiet_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_secs(2) {
                        break;
                    }
                }
                Err(_) => {}
            }
        }
        (run.join().expect("ocfork thread"), seen)
    });
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let run = json(&out);
    assert_done_with_work(&w, &run, "out.txt");
    let worktrees = worktrees_of(&run);
    let mut order = Vec::new();
    let mut pioneer = None;
    for e in &seen {
        let p = e.properties();
        let dir = p.pointer("/info/directory").and_then(|d| d.as_str());
        let idle = e.kind_name() == "session.idle"
            || (e.kind_name() == "session.status"
                && p.pointer("/status/type").and_then(|t| t.as_str()) == Some("idle"));
        match e.kind_name() {
            "session.created" if dir.is_some_and(|d| worktrees.contains(d)) => {
                pioneer = pioneer.or_else(|| e.session_id().map(String::from));
                order.push("session")
            }
            "project.directories.updated" => order.push("directories"),
            _ if idle && pioneer.is_some() && e.session_id() == pioneer.as_deref() => {
                order.push("pioneer idle")
            }
            _ => {}
        }
    }
    let last_session = order.iter().rposition(|k| *k == "session");
    let pioneer_idle = order.iter().position(|k| *k == "pioneer idle");
    assert!(
        pioneer_idle.is_some() && last_session < pioneer_idle,
        "every fork started while the pioneer was working: {order:?}"
    );
    assert_eq!(
        order.iter().filter(|k| **k == "session").count(),
        8,
        "{order:?}"
    );
    let first_update = order.iter().position(|k| *k == "directories");
    assert_eq!(
        first_update,
        Some(1),
        "one session, the update, then the rest: {order:?}"
    );
}

/// `--servers 2`: ocfork starts two servers and spreads the forks over them, least-loaded. With a
/// gate (eight fresh forks) and servers to start, the first fork's turn does not wait for the
/// pool: it starts on the first server while the other boots, and the rest, which wait for
/// the gate anyway, are spread over the whole pool. The servers are gone with the run, and the
/// sessions they made are in the shared data dir.
#[test]
fn the_first_fork_starts_while_the_other_servers_boot_and_the_rest_spread_over_them() {
    let w = World::new(script(&[("out.txt", "x")]));
    let names: Vec<String> = (1..=8).map(|i| format!("f{i}=Go")).collect();
    let mut args = vec!["--servers", "2", "-n", "early"];
    args.extend(names.iter().map(String::as_str));
    let out = w.try_run(0, &args);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let pool_up = lines
        .iter()
        .position(|l| l.contains("forks spread over 2 OpenCode servers"))
        .unwrap_or_else(|| panic!("the pool's second server joined: {err}"));
    let running = |l: &&&str| l.starts_with("ocfork: f") && l.ends_with(" running");
    let before: Vec<&&str> = lines[..pool_up].iter().filter(running).collect();
    assert_eq!(
        before.len(),
        1,
        "one fork ran before the pool was up: {err}"
    );
    let pioneer = (before[0]
        .strip_prefix("ocfork: ")
        .and_then(|l| l.split(' ').next()))
    .expect("the first fork's name");
    assert_eq!(lines[pool_up..].iter().filter(running).count(), 7, "{err}");
    assert_done_with_work(&w, &json(&out), "out.txt");
    let saved = json(&w.run(&["status", "early", "--json"]));
    assert_done_with_work(&w, &saved, "out.txt");
    let used = servers_of(&saved);
    assert_eq!(used.len(), 2, "both servers ran forks: {used:?}");
    assert!(used.iter().all(|u| u.starts_with("http://127.0.0.1:")));
    // Least-loaded: the seven after the first, three on one server and four on the other
    // (the first's server takes three while the first still works there, or four when it
    // ended before the gate let the rest go, as on a loaded machine).
    assert_eq!(
        forks_on_each(&saved, pioneer),
        [3, 4],
        "the rest were spread over the pool: {saved}"
    );
    // The servers are gone with the run, and the record says so.
    assert_eq!(saved["spawned_servers"], serde_json::json!([]));
    // Every session is in the shared data dir: `attach --print` finds it.
    let attach = w.run(&["attach", "early/f3", "--print"]);
    assert_eq!(attach.status.code(), Some(0), "{}", stderr(&attach));
    let session = fork(&saved, "f3")["session"].as_str().expect("session");
    assert!(stdout(&attach).contains(session), "{}", stdout(&attach));
}
