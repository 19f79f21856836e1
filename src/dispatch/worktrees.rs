//! The forks' worktrees a run needs before its forks start: made where missing (registered
//! one at a time, written in parallel), taken as they are where git has them already.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::RunHandle;
use crate::git::Repo;

/// Forks' worktrees checked out at once. Checkout is bound by the kernel creating files;
/// past a few writers they only contend with each other.
const CHECKOUTS_AT_ONCE: usize = 8;

/// Creates the worktrees that do not exist yet: registered one at a time (cheap, and git's
/// worktree list does not take concurrent writers), then their files written in parallel.
/// Returns the forks that have one, and of those the ones whose worktree was made now; the
/// others are marked failed with git's error.
pub(super) async fn make_worktrees(
    repo: &Repo,
    handle: &Arc<RunHandle>,
    names: &[String],
) -> (Vec<String>, HashSet<String>) {
    let run = handle.snapshot();
    let mut ready = Vec::new();
    let mut made_now = HashSet::new();
    let mut registered = Vec::new();
    for name in names {
        let Some(fork) = run.fork(name) else { continue };
        // A worktree git has (its `.git` link written back if an agent removed it).
        if crate::git::ForkTree::open(&repo.common_dir, &fork.worktree).is_ok() {
            ready.push(name.clone());
            continue;
        }
        let (path, branch, start) = (
            fork.worktree.clone(),
            fork.branch.clone(),
            run.start.clone(),
        );
        let repo = repo.clone();
        let res = tokio::task::spawn_blocking(move || {
            crate::git::with_repo_lock(&repo.common_dir, || {
                repo.register_worktree(&path, &branch, &start)
            })
        })
        .await
        .unwrap_or_else(|e| Err(crate::git::GitError::Lost(e.to_string())));
        match res {
            Ok(made) => registered.push((
                name.clone(),
                fork.worktree.clone(),
                fork.branch.clone(),
                made,
            )),
            Err(e) => worktree_failed(handle, name, &e),
        }
    }
    let sem = Arc::new(Semaphore::new(CHECKOUTS_AT_ONCE));
    let tasks: Vec<_> = registered
        .into_iter()
        .map(|(name, path, branch, made)| {
            let repo = repo.clone();
            let sem = sem.clone();
            let copy = run.copy.clone();
            tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                let res = tokio::task::spawn_blocking(move || {
                    repo.populate_worktree(&path, &branch, made)?;
                    crate::git::include::copy_into_new_worktree(&repo.workdir, &path, &copy)
                })
                .await
                .unwrap_or_else(|e| Err(crate::git::GitError::Lost(e.to_string())));
                (name, res)
            })
        })
        .collect();
    for t in tasks {
        let Ok((name, res)) = t.await else { continue };
        match res {
            Ok(()) => {
                made_now.insert(name.clone());
                ready.push(name);
            }
            Err(e) => worktree_failed(handle, &name, &e),
        }
    }
    (ready, made_now)
}

fn worktree_failed(handle: &RunHandle, name: &str, e: &crate::git::GitError) {
    handle.update(name, |f| {
        f.finish(
            crate::state::EndReason::WorktreeFailed,
            Some(format!("could not create the worktree: {e}")),
        );
    });
}
