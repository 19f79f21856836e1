//! The relay queue: drives a run's forks through one OpenCode server, at most `jobs` prompting
//! at once, each fork from setup through its agent's turn, its check and its commit, with the
//! manifest saved at every state change.

mod drive;
mod fork;
mod turn;

pub use drive::{DriveOptions, drive};
pub use fork::{Shared, run_fork};
pub use turn::{TurnEnd, TurnWatch, follow_turn};

use std::sync::{Arc, Mutex};

use crate::state::{Fork, Run, StateError, Store};

/// A run shared by the tasks that drive it; every change is written through to the store.
pub struct RunHandle {
    store: Store,
    run: Mutex<Run>,
    /// Other processes change the run too: every update re-reads it under the store's lock.
    shared: bool,
}

impl RunHandle {
    pub fn new(store: Store, run: Run) -> Arc<RunHandle> {
        Arc::new(RunHandle {
            store,
            run: Mutex::new(run),
            shared: false,
        })
    }

    /// A handle on a run other processes drive forks of at the same time.
    pub fn shared(store: Store, run: Run) -> Arc<RunHandle> {
        Arc::new(RunHandle {
            store,
            run: Mutex::new(run),
            shared: true,
        })
    }

    /// A copy of the run as it is now.
    pub fn snapshot(&self) -> Run {
        match self.run.lock() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Changes the run and saves it atomically.
    pub fn update_run(&self, f: impl FnOnce(&mut Run)) -> Result<(), StateError> {
        let mut guard = match self.run.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if self.shared {
            let name = guard.run.clone();
            if let Some(current) = self.store.update(&name, || None, f)? {
                *guard = current;
            }
            return Ok(());
        }
        f(&mut guard);
        guard.refresh_state();
        // `ocfork merge` may record a finished fork as merged while others still run.
        if let Ok(disk) = self.store.load(&guard.run) {
            for fork in guard.forks.iter_mut() {
                if disk.fork(&fork.name).is_some_and(|d| d.merged) {
                    fork.merged = true;
                }
            }
        }
        self.store.save(&guard)
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

    /// Changes one fork in memory only (progress counters that need not hit the disk each time).
    pub fn touch(&self, fork: &str, f: impl FnOnce(&mut Fork)) {
        let mut guard = match self.run.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(fk) = guard.fork_mut(fork) {
            f(fk);
        }
    }
}
