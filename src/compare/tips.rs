//! Where a fork's work is: the tip of its branch, or, once the branch is gone, the commit the
//! run recorded, while git still has it.

use crate::git::Repo;
use crate::state::Fork;

/// The commit holding a fork's work: the tip of its branch (which also has anything committed
/// there after the run), or the commit recorded in the run once the branch is gone and while
/// git still has it.
pub fn fork_tip(repo: &Repo, fork: &Fork) -> Option<String> {
    repo.branch_tip(&fork.branch)
        .or_else(|| recorded_tip(repo, fork))
}

/// The commit the run recorded for a fork whose branch is gone, while git still has it.
fn recorded_tip(repo: &Repo, fork: &Fork) -> Option<String> {
    fork.commit
        .as_deref()
        .and_then(|c| repo.resolve_commit(c).ok())
}

/// [`fork_tip`] of every fork, with one git process for all the branches.
pub fn fork_tips(repo: &Repo, forks: &[Fork]) -> Vec<Option<String>> {
    let branches: Vec<&str> = forks.iter().map(|f| f.branch.as_str()).collect();
    let Ok(tips) = repo.branch_tips(&branches) else {
        return forks.iter().map(|f| fork_tip(repo, f)).collect();
    };
    forks
        .iter()
        .map(|f| match tips.get(&f.branch) {
            Some(tip) => Some(tip.clone()),
            // for-each-ref already said the branch is gone.
            None => recorded_tip(repo, f),
        })
        .collect()
}

/// When a fork's `commit` no longer contains the run's `start` (its agent reset its branch
/// below it, so merged it would undo what the start has), the warning that says so.
pub fn lost_start(repo: &Repo, run: &str, fork: &str, start: &str, commit: &str) -> Option<String> {
    (!repo.is_ancestor(start, commit)).then(|| {
        format!(
            "fork {run}/{fork} no longer contains its start commit {}: its agent moved its branch below it, so it undoes changes the start has",
            crate::git::short_id(start)
        )
    })
}
