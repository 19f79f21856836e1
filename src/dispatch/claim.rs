//! A driver taking a run: itself recorded as the run's driver and its forks as pending, on the
//! run as it is on disk, so nothing another process wrote meanwhile is lost.

use crate::state::{Run, StateError, Store};

/// Records this process as the run's driver and `names` as pending: the caller's copy of the
/// run (with what it changed, e.g. `resume` letting go of a dead server) is written under the
/// store's lock, keeping what other processes wrote to the file meanwhile: a fork marked
/// merged, a verdict, the forks this driver does not drive (a session's), forks added.
pub(super) fn claim(store: &Store, run: Run, names: &[String]) -> Result<Run, StateError> {
    let pid = std::process::id();
    let pid_start = crate::procfs::start_time(pid);
    let mark = |r: &mut Run| {
        r.pid = Some(pid);
        r.pid_start = pid_start;
        r.dispatched = false;
        for f in r.forks.iter_mut().filter(|f| names.contains(&f.name)) {
            f.requeue();
        }
    };
    let mine = {
        let mut r = run;
        mark(&mut r);
        r
    };
    let keep_theirs = |disk: &mut Run| {
        let mut next = mine.clone();
        if disk.judge.is_some() {
            next.judge = disk.judge.clone();
        }
        for f in next.forks.iter_mut() {
            if let Some(d) = disk.forks.iter().find(|d| d.name == f.name) {
                if !names.contains(&f.name) {
                    *f = d.clone();
                }
                f.merged |= d.merged;
            }
        }
        for d in &disk.forks {
            if !next.forks.iter().any(|f| f.name == d.name) {
                next.forks.push(d.clone());
            }
        }
        *disk = next;
    };
    let claimed = store.update(&mine.run, || Some(mine.clone()), keep_theirs)?;
    Ok(claimed.unwrap_or(mine))
}

#[cfg(test)]
mod tests {
    use super::claim;
    use crate::state::{Fork, ForkState, Run, Store};

    /// A driver starting on its copy of the run keeps what another process wrote since it
    /// read it (here `merge` marking a fork merged).
    #[test]
    fn claiming_a_run_keeps_what_others_wrote_meanwhile() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::new(dir.path());
        let mut run: Run = serde_json::from_value(serde_json::json!({
            "schema": 1, "run": "r", "repo": "/x", "base": "a", "start": "a", "task": null,
            "state": "running", "created_at": "2024-01-01T00:00:00Z", "forks": []
        }))
        .expect("a run");
        for n in ["a", "b"] {
            let root = std::path::Path::new("/w");
            run.forks.push(Fork::pending(
                "r",
                n.into(),
                root,
                "p".into(),
                "build".into(),
            ));
        }
        run.forks[0].state = ForkState::Done;
        run.forks[1].state = ForkState::Interrupted;
        run.server = Some("http://127.0.0.1:1".into());
        store.save(&run).expect("saved");
        // The driver's copy: it lets go of the run's server (as `resume` does).
        let mut mine = run.clone();
        mine.server = None;
        // Meanwhile another process merges fork a and adds a session's fork.
        store
            .update(
                "r",
                || None,
                |r| {
                    r.forks[0].merged = true;
                    let root = std::path::Path::new("/w");
                    let extra = Fork::pending("r", "c".into(), root, "p".into(), "build".into());
                    r.forks.push(extra);
                },
            )
            .expect("updated");

        let claimed = claim(&store, mine, &["b".to_string()]).expect("claimed");
        let on_disk = store.load("r").expect("loaded");
        for r in [&claimed, &on_disk] {
            assert!(r.forks[0].merged, "the merge was lost");
            assert!(
                r.forks.iter().any(|f| f.name == "c"),
                "the added fork was lost"
            );
            assert_eq!(r.forks[1].state, ForkState::Pending);
            assert_eq!(r.server, None, "the driver's own change was lost");
            assert_eq!(r.pid, Some(std::process::id()));
        }
    }
}
