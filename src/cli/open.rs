//! `ocfork open REF`: print a fork's worktree path, for `cd "$(ocfork open redux)"`; `HOST:PATH`
//! for a fork on another machine (`try --host`).

use clap::Args;

use super::CmdResult;

/// Print the worktree path of a fork (`HOST:PATH` for a fork on a host).
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
    // A fork on another machine: where it is there, as scp and rsync take it.
    if let Some(host) = &found.fork().host {
        let path = found.fork().worktree.display();
        super::output::println(format!("{host}:{path}"))?;
        return Ok(0);
    }
    super::output::println(super::existing_worktree(&found)?.display().to_string())?;
    Ok(0)
}
