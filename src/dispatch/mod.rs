//! The relay queue: drives a run's forks through one OpenCode server, at most `jobs` prompting
//! at once, each fork from setup through its agent's turn, its check and its commit, with the
//! manifest saved at every state change.

mod drive;
mod fork;
pub mod ports;
pub mod preflight;
mod turn;

pub use drive::{DriveOptions, drive, drive_with};
pub use fork::{Shared, run_fork};
pub use turn::{TurnEnd, TurnWatch, follow_turn};

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

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

/// What stopped the run, once a signal did: "Ctrl-C" or "SIGTERM".
static STOPPED_BY: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Why a cancelled fork stopped, in the user's words: "stopped by Ctrl-C".
pub fn stopped_by() -> String {
    format!(
        "stopped by {}",
        STOPPED_BY.get().copied().unwrap_or("Ctrl-C")
    )
}

/// A token cancelled by Ctrl-C or SIGTERM, so forks stop, commit and save. A second signal
/// exits at once (the spawned server dies with ocfork through its parent-death signal).
pub fn cancel_on_signal() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        for round in 0.. {
            let sigterm = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            let by = tokio::select! {
                _ = tokio::signal::ctrl_c() => "Ctrl-C",
                _ = sigterm => "SIGTERM",
            };
            let _ = STOPPED_BY.set(by);
            if round > 0 {
                eprintln!("ocfork: interrupted again; exiting without saving the forks' work");
                std::process::exit(crate::cli::EXIT_INTERRUPTED);
            }
            eprintln!(
                "ocfork: stopping: aborting sessions and committing what is there (Ctrl-C again to quit at once)"
            );
            token.cancel();
        }
    });
    cancel
}
