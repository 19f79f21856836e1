//! `ocfork clean`: remove a finished run's worktrees and the branches whose work is merged,
//! keep the others (or, with `--force`, drop them and print every commit dropped), never
//! touch what is not the run's (the user's worktrees and branches, nested repositories whose
//! work exists nowhere else), and forget the run once nothing of it is left.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{CmdResult, CommandError, EXIT_FAILURE};
use crate::git::Repo;
use crate::state::{Run, RunState, Store};

#[path = "clean_hosts.rs"]
mod clean_hosts;
#[path = "clean_plan.rs"]
mod clean_plan;
use clean_plan::{Plan, decide_kept, plan};

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

    // Forks on hosts first: a run whose work is still only on a host is kept whole.
    let mut kept_on_hosts = false;
    let mut here = Vec::new();
    for run in runs {
        match clean_hosts::clean_hosts(&repo, &run).await {
            true => here.push(run),
            false => kept_on_hosts = true,
        }
    }
    let runs = here;
    let mut plans: Vec<(&Run, Vec<Plan>)> = Vec::new();
    let worktrees = repo.worktrees()?;
    for run in &runs {
        plans.push((run, plan(&repo, &worktrees, run)?));
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
    // Each fork stands alone: one that cannot go safely is kept and named, the others go.
    let mut failed = kept_on_hosts;
    for (run, forks) in &mut plans {
        for p in forks.iter_mut() {
            decide_kept(p, args.force);
            if let Some(k) = &p.kept {
                failed = true;
                eprintln!(
                    "ocfork: kept fork {}/{} (its worktree and branch): {}\nhint: {}",
                    run.run, p.fork.name, k.why, k.hint
                );
            }
        }
    }
    for (run, forks) in &mut plans {
        let_go_of_instances(run).await;
        failed |= clean_run(&repo, &store, run, forks, args.force)?;
    }
    Ok(if failed { EXIT_FAILURE } else { 0 })
}

/// Asks each of the user's servers (`--server`) that ran a fork of `run` to let go of the
/// fork's instance (file watcher, LSP, plugin state), in case the user's own OpenCode opened it
/// again after the fork ended (the fork lets go when it finishes). Best effort: a server that
/// is gone is skipped, a slow one given 20 s (in CI, under load, 5 s was not enough for the
/// server to report the dispose). Servers ocfork spawned stopped with their run.
async fn let_go_of_instances(run: &Run) {
    let users: Vec<&String> = run.pool_urls.iter().chain(&run.server).collect();
    let password = std::env::var("OPENCODE_SERVER_PASSWORD").ok();
    let disposals = run.forks.iter().filter_map(|fork| {
        let url = fork.server.as_ref()?;
        let same = |u: &&String| u.trim_end_matches('/') == url.trim_end_matches('/');
        users.iter().copied().find(same)?;
        let client = crate::opencode::Client::new(url, password.as_deref()).ok()?;
        let dir = fork.worktree.clone();
        Some(async move {
            let dispose = client.dispose_instance(&dir);
            let _ = tokio::time::timeout(crate::timeouts::get().clean_dispose, dispose).await;
        })
    });
    futures_util::future::join_all(disposals).await;
}

fn is_running(run: &Run) -> bool {
    run.state == RunState::Running || run.owner_alive()
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
        for p in forks.iter_mut().filter(|p| p.kept.is_none()) {
            // Only with --force is there anything here: without, the fork is kept.
            save_leftovers(run, p)?;
            if p.registered {
                // Git refuses any worktree holding a repository; each was checked above.
                match repo.remove_worktree(&p.fork.worktree, force || p.nested || p.copies) {
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
        for p in forks.iter() {
            if p.kept.is_some() {
                kept += 1;
                continue;
            }
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
                Ok(()) => match &p.merged {
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

/// With --force, before the worktree goes: commits its uncommitted changes to the fork's
/// branch, or, when the user switched it to another HEAD, prints that HEAD's commit if no
/// branch holds it and a commit of the changes on top of it, made without moving any branch.
fn save_leftovers(run: &Run, p: &mut Plan) -> Result<(), crate::git::GitError> {
    let wt = &p.fork.worktree;
    let msg = format!(
        "ocfork clean: uncommitted changes left in the worktree of {}/{}",
        run.run, p.fork.name
    );
    let Some(tree) = p.tree.clone() else {
        return Ok(());
    };
    if p.on_fork_branch {
        if !p.dirty.is_empty() {
            let done = crate::git::commit_fork(&tree, &p.fork.branch, &run.start, &msg)?;
            if done.new_commit {
                p.tip = Some(done.tip);
                p.merged = None;
            }
        }
        return Ok(());
    }
    let rescue = format!("ocfork-rescued/{}/{}", run.run, p.fork.name);
    if let Some(head) = &p.lost_head {
        super::output::println_during_change(format!(
            "dropped the detached HEAD of {} at {head}; bring it back with `git branch {rescue} {head}`",
            wt.display()
        ));
    }
    if !p.dirty.is_empty()
        && let Some(c) = crate::git::snapshot_worktree(&tree, &msg)?
    {
        let on = match &p.head_branch {
            Some(b) => format!("on top of branch {b}"),
            None => "on top of its detached HEAD".into(),
        };
        super::output::println_during_change(format!(
            "dropped uncommitted changes in {} as {c} ({on}); bring them back with `git branch {rescue}-uncommitted {c}`",
            wt.display()
        ));
    }
    Ok(())
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
