//! Cleaning finished runs: remove their worktrees and the branches whose work is merged, keep
//! the others (or, with `force`, drop them, saying every commit dropped), never touch what is
//! not the run's (the user's worktrees and branches, nested repositories whose work exists
//! nowhere else), and forget a run once nothing of it is left. [`plan`] looks, [`apply`] acts;
//! both say what they find and do through a [`Say`] as it happens.

use std::path::{Path, PathBuf};

use crate::git::{GitError, Repo};
use crate::state::{Run, RunState, StateError, Store};

#[path = "clean_hosts.rs"]
mod clean_hosts;
#[path = "clean_plan.rs"]
mod clean_plan;
pub use clean_plan::{Kept, Plan, decide_kept};

/// A line about what clean did or left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanEvent {
    /// Something removed, dropped or kept as intended (the command's output).
    Done(String),
    /// Something skipped, kept or not removable (a warning; the command's stderr, after
    /// `ocfork: `).
    Problem(String),
}

/// Where the lines go as they happen.
pub type Say<'a> = &'a mut (dyn FnMut(CleanEvent) + Send);

crate::fault::error_enum! {
    /// Why clean changed nothing.
    #[derive(Debug, thiserror::Error)]
    pub enum CleanError {
        #[error("run {run} is still running{}; nothing was removed", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
        Running { run: String, pid: Option<u32> },
        #[error("you are in {}, a worktree clean would remove; run it from the main tree", .0.display())]
        InsideWorktree(PathBuf),
    }
    wraps transparent { Git(GitError), State(StateError) }
    meaning(self) {
        CleanError::Running { run, .. } => {
            Meaning::failure().hint(format!("wait for it with `ocfork wait {run}`, then clean"))
        }
        CleanError::InsideWorktree(_) => Meaning::user(),
    }
}

/// Which runs to clean.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    /// Every finished run (running ones and unreadable ones are skipped, and said so).
    All,
    /// This run (default: the latest); refused while it runs.
    One(Option<&'a str>),
}

/// The runs `which` names that can be cleaned.
pub fn runs(store: &Store, which: Which, say: Say) -> Result<Vec<Run>, CleanError> {
    match which {
        Which::All => {
            let (runs, bad) = store.all()?;
            for e in &bad {
                say(CleanEvent::Problem(format!("warning: skipping a run: {e}")));
            }
            let (running, finished): (Vec<Run>, Vec<Run>) = runs.into_iter().partition(is_running);
            for r in &running {
                say(CleanEvent::Problem(format!(
                    "skipping run {}: still running",
                    r.run
                )));
            }
            Ok(finished)
        }
        Which::One(name) => {
            let run = store.resolve(name)?;
            if is_running(&run) {
                return Err(CleanError::Running {
                    run: run.run,
                    pid: run.pid,
                });
            }
            Ok(vec![run])
        }
    }
}

fn is_running(run: &Run) -> bool {
    run.state == RunState::Running || run.owner_alive()
}

/// Removes the runs' forks from their hosts where their work is home. Returns the runs with
/// nothing left on a host, and whether any run was kept for its hosts (said why).
pub async fn clean_hosts(repo: &Repo, runs: Vec<Run>, say: Say<'_>) -> (Vec<Run>, bool) {
    let mut kept_on_hosts = false;
    let mut here = Vec::new();
    for run in runs {
        match clean_hosts::clean_hosts(repo, &run, &mut *say).await {
            true => here.push(run),
            false => kept_on_hosts = true,
        }
    }
    (here, kept_on_hosts)
}

/// One run and what clean will do with each of its forks.
pub struct RunPlan<'a> {
    pub run: &'a Run,
    pub forks: Vec<Plan<'a>>,
}

/// What clean will do with each fork of `runs`, changing nothing: which forks are kept whole
/// (and why), which branches can go. Refused when the current directory is a worktree it
/// would remove.
pub fn plan<'a>(repo: &Repo, runs: &'a [Run], force: bool) -> Result<Vec<RunPlan<'a>>, CleanError> {
    let worktrees = repo.worktrees()?;
    let mut plans = Vec::new();
    for run in runs {
        let forks = clean_plan::plan(repo, &worktrees, run)?;
        plans.push(RunPlan { run, forks });
    }
    for p in plans.iter().flat_map(|r| &r.forks) {
        if p.registered && super::same_dir(&repo.workdir, &p.fork.worktree) {
            return Err(CleanError::InsideWorktree(p.fork.worktree.clone()));
        }
    }
    for p in plans.iter_mut().flat_map(|r| &mut r.forks) {
        decide_kept(p, force);
    }
    Ok(plans)
}

/// What [`apply`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CleanOutcome {
    /// A fork was kept for a reason that needs the user, or something could not be removed.
    pub failed: bool,
    /// The runs whose record is gone (nothing of them left).
    pub removed: Vec<String>,
}

/// Does what `plans` say: each fork stands alone, so one kept whole (said why) does not stop
/// the others of its run.
pub async fn apply(
    repo: &Repo,
    store: &Store,
    plans: &mut [RunPlan<'_>],
    force: bool,
    say: Say<'_>,
) -> Result<CleanOutcome, CleanError> {
    let mut outcome = CleanOutcome::default();
    for plan in plans.iter() {
        for p in &plan.forks {
            if let Some(k) = &p.kept {
                outcome.failed = true;
                say(CleanEvent::Problem(format!(
                    "kept fork {}/{} (its worktree and branch): {}\nhint: {}",
                    plan.run.run, p.fork.name, k.why, k.hint
                )));
            }
        }
    }
    for plan in plans.iter_mut() {
        let_go_of_instances(plan.run).await;
        let (failed, removed) = clean_run(repo, store, plan, force, &mut *say)?;
        outcome.failed |= failed;
        if removed {
            outcome.removed.push(plan.run.run.clone());
        }
    }
    Ok(outcome)
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

/// Cleans one run: (something could not be removed, the run's record was removed).
fn clean_run(
    repo: &Repo,
    store: &Store,
    plan: &mut RunPlan,
    force: bool,
    say: Say,
) -> Result<(bool, bool), CleanError> {
    let run = plan.run;
    let mut failed = false;
    let mut kept = 0;
    crate::git::with_repo_lock(&repo.common_dir, || {
        for p in plan.forks.iter_mut().filter(|p| p.kept.is_none()) {
            // Only with force is there anything here: without, the fork is kept.
            save_leftovers(run, p, &mut *say)?;
            if p.registered {
                // Git refuses any worktree holding a repository; each was checked above.
                match repo.remove_worktree(&p.fork.worktree, force || p.nested || p.copies) {
                    Ok(()) => say(CleanEvent::Done(format!(
                        "removed worktree {}",
                        p.fork.worktree.display()
                    ))),
                    Err(e) => {
                        say(CleanEvent::Problem(format!(
                            "could not remove the worktree: {e}"
                        )));
                        failed = true;
                    }
                }
            } else if p.fork.worktree.exists() {
                say(CleanEvent::Problem(format!(
                    "{} is not a git worktree any more; left it alone",
                    p.fork.worktree.display()
                )));
            }
        }
        for p in plan.forks.iter() {
            if p.kept.is_some() {
                kept += 1;
                continue;
            }
            let Some(tip) = &p.tip else { continue };
            let branch = &p.fork.branch;
            let reference = format!("{}/{}", run.run, p.fork.name);
            if p.merged.is_none() && !force {
                kept += 1;
                say(CleanEvent::Done(format!(
                    "kept branch {branch} (not merged): `ocfork merge {reference}` to merge it, `ocfork clean {} --force` to drop it",
                    run.run
                )));
                continue;
            }
            match repo.delete_branch(branch) {
                Ok(()) => say(CleanEvent::Done(match &p.merged {
                    Some(why) => format!("deleted branch {branch} ({why}; was {tip})"),
                    None => format!(
                        "dropped branch {branch} at {tip}; bring it back with `git branch {branch} {tip}`"
                    ),
                })),
                Err(e) => {
                    kept += 1;
                    failed = true;
                    say(CleanEvent::Problem(format!("kept branch {branch}: {e}")));
                }
            }
        }
        Ok(())
    })?;
    remove_empty_dirs(run);
    if kept == 0 {
        store.remove(&run.run)?;
        crate::compare::forget(&repo.common_dir, &run.start);
        say(CleanEvent::Done(format!("removed run {}", run.run)));
    } else {
        say(CleanEvent::Done(format!(
            "kept the record of run {} while {kept} branch{} remain{}",
            run.run,
            if kept == 1 { "" } else { "es" },
            if kept == 1 { "s" } else { "" }
        )));
    }
    Ok((failed, kept == 0))
}

/// With force, before the worktree goes: commits its uncommitted changes to the fork's
/// branch, or, when the user switched it to another HEAD, says that HEAD's commit if no
/// branch holds it and a commit of the changes on top of it, made without moving any branch.
fn save_leftovers(run: &Run, p: &mut Plan, say: Say) -> Result<(), GitError> {
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
        say(CleanEvent::Done(format!(
            "dropped the detached HEAD of {} at {head}; bring it back with `git branch {rescue} {head}`",
            wt.display()
        )));
    }
    if !p.dirty.is_empty()
        && let Some(c) = crate::git::snapshot_worktree(&tree, &msg)?
    {
        let on = match &p.head_branch {
            Some(b) => format!("on top of branch {b}"),
            None => "on top of its detached HEAD".into(),
        };
        say(CleanEvent::Done(format!(
            "dropped uncommitted changes in {} as {c} ({on}); bring them back with `git branch {rescue}-uncommitted {c}`",
            wt.display()
        )));
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

#[cfg(test)]
#[path = "clean_tests.rs"]
mod tests;
