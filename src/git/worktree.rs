//! Taking a fork's worktree and branch away again: which worktrees git knows, the branch a
//! worktree is on, removing one the way `git worktree remove` does, and deleting a branch.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::{GitError, Repo, Result, stdout_line};

/// The worktrees git has registered (see [`Repo::worktrees`]).
pub struct Worktrees(Vec<PathBuf>);

impl Worktrees {
    /// True when git has a worktree registered at `path`.
    pub fn contains(&self, path: &Path) -> bool {
        self.0.contains(&canonical(path))
    }
}

impl Repo {
    /// Paths of every worktree git has registered, the main one included, as git lists them.
    pub fn worktree_paths(&self) -> Result<Vec<PathBuf>> {
        use std::os::unix::ffi::OsStrExt;
        let out = self.git(["worktree", "list", "--porcelain", "-z"])?;
        Ok(out
            .stdout
            .split(|b| *b == 0)
            .filter_map(|f| f.strip_prefix(b"worktree "))
            .map(|p| PathBuf::from(OsStr::from_bytes(p)))
            .collect())
    }

    /// The worktrees git has registered, read once to be asked about many paths.
    pub fn worktrees(&self) -> Result<Worktrees> {
        Ok(Worktrees(
            self.worktree_paths()?
                .iter()
                .map(|p| canonical(p))
                .collect(),
        ))
    }

    /// `git worktree remove [--force] PATH`; git refuses without `force` when the worktree
    /// holds modified or untracked files.
    pub fn remove_worktree(&self, path: &Path, force: bool) -> Result<()> {
        let mut args = vec![OsStr::new("worktree"), OsStr::new("remove")];
        if force {
            args.push(OsStr::new("--force"));
        }
        args.push(path.as_os_str());
        self.git(args).map(|_| ())
    }

    /// True when some local branch holds `commit`.
    pub fn on_a_branch(&self, commit: &str) -> Result<bool> {
        let out = self.git([
            "for-each-ref",
            "--count=1",
            "--format=%(refname)",
            "--contains",
            commit,
            "refs/heads/",
        ])?;
        Ok(!out.stdout.is_empty())
    }

    /// Deletes a local branch whatever it holds (callers decide whether that loses work).
    pub fn delete_branch(&self, branch: &str) -> Result<()> {
        self.git(["branch", "-D", "--", branch]).map(|_| ())
    }
}

/// The branch a worktree's HEAD is on (`refs/heads/` left out), or None on a detached HEAD.
pub fn worktree_branch<W: super::GitAt + ?Sized>(worktree: &W) -> Result<Option<String>> {
    match super::git_at(worktree, ["symbolic-ref", "--quiet", "HEAD"], &[]) {
        Ok(out) => {
            let name = stdout_line(&out);
            Ok(Some(
                name.strip_prefix("refs/heads/")
                    .unwrap_or(&name)
                    .to_string(),
            ))
        }
        Err(GitError::Failed { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}
