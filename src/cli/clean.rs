//! `ocfork clean`: its arguments, and what [`crate::ops::clean`] says as it cleans: what it
//! removed and kept on stdout, what it could not or would not remove on stderr.

use clap::Args;

use super::{CmdResult, EXIT_FAILURE};
use crate::ops::clean::{self, CleanEvent, Which};

/// Remove a run's worktrees and merged branches; unmerged branches are kept.
///
/// A branch counts as merged when `ocfork merge` merged its commit, when its commit is
/// reachable from HEAD or from a branch outside ocfork/, when HEAD already has every change it
/// made, or when it holds nothing beyond the run's start. Refuses, changing nothing, while the
/// run is running. Each fork stands alone: one whose worktree holds uncommitted changes or a
/// commit no branch holds, or (even with --force) a git repository whose work exists nowhere
/// else, or that git cannot read, is kept whole and named; the others are cleaned. The
/// run's record is deleted once all its branches are gone, and kept (for `merge`, `diff`,
/// `clean --force`) while any is left.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  ocfork clean                  the latest run
  ocfork clean todo-store --force
  ocfork clean --all            every finished run")]
pub struct CleanArgs {
    /// The run (default: the latest)
    #[arg(value_name = "RUN", add = super::completions::runs())]
    run: Option<String>,
    /// Also drop unmerged branches, uncommitted changes and commits on a worktree's detached
    /// HEAD, printing every commit dropped (`git branch NAME COMMIT` brings one back)
    #[arg(long)]
    force: bool,
    /// Clean every finished run
    #[arg(long, conflicts_with = "run")]
    all: bool,
}

pub async fn cmd_clean(args: CleanArgs) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let which = match args.all {
        true => Which::All,
        false => Which::One(args.run.as_deref()),
    };
    let runs = clean::runs(&store, which, &mut say)?;
    if runs.is_empty() {
        super::output::println("no finished runs to clean")?;
        return Ok(0);
    }
    // Forks on hosts first: a run whose work is still only on a host is kept whole.
    let (runs, kept_on_hosts) = clean::clean_hosts(&repo, runs, &mut say).await;
    let mut plans = clean::plan(&repo, &runs, args.force)?;
    let outcome = clean::apply(&repo, &store, &mut plans, args.force, &mut say).await?;
    Ok(if outcome.failed || kept_on_hosts {
        EXIT_FAILURE
    } else {
        0
    })
}

/// A line of clean's as it happens: what it did on stdout (on stderr once stdout is closed,
/// so a dropped commit is still said), what it left on stderr.
fn say(event: CleanEvent) {
    match event {
        CleanEvent::Done(line) => super::output::println_during_change(line),
        CleanEvent::Problem(line) => eprintln!("ocfork: {line}"),
    }
}
