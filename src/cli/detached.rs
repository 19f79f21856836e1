//! `ocfork __drive RUN` (hidden): drives a `try --detach` run to its end in the background
//! (`dispatch::drive` does the driving; this is only the detached process around it).

use clap::Args;

use super::CmdResult;
use crate::dispatch::{DriveOptions, drive};
use crate::ui::LiveView;

#[derive(Args, Debug)]
pub struct DetachedArgs {
    run: String,
}

pub async fn cmd_detached(args: DetachedArgs) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let run = store.load(&args.run)?;
    let driven = drive::<LiveView>(&repo, &store, run, DriveOptions::default()).await?;
    Ok(super::run_exit_code(&driven.run))
}
