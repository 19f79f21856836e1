//! Merging a finished fork into the current branch of the tree the user is in: [`plan`]
//! checks, changing nothing, that it neither conflicts nor overwrites uncommitted work and
//! says what it would write; [`apply`] makes the one commit (squashed, or a merge commit) and
//! records the fork as merged.

use std::path::{Path, PathBuf};

use crate::compare::fork_tip;
use crate::git::{MergeTree, Repo};
use crate::state::{ForkRef, ForkState, Store};

#[path = "merge_error.rs"]
mod merge_error;
pub use merge_error::{MergeError, MergeWarning};

/// How the fork's work comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// One new commit on the current branch holding the fork's changes.
    Squash,
    /// A merge commit whose second parent is the fork's commit.
    Merge,
}

impl How {
    /// The word the messages use.
    pub fn as_str(self) -> &'static str {
        match self {
            How::Squash => "squash",
            How::Merge => "merge",
        }
    }
}

/// What merging the fork would do, found without changing anything.
#[derive(Debug)]
pub struct MergePlan {
    pub fork: ForkRef,
    /// `RUN/FORK`.
    pub name: String,
    /// The branch merged into, or "the detached HEAD".
    pub into: String,
    pub how: How,
    /// The fork's commit.
    pub theirs: String,
    /// The commit HEAD is at.
    pub head: String,
    pub action: Action,
}

/// What [`apply`] will do.
#[derive(Debug)]
pub enum Action {
    /// The fork changed nothing: there is nothing of it to bring in.
    NothingChanged,
    /// HEAD already has every change of the fork: it is only recorded as merged.
    AlreadyHas,
    /// A commit of `tree` on HEAD, writing `writes` in the tree.
    Commit { tree: String, writes: Vec<PathBuf> },
}

/// What [`apply`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum MergeOutcome {
    NothingChanged,
    /// Recorded as merged, with no new commit.
    AlreadyHad,
    Merged {
        commit: String,
        files: u64,
        insertions: u64,
        deletions: u64,
    },
}

impl MergePlan {
    /// What the plan says before anything is done: the line a dry run prints first, and for a
    /// commit the paths it writes, one a line.
    pub fn lines(&self) -> Vec<String> {
        match &self.action {
            Action::NothingChanged | Action::AlreadyHas => vec![self.nothing_to_merge()],
            Action::Commit { writes, .. } => {
                let mut lines = vec![format!(
                    "would {} {} ({}) into {}: no conflicts; it writes {} file{}:",
                    self.how.as_str(),
                    self.name,
                    crate::git::short_id(&self.theirs),
                    self.into,
                    writes.len(),
                    if writes.len() == 1 { "" } else { "s" }
                )];
                lines.extend(writes.iter().map(|p| format!("  {}", p.display())));
                lines
            }
        }
    }

    /// Why there is nothing to merge, for a plan that has no commit to make.
    fn nothing_to_merge(&self) -> String {
        match self.action {
            Action::NothingChanged => format!("{} changed nothing; nothing to merge", self.name),
            _ => format!(
                "{} already has every change of {}; nothing to merge",
                self.into, self.name
            ),
        }
    }

    /// The line that says what [`apply`] did.
    pub fn outcome_line(&self, outcome: &MergeOutcome) -> String {
        match outcome {
            MergeOutcome::NothingChanged | MergeOutcome::AlreadyHad => self.nothing_to_merge(),
            MergeOutcome::Merged {
                commit,
                files,
                insertions,
                deletions,
            } => format!(
                "merged {} into {} ({}) as {}: {files} file{}, +{insertions} -{deletions}",
                self.name,
                self.into,
                self.how.as_str(),
                crate::git::short_id(commit),
                if *files == 1 { "" } else { "s" }
            ),
        }
    }
}

/// Checks, changing nothing, that `fork` can be merged into the current branch of `repo`'s
/// tree, and what that would write. What the user should know but does not stop the merge
/// (a fork that ended badly, a failed check) goes to `warn` as it is found.
pub fn plan(
    repo: &Repo,
    fork: ForkRef,
    how: How,
    warn: &mut dyn FnMut(MergeWarning),
) -> Result<MergePlan, MergeError> {
    let name = fork.qualified();
    let f = fork.fork();
    if !f.state.is_finished() {
        return Err(MergeError::NotFinished {
            name,
            state: f.state,
            run: fork.run.run.clone(),
        });
    }
    warnings(&fork, warn);
    let theirs = fork_tip(repo, f).ok_or_else(|| MergeError::NoCommit {
        name: name.clone(),
        branch: f.branch.clone(),
    })?;
    if let Some(w) =
        crate::compare::lost_start(repo, &fork.run.run, &f.name, &fork.run.start, &theirs)
    {
        warn(MergeWarning::LostStart(w));
    }
    let uncommitted = crate::git::uncommitted_work(&repo.common_dir, &f.worktree)?;
    if !uncommitted.is_empty() {
        return Err(MergeError::Uncommitted {
            name,
            worktree: f.worktree.clone(),
            files: uncommitted,
        });
    }
    if super::same_dir(&repo.workdir, &f.worktree) {
        return Err(MergeError::OwnWorktree(f.worktree.clone()));
    }
    if let Some(op) = repo.operation_in_progress()? {
        return Err(MergeError::InProgress {
            op: op.to_string(),
            workdir: repo.workdir.clone(),
        });
    }
    let head = repo.head()?;
    let into = repo
        .current_branch()
        .unwrap_or_else(|| "the detached HEAD".into());
    if how == How::Merge && fork.run.start != fork.run.base {
        // The fork's history holds a commit of the main tree's uncommitted changes; as a
        // parent it would tell git those changes are merged while the tree leaves them out.
        return Err(MergeError::DirtyStart(fork.run.run.clone()));
    }
    let tree = match repo.merge_tree(&fork.run.start, &head, &theirs) {
        Ok(MergeTree::Clean(tree)) => tree,
        Ok(MergeTree::Conflicts(paths)) => {
            return Err(MergeError::Conflicts {
                name,
                into,
                paths,
                branch: f.branch.clone(),
            });
        }
        Err(source) => return Err(MergeError::Compare { name, into, source }),
    };
    let action = if repo.has_every_change(&fork.run.start, &head, &theirs)? {
        // A fork that changed nothing is not merged: there was nothing of it to bring in.
        match repo.tree_of(&theirs)? == repo.tree_of(&fork.run.start)? {
            true => Action::NothingChanged,
            false => Action::AlreadyHas,
        }
    } else {
        let writes = repo.changed_paths(&head, &tree)?;
        let blocked = blocked_paths(repo, &head, &writes)?;
        if !blocked.is_empty() {
            return Err(MergeError::Blocked { name, blocked });
        }
        Action::Commit { tree, writes }
    };
    Ok(MergePlan {
        fork,
        name,
        into,
        how,
        theirs,
        head,
        action,
    })
}

/// What the run says about the fork that the user should hear before it is merged.
fn warnings(fork: &ForkRef, warn: &mut dyn FnMut(MergeWarning)) {
    let (name, f) = (fork.qualified(), fork.fork());
    if f.state != ForkState::Done {
        warn(MergeWarning::Ended {
            name: name.clone(),
            state: f.state,
        });
    }
    if let Some(c) = f.check.as_ref().filter(|c| c.exit_code != Some(0)) {
        warn(MergeWarning::CheckFailed {
            name: name.clone(),
            command: c.command.clone(),
            exit_code: c.exit_code,
        });
    }
    if let Some(e) = fork.run.judge.as_ref().and_then(|v| v.evidence_of(&f.name))
        && e.tests_weakened
    {
        warn(MergeWarning::TestsWeakened {
            name,
            files: e.weakened_files.clone(),
        });
    }
}

/// The commit: its message (default: names the run, the fork and its prompt) and whether the
/// user's commit hooks run.
#[derive(Debug, Default)]
pub struct CommitOptions {
    pub message: Option<String>,
    pub no_verify: bool,
}

/// Does what `plan` found: the commit on HEAD (made by `git commit`, the user's hooks and
/// signing applying), and the fork recorded as merged in its run.
pub fn apply(
    repo: &Repo,
    store: &Store,
    plan: &MergePlan,
    options: &CommitOptions,
) -> Result<MergeOutcome, MergeError> {
    let tree = match &plan.action {
        Action::NothingChanged => return Ok(MergeOutcome::NothingChanged),
        Action::AlreadyHas => {
            mark_merged(repo, store, &plan.fork, &plan.theirs)?;
            return Ok(MergeOutcome::AlreadyHad);
        }
        Action::Commit { tree, .. } => tree,
    };
    let merge = plan.how == How::Merge;
    let message = options
        .message
        .clone()
        .unwrap_or_else(|| default_message(&plan.fork, &plan.theirs, merge));
    if !repo.knows_identity() {
        return Err(MergeError::NoIdentity);
    }
    let reflog = format!("ocfork merge ({}) {}", plan.how.as_str(), plan.name);
    let commit = crate::git::with_repo_lock(&repo.common_dir, || {
        repo.commit_on_head(&crate::git::HeadCommit {
            tree,
            head: &plan.head,
            merged: merge.then_some(plan.theirs.as_str()),
            message: &message,
            no_verify: options.no_verify,
            reflog: &reflog,
        })
    })
    .map_err(|error| MergeError::Commit {
        // The hint for hooks only where a hook could be what refused: `git commit` itself.
        hooks: matches!(error, crate::git::GitError::CommitRefused { .. })
            && !options.no_verify
            && repo.has_commit_hooks(),
        name: plan.name.clone(),
        into: plan.into.clone(),
        error,
    })?;
    mark_merged(repo, store, &plan.fork, &plan.theirs)?;
    let (files, insertions, deletions) = crate::git::totals(&repo.numstat(&plan.head, &commit)?);
    Ok(MergeOutcome::Merged {
        commit,
        files,
        insertions,
        deletions,
    })
}

/// Paths the merge would write that hold the user's uncommitted work: modified, staged or
/// untracked files, and files on disk git ignores but the merge would create; each with what
/// it is, in the user's words. Paths are git's bytes, so a name that is not UTF-8 is checked
/// as it is on disk.
fn blocked_paths(
    repo: &Repo,
    head: &str,
    writes: &[PathBuf],
) -> Result<Vec<(String, &'static str)>, MergeError> {
    let dirty = repo.dirty_paths()?;
    // Path::starts_with compares whole components: `a/b` is inside `a`, `ab` is not.
    let overlaps = |w: &Path, d: &Path| d.starts_with(w) || w.starts_with(d);
    let on_disk: Vec<&Path> = writes
        .iter()
        .map(PathBuf::as_path)
        .filter(|w| repo.workdir.join(w).symlink_metadata().is_ok())
        .collect();
    let tracked = repo.tracked_in(head, &on_disk)?;
    let untracked: std::collections::HashSet<&Path> = on_disk
        .iter()
        .zip(tracked)
        .filter_map(|(w, t)| (!t).then_some(*w))
        .collect();
    let mut blocked = Vec::new();
    for w in writes {
        if untracked.contains(&w.as_path()) {
            blocked.push((w.display().to_string(), "untracked file in the way"));
        } else if dirty.iter().any(|d| overlaps(w, d)) {
            blocked.push((w.display().to_string(), "uncommitted changes"));
        }
    }
    Ok(blocked)
}

fn default_message(fork: &ForkRef, commit: &str, merge: bool) -> String {
    let f = fork.fork();
    // Any text can be a prompt; git refuses a NUL in a message (see `text::commit_text`).
    let prompt = crate::text::commit_text(&f.prompt);
    let first = crate::text::subject(&prompt, 60);
    let name = fork.qualified();
    if merge {
        format!(
            "Merge ocfork {name}: {first}\n\nBranch {}.\n\nPrompt:\n{prompt}\n",
            f.branch
        )
    } else {
        format!(
            "ocfork {name}: {first}\n\nSquashed from branch {} ({commit}).\n\nPrompt:\n{prompt}\n",
            f.branch
        )
    }
}

/// Records in the run that the fork was merged, and the commit that was.
fn mark_merged(repo: &Repo, store: &Store, fork: &ForkRef, commit: &str) -> Result<(), MergeError> {
    let name = fork.fork().name.clone();
    let stats = if fork.fork().commit.as_deref() == Some(commit) {
        None
    } else {
        Some(crate::git::totals(&repo.numstat(&fork.run.start, commit)?))
    };
    store.update(
        &fork.run.run,
        || None,
        |run| {
            let Some(f) = run.fork_mut(&name) else { return };
            f.merged = true;
            if let Some((files, ins, del)) = stats {
                f.commit = Some(commit.to_string());
                f.files_changed = files;
                f.insertions = ins;
                f.deletions = del;
            }
        },
    )?;
    Ok(())
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
