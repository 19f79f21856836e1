//! `ocfork status`: one line per fork of a run (the latest by default), or the run as JSON.

use clap::Args;

use super::CmdResult;

/// Show the forks of a run: state, time, files, +/-, check, error, and host when any is on one.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ocfork status\n  ocfork status redux-vs-context-api --json")]
pub struct StatusArgs {
    /// The run (default: the latest)
    #[arg(add = super::completions::runs())]
    run: Option<String>,
    /// Print the run as JSON (schema 1)
    #[arg(long)]
    json: bool,
}

pub async fn cmd_status(args: StatusArgs) -> CmdResult {
    let (_, store) = super::repo_and_store()?;
    let run = store.resolve(args.run.as_deref())?;
    super::try_cmd::finish(&run, args.json)?;
    if let (false, Some(v)) = (args.json, &run.judge) {
        super::output::print(crate::ui::verdict::summary(v))?;
    }
    Ok(0)
}
