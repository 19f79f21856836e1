//! A stdout whose reader is gone (`ocfork diff | head -1`): every command stops quietly, never
//! panics, and a command that changes things finishes its change first. Real git, real
//! OpenCode, scripted model.

use std::process::{Command, Output, Stdio};

use crate::common::*;

/// Runs `cmd` with stdout a pipe whose reading end is closed before the command starts.
fn closed_stdout(mut cmd: Command) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    cmd.stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("ocfork runs")
}

/// No panic, no error message, and the exit code `want`.
fn assert_quiet(args: &[&str], out: &Output, want: i32) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked") && !err.contains("error:"),
        "ocfork {args:?} with a closed stdout said:\n{err}"
    );
    assert_eq!(out.status.code(), Some(want), "ocfork {args:?}: {err}");
}

fn two_plans() -> Vec<Rule> {
    numbered_exports(&["PLAN-A", "PLAN-B"])
}

#[test]
fn read_commands_stop_quietly_on_a_closed_stdout() {
    let w = suite_world(two_plans());
    let out = w.run(&["try", "-n", "p", "-t", "Add", "a=PLAN-A", "b=PLAN-B"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let commands: &[&[&str]] = &[
        &["diff"],
        &["diff", "--json"],
        &["diff", "a"],
        &["diff", "a", "--stat"],
        &["list"],
        &["list", "--json"],
        &["status"],
        &["status", "--json"],
        &["report"],
        &["config"],
        &["completions", "bash"],
        &["man"],
        &["open", "a"],
        &["merge", "a", "--dry-run"],
    ];
    for args in commands {
        let mut cmd = w.ocfork();
        cmd.args(*args);
        assert_quiet(args, &closed_stdout(cmd), 0);
    }
}

#[test]
fn try_and_clean_finish_their_change_on_a_closed_stdout() {
    let w = world(two_plans());
    let args = ["try", "-n", "p", "-t", "Add", "a=PLAN-A", "b=PLAN-B"];
    let mut cmd = w.ocfork();
    cmd.args(args);
    assert_quiet(&args, &closed_stdout(cmd), 0);
    let status = json(&w.run(&["status", "p", "--json"]));
    for f in status["forks"].as_array().expect("forks") {
        assert_eq!(f["state"], "done", "{status:#}");
    }

    let args = ["clean", "p", "--force"];
    let mut cmd = w.ocfork();
    cmd.args(args);
    assert_quiet(&args, &closed_stdout(cmd), 0);
    let branches = w.git(&["branch", "--list", "ocfork/*"]);
    assert_eq!(branches, "", "clean --force left branches");
    let worktrees = w.git(&["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 1, "{worktrees}");
    let out = w.run(&["status", "p"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the run's record is still there"
    );
}
