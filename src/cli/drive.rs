//! `ocfork __drive RUN` (hidden): the background driver `try --detach` starts.

use clap::Args;

use super::CmdResult;
use crate::dispatch::{DriveOptions, drive};
use crate::ui::LiveView;

#[derive(Args, Debug)]
pub struct DriveArgs {
    run: String,
}

pub async fn cmd_drive(args: DriveArgs) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let run = store.load(&args.run)?;
    let driven = drive::<LiveView>(&repo, &store, run, DriveOptions { forks: Vec::new() }).await?;
    Ok(super::run_exit_code(&driven.run))
}
