//! The relay queue: drives a run's forks through one OpenCode server, at most `jobs` prompting
//! at once, each fork from setup through its agent's turn, its check and its commit, with the
//! manifest saved at every state change (by one writer thread, see [`record`]).

mod drive;
mod fork;
pub mod pool;
pub mod ports;
pub mod preflight;
mod record;
mod turn;

pub use drive::{DriveOptions, drive, drive_with};
pub use fork::{Shared, run_fork};
pub use record::RunHandle;
pub use turn::{TurnEnd, TurnWatch, follow_turn};

use tokio_util::sync::CancellationToken;

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
