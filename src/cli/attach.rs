//! `ocfork attach REF`: OpenCode's TUI on a fork's session, in the fork's worktree.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, CommandError};

/// Open OpenCode's TUI on a fork's session.
#[derive(Args, Debug)]
#[command(
    after_help = "Runs `opencode <worktree> --session <id>`, or `opencode attach <url> --dir <worktree> \
--session <id>` for a run driven through --server.

Example:
  ocfork attach redux
  ocfork attach redux-vs-context/context --print"
)]
pub struct AttachArgs {
    /// The fork: FORK (in the latest run) or RUN/FORK
    #[arg(value_name = "REF", add = super::completions::forks())]
    reference: String,
    /// The opencode binary (else $OCFORK_OPENCODE, else the one the run used, else `opencode` on PATH)
    #[arg(long, value_name = "PATH")]
    opencode: Option<PathBuf>,
    /// Print the command instead of running it
    #[arg(long)]
    print: bool,
}

pub async fn cmd_attach(args: AttachArgs) -> CmdResult {
    let (_, store) = super::repo_and_store()?;
    let found = store.resolve_fork(&args.reference)?;
    let attach = crate::ops::attach::command(&found, args.opencode.as_deref())?;
    if args.print {
        super::output::println(attach.shell_words())?;
        return Ok(0);
    }
    attach.check().await?;
    let err = attach.process().exec();
    Err(CommandError::failure(format!(
        "cannot run {}: {err}",
        attach.bin.display()
    )))
}
