//! Unit tests of recording a run's changes.

use super::*;

fn run() -> Run {
    let mut r: Run = serde_json::from_value(serde_json::json!({
        "schema": 1, "run": "r", "repo": "/x", "base": "a", "start": "a", "task": null,
        "state": "running", "created_at": "2024-01-01T00:00:00Z", "forks": []
    }))
    .expect("a run");
    for n in ["a", "b"] {
        r.forks.push(Fork::pending(
            "r",
            n.into(),
            std::path::Path::new("/w"),
            "p".into(),
            "build".into(),
        ));
    }
    r
}

#[test]
fn replays_only_what_changed_onto_another_processes_copy() {
    let mine = run();
    let mut changed = mine.clone();
    changed.forks[0].tool_calls = 3;
    changed.forks[0].end = Some(crate::state::EndReason::Done);
    let changes = diff(&to_value(&mine), &to_value(&changed));
    assert!(changes.iter().any(|c| !c.is_progress()));
    // Meanwhile another process merged fork b and set a's end aside.
    let mut theirs = mine.clone();
    theirs.forks[1].merged = true;
    replay(&mut theirs, &changes);
    assert_eq!(theirs.forks[0].tool_calls, 3);
    assert_eq!(theirs.forks[0].end, Some(crate::state::EndReason::Done));
    assert!(theirs.forks[1].merged);
    // A field gone (skipped when None) is cleared.
    let back = diff(&to_value(&changed), &to_value(&mine));
    replay(&mut theirs, &back);
    assert_eq!(theirs.forks[0].end, None);
}

#[test]
fn progress_alone_may_wait() {
    let mine = run();
    let mut changed = mine.clone();
    changed.forks[1].tool_calls = 1;
    changed.forks[1].activity = Some("retrying".into());
    let changes = diff(&to_value(&mine), &to_value(&changed));
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(Change::is_progress));
}
