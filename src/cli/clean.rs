//! `ocfork clean`: remove a finished run's worktrees and the branches whose work is merged,
//! keep the others (or, with `--force`, drop them and print the commits dropped), and forget
//! the run once nothing of it is left.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{CmdResult, CommandError, EXIT_FAILURE};
use crate::git::Repo;
use crate::state::{Fork, Run, RunState, Store};

/// Remove a run's worktrees and merged branches; unmerged branches are kept.
///
/// A branch counts as merged when `ocfork merge` merged its commit, when its commit is
/// reachable from HEAD or from a branch outside ocfork/, or when it holds nothing beyond the
/// run's start. Refuses, changing nothing, while the run is running or when a worktree holds
/// uncommitted changes. The run's record is deleted once all its branches are gone, and kept
/// (for `merge`, `diff`, `clean --force`) while any is left.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  ocfork clean                  the latest run
  ocfork clean todo-store --force
  ocfork clean --all            every finished run")]
pub struct CleanArgs {
    /// The run (default: the latest)
    #[arg(value_name = "RUN")]
    run: Option<String>,
    /// Also drop unmerged branches and uncommitted changes in worktrees, printing the commit
    /// of each branch dropped (`git branch NAME COMMIT` brings one back)
    #[arg(long)]
    force: bool,
    /// Clean every finished run
    #[arg(long, conflicts_with = "run")]
    all: bool,
}

/// What clean will do with one fork.
struct Plan<'a> {
    fork: &'a Fork,
    /// Git has a worktree registered at the fork's path.
    registered: bool,
    /// Uncommitted files in the worktree.
    dirty: Vec<String>,
    /// Where the branch points, when it exists.
    tip: Option<String>,
    /// Why the branch can go without losing anything, if it can.
    merged: Option<&'static str>,
}

pub async fn cmd_clean(args: CleanArgs) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let runs = if args.all {
        let (runs, bad) = store.all()?;
        for e in &bad {
            eprintln!("ocfork: warning: skipping a run: {e}");
        }
        let (running, finished): (Vec<Run>, Vec<Run>) = runs.into_iter().partition(is_running);
        for r in &running {
            eprintln!("ocfork: skipping run {}: still running", r.run);
        }
        finished
    } else {
        let run = store.resolve(args.run.as_deref())?;
        if is_running(&run) {
            return Err(CommandError::failure(format!(
                "run {} is still running{}; nothing was removed",
                run.run,
                run.pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
            ))
            .with_hint(format!(
                "wait for it with `ocfork wait {}`, then clean",
                run.run
            )));
        }
        vec![run]
    };
    if runs.is_empty() {
        super::output::println("no finished runs to clean")?;
        return Ok(0);
    }

    let mut plans: Vec<(&Run, Vec<Plan>)> = Vec::new();
    for run in &runs {
        plans.push((run, plan(&repo, run)?));
    }
    for (_, forks) in &plans {
        for p in forks {
            if p.registered && super::same_dir(&repo.workdir, &p.fork.worktree) {
                return Err(CommandError::usage(format!(
                    "you are in {}, a worktree clean would remove; run it from the main tree",
                    p.fork.worktree.display()
                )));
            }
        }
    }
    let dirty: Vec<String> = plans
        .iter()
        .flat_map(|(_, forks)| forks)
        .filter(|p| !p.dirty.is_empty())
        .map(|p| format!("{}: {}", p.fork.worktree.display(), p.dirty.join(", ")))
        .collect();
    if !dirty.is_empty() && !args.force {
        return Err(CommandError::failure(format!(
            "uncommitted changes in fork worktrees; nothing was removed:\n  {}",
            dirty.join("\n  ")
        ))
        .with_hint(
            "commit or discard them, or use --force (which commits them to the fork's branch first and prints that commit)",
        ));
    }

    let mut failed = false;
    for (run, forks) in &mut plans {
        failed |= clean_run(&repo, &store, run, forks, args.force)?;
    }
    Ok(if failed { EXIT_FAILURE } else { 0 })
}

fn is_running(run: &Run) -> bool {
    run.state == RunState::Running || run.owner_alive()
}

fn plan<'a>(repo: &Repo, run: &'a Run) -> Result<Vec<Plan<'a>>, CommandError> {
    let mut out = Vec::new();
    for fork in &run.forks {
        let registered = repo.has_worktree(&fork.worktree)?;
        let dirty = if registered && fork.worktree.is_dir() {
            crate::git::dirty_paths(&fork.worktree)?
        } else {
            Vec::new()
        };
        let tip = repo.branch_tip(&fork.branch);
        let merged = match &tip {
            Some(t) => merged_reason(repo, run, fork, t)?,
            None => None,
        };
        out.push(Plan {
            fork,
            registered,
            dirty,
            tip,
            merged,
        });
    }
    Ok(out)
}

fn merged_reason(
    repo: &Repo,
    run: &Run,
    fork: &Fork,
    tip: &str,
) -> Result<Option<&'static str>, CommandError> {
    if fork.merged && fork.commit.as_deref() == Some(tip) {
        return Ok(Some("merged"));
    }
    if repo.is_ancestor(tip, &run.start) {
        return Ok(Some("no commits of its own"));
    }
    if repo.reachable_outside_ocfork(tip)? {
        return Ok(Some("reachable from your branches"));
    }
    Ok(None)
}

/// Cleans one run; returns true when something could not be removed.
fn clean_run(
    repo: &Repo,
    store: &Store,
    run: &Run,
    forks: &mut [Plan],
    force: bool,
) -> Result<bool, CommandError> {
    let mut failed = false;
    let mut kept = 0;
    crate::git::with_repo_lock(&repo.common_dir, || {
        for p in forks.iter_mut() {
            if !p.dirty.is_empty() {
                // --force: keep the uncommitted work on the branch, whose commit is printed.
                let msg = format!(
                    "ocfork clean: uncommitted changes left in the worktree of {}/{}",
                    run.run, p.fork.name
                );
                if let Some(c) = crate::git::commit_all(&p.fork.worktree, &msg)? {
                    p.tip = Some(c);
                    p.merged = None;
                }
            }
            if p.registered {
                match repo.remove_worktree(&p.fork.worktree, force) {
                    Ok(()) => super::output::println_during_change(format!(
                        "removed worktree {}",
                        p.fork.worktree.display()
                    )),
                    Err(e) => {
                        eprintln!("ocfork: could not remove the worktree: {e}");
                        failed = true;
                    }
                }
            } else if p.fork.worktree.exists() {
                eprintln!(
                    "ocfork: {} is not a git worktree any more; left it alone",
                    p.fork.worktree.display()
                );
            }
        }
        repo.prune_worktrees()?;
        for p in forks.iter() {
            let Some(tip) = &p.tip else { continue };
            let branch = &p.fork.branch;
            let reference = format!("{}/{}", run.run, p.fork.name);
            if p.merged.is_none() && !force {
                kept += 1;
                super::output::println_during_change(format!(
                    "kept branch {branch} (not merged): `ocfork merge {reference}` to merge it, `ocfork clean {} --force` to drop it",
                    run.run
                ));
                continue;
            }
            match repo.delete_branch(branch) {
                Ok(()) => match p.merged {
                    Some(why) => super::output::println_during_change(format!(
                        "deleted branch {branch} ({why}; was {tip})"
                    )),
                    None => super::output::println_during_change(format!(
                        "dropped branch {branch} at {tip}; bring it back with `git branch {branch} {tip}`"
                    )),
                },
                Err(e) => {
                    kept += 1;
                    failed = true;
                    eprintln!("ocfork: kept branch {branch}: {e}");
                }
            }
        }
        Ok(())
    })?;
    remove_empty_dirs(run);
    if kept == 0 {
        store.remove(&run.run)?;
        crate::compare::forget(&repo.common_dir, &run.start);
        super::output::println_during_change(format!("removed run {}", run.run));
    } else {
        super::output::println_during_change(format!(
            "kept the record of run {} while {kept} branch{} remain{}",
            run.run,
            if kept == 1 { "" } else { "es" },
            if kept == 1 { "s" } else { "" }
        ));
    }
    Ok(failed)
}

/// Removes the run's worktree folder, and the `<repo>.ocfork` folder above it, once empty.
fn remove_empty_dirs(run: &Run) {
    let parents: Vec<PathBuf> = run
        .forks
        .iter()
        .filter_map(|f| f.worktree.parent().map(Path::to_path_buf))
        .collect();
    for dir in parents {
        if std::fs::remove_dir(&dir).is_ok()
            && let Some(up) = dir.parent()
            && up.extension().is_some_and(|e| e == "ocfork")
        {
            let _ = std::fs::remove_dir(up);
        }
    }
}
