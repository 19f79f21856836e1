//! Making a fork's worktree and branch: registering it, writing its files and submodules,
//! and on failure taking away what ocfork made, nothing else.

use std::ffi::OsStr;
use std::path::Path;

use super::{GitError, Repo, Result, git, stdout_line};

impl Repo {
    /// Creates `branch` at `start` and a linked worktree for it at `path`, with the base's
    /// submodules checked out. When `branch` exists already (a resumed run whose worktree went
    /// away) the worktree is made for it instead. On failure nothing stays registered: no new
    /// branch, no worktree entry.
    pub fn add_worktree(&self, path: &Path, branch: &str, start: &str) -> Result<()> {
        let made = self.register_worktree(path, branch, start)?;
        self.populate_worktree(path, branch, made)
    }

    /// The first half of [`Repo::add_worktree`]: creates `branch` at `start` (or takes it as
    /// it is) and registers a worktree for it at `path` without writing its files
    /// (`git worktree add --no-checkout`). Cheap, but it changes the shared worktree list, so
    /// callers register one at a time: concurrent `git worktree add` runs were seen failing
    /// on each other's half-made entries. On failure nothing stays registered.
    pub fn register_worktree(&self, path: &Path, branch: &str, start: &str) -> Result<NewWorktree> {
        if let Some(parent) = path.parent() {
            crate::private_fs::create_dir_all(parent).map_err(|error| GitError::Io {
                what: "create",
                path: parent.to_path_buf(),
                error,
            })?;
        }
        let made = NewWorktree {
            branch_existed: self.branch_exists(branch),
            path_existed: path.symlink_metadata().is_ok(),
        };
        let mut args = vec![
            OsStr::new("worktree"),
            OsStr::new("add"),
            OsStr::new("--quiet"),
            OsStr::new("--no-checkout"),
        ];
        if made.branch_existed {
            args.extend([path.as_os_str(), OsStr::new(branch)]);
        } else {
            args.extend([
                OsStr::new("-b"),
                OsStr::new(branch),
                path.as_os_str(),
                OsStr::new(start),
            ]);
        }
        let res = self.git(&args);
        if res.is_err() {
            self.undo_worktree(path, branch, made);
        }
        res.map(|_| made)
    }

    /// The second half of [`Repo::add_worktree`]: writes the files, index and submodules of a
    /// worktree [`Repo::register_worktree`] made. Only that worktree changes, so several can be
    /// populated at once. On failure the worktree (and a branch made for it) is removed again,
    /// so no half-written tree is taken for a ready one.
    pub fn populate_worktree(&self, path: &Path, branch: &str, made: NewWorktree) -> Result<()> {
        let res = git(
            path,
            ["reset", "--hard", "--quiet", "--no-recurse-submodules"],
        )
        .and_then(|_| init_submodules(path));
        if res.is_err() {
            self.undo_worktree(path, branch, made);
        }
        res.map(|_| ())
    }

    /// Best-effort removal of what a failed [`Repo::add_worktree`] left, under the repository
    /// lock like every other change to refs and the worktree list.
    fn undo_worktree(&self, path: &Path, branch: &str, made: NewWorktree) {
        let locked = super::with_repo_lock(&self.common_dir, || {
            self.undo_worktree_locked(path, branch, made);
            Ok(())
        });
        if locked.is_err() {
            // No lock to be had (an unwritable git dir): what was made must go all the same.
            self.undo_worktree_locked(path, branch, made);
        }
    }

    fn undo_worktree_locked(&self, path: &Path, branch: &str, made: NewWorktree) {
        let remove = || {
            self.git([
                OsStr::new("worktree"),
                OsStr::new("remove"),
                OsStr::new("--force"),
                path.as_os_str(),
            ])
        };
        let _ = remove();
        if !made.path_existed {
            // A half-written checkout git left behind; never anything that was there before.
            let _ = std::fs::remove_dir_all(path);
        }
        if self.worktree_registered(path) {
            // Its folder is gone now, and `worktree remove` drops the entry of a missing
            // folder; a global prune would also drop the user's own entries for worktrees
            // that are merely absent (an unmounted disk).
            let _ = remove();
        }
        if !made.branch_existed && self.branch_exists(branch) {
            let _ = self.git(["branch", "-D", "--", branch]);
        }
    }

    /// True when `git worktree list` has an entry for `path`.
    fn worktree_registered(&self, path: &Path) -> bool {
        self.worktree_paths()
            .is_ok_and(|list| list.iter().any(|w| w == path))
    }
}

/// What [`Repo::register_worktree`] found before it ran, so that undoing a failed worktree
/// removes only what ocfork made.
#[derive(Clone, Copy, Debug)]
pub struct NewWorktree {
    branch_existed: bool,
    path_existed: bool,
}

/// `git worktree add` leaves submodules empty; a fork needs them as the main tree has them.
fn init_submodules(worktree: &Path) -> Result<()> {
    if !worktree.join(".gitmodules").exists() {
        return Ok(());
    }
    git(
        worktree,
        ["submodule", "update", "--init", "--recursive", "--quiet"],
    )
    .map(|_| ())
}

/// The commit a worktree's HEAD points at.
pub fn worktree_head<W: super::GitAt + ?Sized>(worktree: &W) -> Result<String> {
    Ok(stdout_line(&super::git_at(
        worktree,
        ["rev-parse", "HEAD"],
        &[],
    )?))
}

#[cfg(test)]
#[path = "add_tests.rs"]
mod tests;
