//! `ocfork demo`: the whole flow offline, on the built-in scripted model, in a temp repo.

use clap::Args;

use super::CmdResult;

/// Run a two-fork `try` offline against the built-in scripted model in a temporary repo.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo repository instead of deleting it
    #[arg(long)]
    keep: bool,
}

pub async fn cmd_demo(_args: DemoArgs) -> CmdResult {
    Err(super::CommandError::failure("demo is not ready yet"))
}
