//! The store and reference resolution on real files in a temporary directory: writing,
//! reading back, refusing what is not a run, locking, removing, and what a name resolves to.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

/// A run whose driver is this (live) test process, so nothing is marked interrupted.
fn run(name: &str, created_at: &str, forks: &[&str]) -> Run {
    let me = Driver::current();
    Run {
        forks: forks
            .iter()
            .map(|f| {
                let root = Path::new("/wt").join(name);
                Fork::pending(name, f.to_string(), &root, "Go".into(), "build".into())
            })
            .collect(),
        pid: Some(me.pid),
        pid_start: me.pid_start,
        created_at: created_at.into(),
        ..Run::new(name.into(), "/repo".into(), "b".repeat(40), "b".repeat(40))
    }
}

const JAN: &str = "2024-01-01T00:00:00.000Z";
const FEB: &str = "2024-02-01T00:00:00.000Z";

/// Records a new run.
fn add(store: &Store, name: &str, created_at: &str, forks: &[&str]) {
    store
        .create(&run(name, created_at, forks))
        .expect("created");
}

/// What a name on the command line resolves to, in words.
fn target(store: &Store, name: &str) -> String {
    match store.resolve_target(name).expect("resolves") {
        Target::Fork(f) => format!("fork {}", f.qualified()),
        Target::Run(r) => format!("run {}", r.run),
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::new(dir.path());
    (dir, store)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_run_is_created_once_saved_whole_and_read_back_private() {
    let (_dir, store) = store();
    assert_eq!(
        store.names().expect("no store yet is no runs"),
        Vec::<String>::new()
    );
    let mut r = run("first", JAN, &["a", "b"]);
    store.create(&r).expect("created");
    assert!(matches!(store.create(&r), Err(StateError::Taken(n)) if n == "first"));

    r.forks[0].state = ForkState::Done;
    store.save(&r).expect("saved");
    let back = store.load("first").expect("loads");
    assert_eq!(back.forks[0].state, ForkState::Done);
    assert_eq!(back.forks[1].branch, "ocfork/first/b");
    assert_eq!(store.names().expect("names"), ["first"]);
    assert_eq!(mode(&store.path("first")), 0o600);
    assert_eq!(mode(store.dir()), 0o700);
    // No temporary file is left beside the manifest.
    let files: Vec<_> = std::fs::read_dir(store.dir())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(files, ["first.json"], "{files:?}");
}

#[test]
fn what_is_not_a_run_is_refused_by_name() {
    let (_dir, store) = store();
    add(&store, "good", JAN, &["a"]);
    match store.load("other") {
        Err(StateError::UnknownRun { name, known }) => {
            assert_eq!((name.as_str(), known), ("other", vec!["good".to_string()]));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.load("../good"),
        Err(StateError::UnknownRun { .. })
    ));

    std::fs::write(store.path("torn"), b"{\"schema\": 1,").expect("write");
    assert!(matches!(store.load("torn"), Err(StateError::Parse { .. })));

    // A file naming another run must not make ocfork touch that run's branches.
    let other = serde_json::to_vec(&run("good", JAN, &["a"])).expect("json");
    std::fs::write(store.path("copy"), other).expect("write");
    match store.load("copy") {
        Err(StateError::Invalid { problem, .. }) => assert!(problem.contains("good"), "{problem}"),
        other => panic!("{other:?}"),
    }
    let mut old = run("old", JAN, &[]);
    old.schema = 0;
    std::fs::write(store.path("old"), serde_json::to_vec(&old).expect("json")).expect("write");
    assert!(matches!(store.load("old"), Err(StateError::Invalid { .. })));
}

#[test]
fn all_lists_newest_first_and_keeps_the_unreadable_apart() {
    let (_dir, store) = store();
    assert!(matches!(store.latest(), Err(StateError::NoRuns)));
    add(&store, "older", JAN, &["a"]);
    add(&store, "newer", FEB, &["a"]);
    std::fs::write(store.path("broken"), b"not json").expect("write");
    let (runs, bad) = store.all().expect("all");
    let names: Vec<_> = runs.iter().map(|r| r.run.as_str()).collect();
    assert_eq!(names, ["newer", "older"]);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(store.latest().expect("latest").run, "newer");
    assert_eq!(store.resolve(None).expect("newest").run, "newer");
    assert_eq!(store.resolve(Some("older")).expect("named").run, "older");
}

#[test]
fn update_changes_creates_or_leaves_absent() {
    let (_dir, store) = store();
    let none = store.update("absent", || None, |_| panic!("nothing to change"));
    assert!(none.expect("no error").is_none());
    assert!(!store.path("absent").exists());

    let made = store
        .update(
            "made",
            || Some(run("made", JAN, &["a"])),
            |r| {
                r.forks[0].state = ForkState::Done;
            },
        )
        .expect("updated")
        .expect("created");
    // The run's state follows its forks.
    assert_eq!(made.state, RunState::Done);
    let changed = store
        .update(
            "made",
            || panic!("it exists"),
            |r| r.forks[0].tool_calls = 3,
        )
        .expect("updated")
        .expect("exists");
    assert_eq!(changed.forks[0].tool_calls, 3);
    assert_eq!(store.load("made").expect("loads").forks[0].tool_calls, 3);
}

#[test]
fn a_run_whose_driver_is_gone_is_recorded_interrupted() {
    let (_dir, store) = store();
    let mut r = run("orphan", JAN, &["a", "b"]);
    r.pid = Some(u32::MAX - 1);
    r.pid_start = Some(1);
    r.forks[1].state = ForkState::Done;
    store.create(&r).expect("created");
    let checked = store.load_checked("orphan").expect("loads");
    assert_eq!(checked.forks[0].state, ForkState::Interrupted);
    assert_eq!(checked.forks[1].state, ForkState::Done);
    assert_eq!(checked.state, RunState::Failed);
    // Written to disk, not only to the copy returned.
    assert_eq!(
        store.load("orphan").expect("loads").forks[0].state,
        ForkState::Interrupted
    );
}

#[test]
fn one_driver_at_a_time() {
    let (_dir, store) = store();
    let r = run("driven", JAN, &["a"]);
    store.create(&r).expect("created");
    let held = store.lock_driver("driven").expect("first lock");
    match store.lock_driver("driven") {
        Err(StateError::Busy { run, pid }) => {
            assert_eq!((run.as_str(), pid), ("driven", r.pid));
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a second driver got the lock"),
    }
    drop(held);
    store.lock_driver("driven").expect("free again");
}

#[test]
fn remove_takes_the_manifest_logs_and_locks() {
    let (_dir, store) = store();
    add(&store, "gone", JAN, &["a"]);
    add(&store, "kept", JAN, &["a"]);
    store.update("gone", || None, |_| {}).expect("updated");
    let step = store.step_log("gone", "a", "check");
    std::fs::create_dir_all(step.parent().expect("parent")).expect("logs dir");
    std::fs::write(&step, "output").expect("log");
    std::fs::write(store.dir().join("gone.log"), "driver").expect("log");
    store.remove("gone").expect("removed");
    let mut left: Vec<_> = std::fs::read_dir(store.dir())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gone"))
        .collect();
    left.sort();
    assert_eq!(left, Vec::<String>::new());
    assert_eq!(store.names().expect("names"), ["kept"]);
    store
        .remove("never-was")
        .expect("nothing to remove is fine");
}

#[test]
fn fork_references_resolve_in_the_latest_run_or_the_named_one() {
    let (_dir, store) = store();
    add(&store, "old", JAN, &["a", "only-old"]);
    add(&store, "new", FEB, &["a", "b"]);

    let latest = store.resolve_fork("b").expect("fork of the latest run");
    assert_eq!(latest.qualified(), "new/b");
    assert_eq!(latest.fork().name, "b");
    let named = store.resolve_fork("old/only-old").expect("RUN/FORK");
    let (run, fork) = named.into_parts();
    assert_eq!((run.run.as_str(), fork.as_str()), ("old", "only-old"));

    for bad in ["old/", "/a", "old/a/b"] {
        assert!(
            matches!(store.resolve_fork(bad), Err(StateError::BadReference(r)) if r == bad),
            "{bad}"
        );
    }
    match store.resolve_fork("only-old") {
        Err(StateError::UnknownFork { fork, run, known }) => {
            assert_eq!((fork.as_str(), run.as_str()), ("only-old", "new"));
            assert_eq!(known, ["a", "b"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.resolve_fork("nope/a"),
        Err(StateError::UnknownRun { .. })
    ));
}

#[test]
fn a_bare_name_is_a_fork_of_the_latest_run_before_it_is_a_run() {
    let (_dir, store) = store();
    add(&store, "old", JAN, &["x"]);
    // The latest run has a fork named like the older run: the fork wins.
    add(&store, "new", FEB, &["old", "b"]);
    assert_eq!(target(&store, "old"), "fork new/old");
    assert_eq!(target(&store, "new"), "run new");
    assert_eq!(target(&store, "old/x"), "fork old/x");
    match store.resolve_target("neither") {
        Err(e @ StateError::UnknownName { .. }) => {
            let text = e.to_string();
            assert!(text.contains("`new`") && text.contains("old, b"), "{text}");
            assert!(text.contains("runs here: new, old"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}
