//! What clean finds for each fork before it changes anything: the worktree's state
//! (uncommitted work, the HEAD it is on, nested repositories), why the branch can go, and
//! whether the fork must be kept whole.

use super::CleanError;
use crate::git::Repo;
use crate::state::{Fork, Run};

/// What clean will do with one fork.
pub struct Plan<'a> {
    pub fork: &'a Fork,
    /// Git has a worktree registered at the fork's path.
    pub registered: bool,
    /// The worktree's HEAD is on the fork's branch (else the user switched it).
    pub on_fork_branch: bool,
    /// The branch the worktree's HEAD is on; None when detached.
    pub head_branch: Option<String>,
    /// Uncommitted files in the worktree.
    pub dirty: Vec<String>,
    /// The commit of a detached HEAD that no branch holds.
    pub lost_head: Option<String>,
    /// The worktree holds git repositories (git removes it only with --force).
    pub nested: bool,
    /// The worktree holds untracked copies ocfork made (git removes it only with --force).
    pub copies: bool,
    /// Nested repositories whose work exists nowhere else: `PATH: why`.
    pub nested_unsafe: Vec<String>,
    /// Where the branch points, when it exists.
    pub tip: Option<String>,
    /// Why the branch can go without losing anything, if it can.
    pub merged: Option<String>,
    /// The worktree, pinned to its git admin directory, when git has it.
    pub tree: Option<crate::git::ForkTree>,
    /// Why this fork is left as it is (its worktree and branch kept), if it is: the others
    /// of the run are cleaned all the same.
    pub kept: Option<Kept>,
}

/// Why clean leaves one fork alone, and what the user can do about it.
pub struct Kept {
    pub why: String,
    pub hint: String,
}

pub fn plan<'a>(
    repo: &Repo,
    worktrees: &crate::git::Worktrees,
    run: &'a Run,
) -> Result<Vec<Plan<'a>>, CleanError> {
    let mut out = Vec::new();
    for fork in &run.forks {
        let registered = worktrees.contains(&fork.worktree);
        let mut p = Plan {
            fork,
            registered,
            on_fork_branch: true,
            head_branch: None,
            dirty: Vec::new(),
            lost_head: None,
            nested: false,
            copies: false,
            nested_unsafe: Vec::new(),
            tip: repo.branch_tip(&fork.branch),
            merged: None,
            tree: None,
            kept: None,
        };
        if registered && fork.worktree.is_dir() {
            // A worktree git cannot read keeps its fork, not the whole run.
            if let Err(e) = look_into_worktree(repo, &mut p) {
                let wt = fork.worktree.display();
                p.kept = Some(Kept {
                    why: format!("cannot read its worktree {wt}: {e}"),
                    hint: format!(
                        "look at {wt}; `git worktree remove --force {wt}` removes it, then clean again"
                    ),
                });
            }
        }
        if let Some(t) = &p.tip {
            p.merged = merged_reason(repo, run, fork, t)?;
        }
        out.push(p);
    }
    Ok(out)
}

/// What a fork's worktree holds that its branch does not: uncommitted files, the HEAD the
/// user switched it to, nested repositories.
fn look_into_worktree(repo: &Repo, p: &mut Plan) -> Result<(), crate::git::GitError> {
    let wt = &p.fork.worktree;
    // Pinned to the fork's admin directory (and its `.git` link written back if an agent
    // removed it): git never answers for whatever repository encloses the worktree.
    let tree = crate::git::ForkTree::open(&repo.common_dir, wt)?;
    // Copies ocfork made (OpenCode config, ignored files) are no one's work; git sees the
    // untracked ones and removes the worktree only when forced.
    let copied = tree.copied();
    p.dirty = crate::git::dirty_paths(&tree)?;
    p.copies = p.dirty.iter().any(|d| copied.contains(d));
    p.dirty.retain(|d| !copied.contains(d));
    p.head_branch = crate::git::worktree_branch(&tree)?;
    p.on_fork_branch = p.head_branch.as_deref() == Some(p.fork.branch.as_str());
    if p.head_branch.is_none() {
        let head = crate::git::worktree_head(&tree)?;
        if !repo.on_a_branch(&head)? {
            p.lost_head = Some(head);
        }
    }
    for path in crate::git::nested_repos(&tree)? {
        p.nested = true;
        let dir = wt.join(&path);
        if let Some(why) = crate::git::nested_repo_problem(&dir)? {
            p.nested_unsafe.push(format!("{}: {why}", dir.display()));
        }
    }
    p.tree = Some(tree);
    Ok(())
}

/// Whether clean must leave this fork alone: a nested repository whose work exists nowhere
/// else (even with --force), or, without --force, uncommitted work or a commit no branch holds.
pub fn decide_kept(p: &mut Plan, force: bool) {
    if p.kept.is_some() {
        return;
    }
    let wt = p.fork.worktree.display();
    if !p.nested_unsafe.is_empty() {
        p.kept = Some(Kept {
            why: format!(
                "its worktree holds git repositories whose work would be deleted with it:\n  {}",
                p.nested_unsafe.join("\n  ")
            ),
            hint: "move each out of its worktree (or commit and push its work), then clean again; --force does not delete them".into(),
        });
        return;
    }
    if force {
        return;
    }
    let mut dirty = Vec::new();
    if !p.dirty.is_empty() {
        dirty.push(format!("{wt}: {}", p.dirty.join(", ")));
    }
    if let Some(head) = &p.lost_head {
        dirty.push(format!(
            "{wt}: commit {head} on a detached HEAD no branch holds"
        ));
    }
    if !dirty.is_empty() {
        p.kept = Some(Kept {
            why: format!(
                "uncommitted changes or commits no branch holds:\n  {}",
                dirty.join("\n  ")
            ),
            hint: "commit or discard them, or use --force (which commits them first and prints every commit it drops)".into(),
        });
    }
}

fn merged_reason(
    repo: &Repo,
    run: &Run,
    fork: &Fork,
    tip: &str,
) -> Result<Option<String>, crate::git::GitError> {
    if fork.merged && fork.commit.as_deref() == Some(tip) {
        return Ok(Some("merged".into()));
    }
    if repo.is_ancestor(tip, &run.start) {
        return Ok(Some("no commits of its own".into()));
    }
    if repo.reachable_outside_ocfork(tip)? {
        return Ok(Some("reachable from your branches".into()));
    }
    // The test `merge` makes before it says there is nothing to merge.
    if let Ok(head) = repo.head()
        && repo.has_every_change(&run.start, &head, tip)?
    {
        let into = repo.current_branch().unwrap_or_else(|| "HEAD".into());
        return Ok(Some(format!("{into} already has every change")));
    }
    Ok(None)
}
