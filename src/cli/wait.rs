//! `ocfork wait`: block until every fork of a run has finished.

use std::time::Duration;

use clap::Args;

use super::CmdResult;
use crate::state::RunState;

/// Wait for every fork of a run (the latest by default) to finish.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ocfork try --detach \"Use Redux\" \"Use MobX\" && ocfork wait --json"
)]
pub struct WaitArgs {
    /// The run (default: the latest)
    #[arg(add = super::completions::runs())]
    run: Option<String>,
    /// Print the run as JSON (schema 1) when it ends
    #[arg(long)]
    json: bool,
}

pub async fn cmd_wait(args: WaitArgs) -> CmdResult {
    let (_, store) = super::repo_and_store()?;
    let name = store.resolve(args.run.as_deref())?.run;
    loop {
        let run = store.load_checked(&name)?;
        if run.state != RunState::Running && !run.owner_alive() {
            super::output::after_work(super::try_cmd::finish(&run, args.json))?;
            return Ok(super::run_exit_code(&run));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
