//! What `status` and `list` show beyond the states: the time so far of unfinished forks, and
//! which forks were merged and which runs cleaned.

use std::process::Stdio;
use std::time::Duration;

use crate::common::procs::{alive, kill9};
use crate::common::*;
use serde_json::Value;

/// The cells of the fork's row in `ocfork status RUN`: FORK, STATE, TIME, ...
fn row(w: &World, run: &str, fork: &str) -> Vec<String> {
    let out = w.run(&["status", run]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(fork))
        .unwrap_or_else(|| panic!("no row for {fork}: {text}"));
    // STATE may be `done (merged)`: keep it one cell.
    let line = line.replace(" (merged)", "(merged)");
    line.split_whitespace().map(str::to_string).collect()
}

fn status_json(w: &World, run: &str) -> Value {
    let out = w.run(&["status", run, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json(&out)
}

/// A time cell of at least a second: `1.2s`, `4m05s`, `1h02m`, never `850ms`.
fn at_least_a_second(cell: &str) -> bool {
    !cell.ends_with("ms") && cell.chars().next().is_some_and(|c| c.is_ascii_digit())
}

#[test]
fn status_shows_the_time_so_far_of_running_and_interrupted_forks() {
    let slow = writes_numbered("Use slow", 30, |i| {
        (format!("s{i}.txt"), format!("step {i}\n"))
    });
    let w = World::with_delay(script(vec![slow]), Duration::from_millis(600)).on_suite_server();
    let mut child = w.spawn(
        &["try", "-n", "tick", "slow=Use slow"],
        Stdio::null(),
        Stdio::null(),
    );
    // Two delayed model calls answered: the fork has been running for more than a second.
    let worktree = wait_until(Duration::from_secs(90), || {
        let out = w.run(&["status", "tick", "--json"]);
        let run = out.status.success().then(|| json(&out))?;
        let fork = &run["forks"][0];
        let wt = std::path::PathBuf::from(fork["worktree"].as_str()?);
        (fork["state"] == "running" && wt.join("s2.txt").exists()).then_some(wt)
    })
    .expect("the fork runs and writes s2.txt");
    assert!(worktree.is_dir());
    let running = row(&w, "tick", "slow");
    assert_eq!(running[1], "running", "{running:?}");
    assert!(at_least_a_second(&running[2]), "time so far: {running:?}");
    let run = status_json(&w, "tick");
    assert!(run["forks"][0]["started_at"].is_string(), "{run:#}");

    kill9(child.id());
    let _ = child.wait();
    assert!(!alive(child.id()));
    let interrupted = row(&w, "tick", "slow");
    assert_eq!(interrupted[1], "interrupted", "{interrupted:?}");
    assert!(
        at_least_a_second(&interrupted[2]),
        "the time it ran: {interrupted:?}"
    );
    let ms = status_json(&w, "tick")["forks"][0]["duration_ms"]
        .as_u64()
        .expect("duration_ms");
    assert!(ms >= 1000, "recorded in the run: {ms}");
}

#[test]
fn status_shows_merged_forks_and_list_shows_merged_and_cleaned() {
    // A finished run made by real git and the run store (no OpenCode): this is about reading it.
    let w = suite_world(vec![]);
    use crate::common::finished::{finished_run, wrote};
    let forks = [
        wrote("one", "Use one", &[("one.txt", "one\n")]),
        wrote("two", "Use two", &[("two.txt", "two\n")]),
    ];
    finished_run(&w, "pair", None, &forks);
    let list = json(&w.run(&["list", "--json"]));
    assert_eq!(list[0]["merged"], 0, "{list:#}");
    assert_eq!(list[0]["cleaned"], false, "{list:#}");

    let out = w.run(&["merge", "one"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(row(&w, "pair", "one")[1], "done(merged)");
    assert_eq!(row(&w, "pair", "two")[1], "done");
    let list = json(&w.run(&["list", "--json"]));
    assert_eq!(list[0]["merged"], 1, "{list:#}");
    assert_eq!(list[0]["cleaned"], false, "{list:#}");
    let text = stdout(&w.run(&["list"]));
    assert!(text.contains("2 forks, 1 merged  base"), "{text}");

    // `two` is not merged: clean keeps its branch, and so the run.
    let out = w.run(&["clean", "pair"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = json(&w.run(&["list", "--json"]));
    assert_eq!(list[0]["run"], "pair", "{list:#}");
    assert_eq!(list[0]["merged"], 1, "{list:#}");
    assert_eq!(list[0]["cleaned"], true, "{list:#}");
    let text = stdout(&w.run(&["list"]));
    assert!(text.contains("2 forks, 1 merged, cleaned  base"), "{text}");
}
