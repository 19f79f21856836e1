//! Ctrl-C and SIGTERM: the first one cancels a token so work stops, commits and saves; a second
//! one is handed up (see [`aborted`]) for the command layer to end the process at once.

use std::sync::{LazyLock, OnceLock};

use tokio_util::sync::CancellationToken;

/// What stopped the work, once a signal did: "Ctrl-C" or "SIGTERM".
static STOPPED_BY: OnceLock<&'static str> = OnceLock::new();

/// When the first signal came in: everything a fork then asks of its server must be done
/// by a bound from this moment (see [`stop_deadline`]).
static STOPPED_AT: OnceLock<tokio::time::Instant> = OnceLock::new();

/// Cancelled by a second signal: the user wants out now, without saving.
static ABORTED: LazyLock<CancellationToken> = LazyLock::new(CancellationToken::new);

/// Why cancelled work stopped, in the user's words: "stopped by Ctrl-C".
pub fn stopped_by() -> String {
    format!(
        "stopped by {}",
        STOPPED_BY.get().copied().unwrap_or("Ctrl-C")
    )
}

/// Once a signal stopped the work: the moment by which a fork must be done asking its server
/// (aborting, settling, usage, disposing), `timeouts::Timeouts::fork_stop` after the signal,
/// so a server that stopped answering holds up a Ctrl-C that long at most, not the sum of
/// every request's limit. None while no signal came.
pub fn stop_deadline() -> Option<tokio::time::Instant> {
    STOPPED_AT
        .get()
        .map(|at| *at + crate::timeouts::get().fork_stop)
}

/// Resolves once a second Ctrl-C or SIGTERM came in. The command layer races the command
/// against it and exits at once (a spawned server dies with ocfork through its
/// parent-death signal).
pub async fn aborted() {
    ABORTED.cancelled().await;
}

/// A token cancelled by Ctrl-C or SIGTERM, so forks stop, commit and save. A second signal
/// resolves [`aborted`].
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
            let _ = STOPPED_AT.set(tokio::time::Instant::now());
            if round > 0 {
                ABORTED.cancel();
                return;
            }
            eprintln!(
                "ocfork: stopping: aborting sessions and committing what is there (Ctrl-C again to quit at once)"
            );
            token.cancel();
        }
    });
    cancel
}
