//! `ocfork merge`: bring a finished fork into the current branch of the tree the user is in,
//! as one squashed commit or a merge commit, after checking, without touching anything, that
//! it neither conflicts nor overwrites uncommitted work.

use clap::Args;

use super::{CmdResult, CommandError};
use crate::ops::merge::{self, CommitOptions, How, MergeWarning};

/// Bring a fork into the current branch: one squashed commit (default) or a merge commit.
///
/// Refuses, changing nothing, when the fork has not finished, when the merge would conflict
/// (the conflicting files are listed), or when the files it would write hold uncommitted
/// changes. Uncommitted changes in other files are left as they are.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  ocfork merge redux                      one commit with the changes of fork `redux`
  ocfork merge todo-store/redux --merge   a merge commit keeping the fork's commit
  ocfork merge redux --dry-run
  ocfork merge --best                     the fork `ocfork judge` ranked first")]
pub struct MergeArgs {
    /// The fork: FORK (latest run) or RUN/FORK; with --best, the run (default: the latest)
    #[arg(value_name = "REF", required_unless_present = "best", add = super::completions::forks())]
    reference: Option<String>,
    /// Merge the fork the run's verdict (`ocfork judge`) ranks first
    #[arg(long)]
    best: bool,
    /// One new commit on the current branch holding the fork's changes (the default)
    #[arg(long, conflicts_with = "merge")]
    squash: bool,
    /// A merge commit whose second parent is the fork's commit
    #[arg(long)]
    merge: bool,
    /// The commit message (default: names the run, the fork and its prompt)
    #[arg(short = 'm', long, value_name = "TEXT")]
    message: Option<String>,
    /// Say what would happen and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Skip your pre-commit and commit-msg hooks for the commit, as `git commit --no-verify`
    #[arg(long)]
    no_verify: bool,
}

pub async fn cmd_merge(args: MergeArgs) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let reference = match (args.best, &args.reference) {
        (true, run) => super::judge::best_ref(&store, run.as_deref())?,
        (false, Some(r)) => r.clone(),
        (false, None) => return Err(CommandError::usage("name the fork to merge, or use --best")),
    };
    let fork = store.resolve_fork(&reference)?;
    let how = if args.merge { How::Merge } else { How::Squash };
    let plan = merge::plan(&repo, fork, how, &mut warn)?;
    if args.dry_run {
        // "Nothing to merge" is said as a merge says it; only a real dry run stops quietly
        // on a closed stdout.
        let commit = matches!(plan.action, merge::Action::Commit { .. });
        for line in plan.lines() {
            match commit {
                true => super::output::println(line)?,
                false => super::output::println_during_change(line),
            }
        }
        return Ok(0);
    }
    let options = CommitOptions {
        message: args.message,
        no_verify: args.no_verify,
    };
    let outcome = merge::apply(&repo, &store, &plan, &options)?;
    super::output::println_during_change(plan.outcome_line(&outcome));
    Ok(0)
}

/// A warning about the fork, on stderr as it is found.
fn warn(w: MergeWarning) {
    match w {
        // The agent's own words about the branch may hold anything.
        MergeWarning::LostStart(_) => crate::text::eprint_line(format!("ocfork: {w}")),
        _ => eprintln!("ocfork: {w}"),
    }
}
