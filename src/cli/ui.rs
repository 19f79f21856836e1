//! `ocfork ui`: the full-screen terminal UI on a run (the latest by default).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;

use super::{CmdResult, CommandError};

/// Watch a run live, compare its forks, merge, attach, continue — in the terminal.
#[derive(Args, Debug)]
#[command(
    after_help = "Keys: ↑/↓ j/k select, Enter/Tab table/patch, v compare two forks, s stat,
m merge (y/n), a attach OpenCode, c continue, J judge, ? help, q/Esc quit

Example:
  ocfork try --detach \"redux=Use Redux\" \"context=Use the Context API\"
  ocfork ui"
)]
pub struct UiArgs {
    /// The run (default: the latest)
    run: Option<String>,
}

pub async fn cmd_ui(args: UiArgs) -> CmdResult {
    require_terminal()?;
    let (repo, store) = super::repo_and_store()?;
    let run = store.resolve(args.run.as_deref())?;
    open(repo, store, run).await
}

/// Refuses when stdin or stdout is not a terminal.
pub fn require_terminal() -> Result<(), CommandError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(
            CommandError::usage("ocfork ui needs a terminal: stdout or stdin is not one")
                .with_hint("use `ocfork status`, `ocfork diff` or `ocfork wait` in scripts"),
        );
    }
    Ok(())
}

/// The UI on `run` until the user quits: 0, or 130 after Ctrl-C or a signal.
pub async fn open(
    repo: crate::git::Repo,
    store: crate::state::Store,
    run: crate::state::Run,
) -> CmdResult {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let sigterm = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = sigterm => {},
        }
        flag.store(true, Ordering::Relaxed);
    });
    let interrupted = tokio::task::spawn_blocking(move || crate::tui::run(repo, store, run, stop))
        .await
        .map_err(|e| CommandError::failure(format!("the UI stopped: {e}")))?
        .map_err(|e| CommandError::failure(format!("the terminal failed: {e}")))?;
    if interrupted {
        return Ok(super::EXIT_INTERRUPTED);
    }
    Ok(0)
}
