//! Concurrent runs in one repository: different names both work, the same name is refused for
//! one of them, readers never see a torn manifest, and git changes to shared refs and the
//! worktree list are serialized.

use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;
use ocfork::state::{Run, Store};
use serde_json::Value;

fn spawn_try(w: &World, name: &str) -> Child {
    w.spawn(
        &["try", "--json", "-n", name, "a=Use a", "b=Use b", "c=Use c"],
        Stdio::piped(),
        Stdio::piped(),
    )
}

#[test]
fn concurrent_tries_distinct_names_work_same_name_refused_status_never_torn() {
    let w = World::with_delay(
        script(vec![
            writes("Use a", &[("a.txt", "a\n")]),
            writes("Use b", &[("b.txt", "b\n")]),
            writes("Use c", &[("c.txt", "c\n")]),
        ]),
        Duration::from_millis(200),
    )
    .on_suite_server();
    let tries = vec![
        spawn_try(&w, "alpha"),
        spawn_try(&w, "beta"),
        spawn_try(&w, "alpha"),
    ];

    // Hammer `status` while the runs write their manifests.
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let hammer = {
        let (done, reads) = (done.clone(), reads.clone());
        let mut cmd = w.ocfork();
        cmd.args(["status", "beta", "--json"]);
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let out = cmd.output().expect("status runs");
                if out.status.success() {
                    let parsed: Result<Value, _> = serde_json::from_slice(&out.stdout);
                    assert!(
                        parsed.is_ok(),
                        "torn manifest: {}",
                        String::from_utf8_lossy(&out.stdout)
                    );
                    reads.fetch_add(1, Ordering::SeqCst);
                } else {
                    let err = String::from_utf8_lossy(&out.stderr).to_string();
                    assert!(err.contains("no run named `beta`"), "status failed: {err}");
                }
                // Dozens of reads a second while the runs write; unthrottled, this loop took a
                // core from the three runs it watches (each read is a whole process).
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let outs: Vec<_> = tries
        .into_iter()
        .map(|c| c.wait_with_output().expect("try ends"))
        .collect();
    done.store(true, Ordering::SeqCst);
    hammer.join().expect("no torn manifest");
    assert!(reads.load(Ordering::SeqCst) > 0);

    let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
    assert_eq!(codes[1], Some(0), "beta: {}", stderr(&outs[1]));
    let (won, lost) = match (codes[0], codes[2]) {
        (Some(0), Some(2)) => (&outs[0], &outs[2]),
        (Some(2), Some(0)) => (&outs[2], &outs[0]),
        other => panic!(
            "exactly one `alpha` must win: {other:?}\n{}\n{}",
            stderr(&outs[0]),
            stderr(&outs[2])
        ),
    };
    assert!(
        stderr(lost).contains("alpha") && stderr(lost).contains("already exists"),
        "{}",
        stderr(lost)
    );
    assert!(lost.stdout.is_empty());
    for out in [won, &outs[1]] {
        let run = json(out);
        assert_eq!(run["state"], "done", "{run:#}");
        for fork in run["forks"].as_array().expect("forks") {
            assert_eq!(fork["files_changed"], 1, "{fork:#}");
        }
    }
    let worktrees = w.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(
        worktrees.matches("\nbranch refs/heads/ocfork/").count(),
        6,
        "{worktrees}"
    );
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]).lines().count(), 6);
    w.git(&["fsck", "--no-progress"]);
}

#[test]
fn readers_never_see_a_torn_manifest() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Store::new(tmp.path());
    let big = "x".repeat(200_000);
    let make = move |n: usize| -> Run {
        serde_json::from_value(serde_json::json!({
            "schema": 1, "run": "busy", "repo": "/repo", "base": "0".repeat(40), "start": "0".repeat(40),
            "task": format!("{n}{big}"), "state": "running", "created_at": "2026-01-01T00:00:00.000Z",
            "forks": [],
        }))
        .expect("run")
    };
    store.create(&make(0)).expect("create");
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for n in 1..300 {
                store.save(&make(n)).expect("save");
            }
        })
    };
    let mut seen = 0;
    while !writer.is_finished() {
        let run = store.load("busy").expect("a whole manifest every time");
        assert!(run.task.is_some_and(|t| t.len() > 200_000));
        seen += 1;
    }
    writer.join().expect("writer");
    assert!(seen > 0);
    // No temp files are left next to the manifests.
    let left: Vec<_> = std::fs::read_dir(store.dir())
        .expect("dir")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("busy.json")]);
}
