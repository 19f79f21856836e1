//! `ocfork open REF`: print a fork's worktree path, for `cd "$(ocfork open redux)"`.

use clap::Args;

use super::{CmdResult, CommandError};

/// Print the worktree path of a fork.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  cd \"$(ocfork open redux)\"\n  ocfork open redux-vs-context/context"
)]
pub struct OpenArgs {
    /// The fork: FORK (in the latest run) or RUN/FORK
    #[arg(value_name = "REF")]
    reference: String,
}

pub async fn cmd_open(args: OpenArgs) -> CmdResult {
    let (_, store) = super::repo_and_store()?;
    let (run, name) = store.resolve_fork(&args.reference)?.into_parts();
    let Some(fork) = run.fork(&name) else {
        return Err(CommandError::usage(format!(
            "run `{}` has no fork `{name}`",
            run.run
        )));
    };
    if !fork.worktree.is_dir() {
        return Err(CommandError::failure(format!(
            "the worktree of {}/{name} is gone ({})",
            run.run,
            fork.worktree.display()
        ))
        .with_hint(format!("its work is on branch {}", fork.branch)));
    }
    println!("{}", fork.worktree.display());
    Ok(0)
}
