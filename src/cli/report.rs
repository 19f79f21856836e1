//! `ocfork report [RUN] -o FILE`: a self-contained HTML page comparing a run's forks.

use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, CommandError};

/// Write a self-contained HTML comparison of a run: its table and every fork's changes as
/// side-by-side diffs, forks that touched the same file next to each other.
#[derive(Args, Debug)]
#[command(
    after_help = "The page has no scripts and loads nothing from the network.

Example:
  ocfork report -o report.html && xdg-open report.html
  ocfork report redux-vs-context -o /tmp/r.html"
)]
pub struct ReportArgs {
    /// The run (default: the latest)
    #[arg(add = super::completions::runs())]
    run: Option<String>,
    /// Where to write the page (`-` for stdout)
    #[arg(short = 'o', long = "output", value_name = "FILE", default_value = "-")]
    output: PathBuf,
}

pub async fn cmd_report(args: ReportArgs) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let run = store.resolve(args.run.as_deref())?;
    let changes = crate::report::collect(&repo.workdir, &run)
        .map_err(|e| super::git_failed("could not read what the forks changed", e))?;
    let page = crate::report::render(&run, &changes);
    if args.output.as_os_str() == "-" {
        super::output::print_exact(&page)?;
        return Ok(0);
    }
    std::fs::write(&args.output, page)
        .map_err(|e| CommandError::usage(format!("cannot write {}: {e}", args.output.display())))?;
    eprintln!(
        "ocfork: report of run {} written to {}",
        run.run,
        args.output.display()
    );
    Ok(0)
}
