//! `ocfork open REF`: print a fork's worktree path, for `cd "$(ocfork open redux)"`.

use clap::Args;

use super::CmdResult;

/// Print the worktree path of a fork.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  cd \"$(ocfork open redux)\"\n  ocfork open redux-vs-context/context"
)]
pub struct OpenArgs {
    /// The fork: FORK (in the latest run) or RUN/FORK
    #[arg(value_name = "REF", add = super::completions::forks())]
    reference: String,
}

pub async fn cmd_open(args: OpenArgs) -> CmdResult {
    let (_, store) = super::repo_and_store()?;
    let found = store.resolve_fork(&args.reference)?;
    super::output::println(super::existing_worktree(&found)?.display().to_string())?;
    Ok(0)
}
