//! The fork queue: drives a run's forks through one OpenCode server, at most `jobs` prompting
//! at once, each fork from setup through its agent's turn, its check and its commit, with the
//! manifest saved at every state change.

mod drive;
mod fork;
pub mod preflight;
mod step;
mod turn;

pub use drive::{DriveOptions, RunView, drive, drive_with};
pub use fork::{Shared, run_fork};

use std::sync::{Arc, Mutex};

use crate::state::{Fork, Run, StateError, Store};

/// A run shared by the tasks that drive it; every change is written through to the store.
/// Other processes change the run too (`merge` marks a fork merged, a session relay drives a
/// fork of the same run), so every update is a locked read-modify-write of the file.
pub struct RunHandle {
    store: Store,
    run: Mutex<Run>,
}

impl RunHandle {
    pub fn new(store: Store, run: Run) -> Arc<RunHandle> {
        Arc::new(RunHandle {
            store,
            run: Mutex::new(run),
        })
    }

    /// A copy of the run as it is now.
    pub fn snapshot(&self) -> Run {
        match self.run.lock() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Changes the run on disk and keeps the result in memory.
    pub fn update_run(&self, f: impl FnOnce(&mut Run)) -> Result<(), StateError> {
        let mut guard = match self.run.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let name = guard.run.clone();
        if let Some(current) = self.store.update(&name, || None, f)? {
            *guard = current;
        }
        Ok(())
    }

    /// Changes one fork and saves the run.
    pub fn update(&self, fork: &str, f: impl FnOnce(&mut Fork)) {
        let res = self.update_run(|r| {
            if let Some(fk) = r.fork_mut(fork) {
                f(fk);
            }
        });
        if let Err(e) = res {
            eprintln!("ocfork: warning: {e}");
        }
    }
}
