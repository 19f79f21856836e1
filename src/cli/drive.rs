//! `ocfork __drive RUN` (hidden): the background driver `try --detach` starts.

use clap::Args;

use super::CmdResult;
use crate::dispatch::{DriveOptions, drive};

#[derive(Args, Debug)]
pub struct DriveArgs {
    run: String,
}

pub async fn cmd_drive(args: DriveArgs) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let run = store.load(&args.run)?;
    let driven = drive(
        &repo,
        &store,
        run,
        DriveOptions {
            forks: Vec::new(),
            progress: true,
        },
    )
    .await?;
    Ok(super::run_exit_code(&driven.run))
}
