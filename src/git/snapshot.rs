//! Snapshots of uncommitted work: a commit holding a working tree as it is now, made on a
//! copy of the index so that neither the index nor the tree is touched.

use std::path::PathBuf;

use super::commit::bookkeeping_identity;
use super::forktree::{GitAt, git_at};
use super::{GitError, Repo, Result, stdout_line, version};

impl Repo {
    /// A commit on top of `base` holding the working tree as it is now (tracked changes,
    /// staged or not, and untracked files git does not ignore), or None when the tree is
    /// clean. Neither the index nor the working tree is touched: git works on a copy of the
    /// index.
    pub fn snapshot_dirty(&self, base: &str) -> Result<Option<String>> {
        let status = self.git(["status", "--porcelain", "-z", "--untracked-files=all"])?;
        if status.stdout.is_empty() {
            return Ok(None);
        }
        let tree = working_tree(self.workdir.as_path())?;
        let head = self.head()?;
        // The dirty tree is relative to HEAD; carry the same change onto the base.
        let tree = if head == base {
            tree
        } else {
            version::require_merge_tree()?;
            let out = self.git([
                "merge-tree",
                "--write-tree",
                "--merge-base",
                &head,
                base,
                &tree,
            ]);
            match out {
                Ok(o) => stdout_line(&o)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                Err(_) => {
                    return Err(GitError::DirtyDoesNotApply {
                        base: base.to_string(),
                    });
                }
            }
        };
        let mut args = bookkeeping_identity(&self.workdir);
        args.push("commit-tree");
        let commit = self.git(args.into_iter().chain([
            tree.as_str(),
            "-p",
            base,
            "-m",
            "ocfork: uncommitted changes carried from the main working tree",
        ]))?;
        Ok(Some(stdout_line(&commit)))
    }
}

/// A commit on top of the worktree's HEAD holding its uncommitted changes (untracked files
/// included, ignored ones not), or None when it has none. Nothing changes: not the index, not
/// a ref; git works on a copy of the index.
pub fn snapshot_worktree<W: GitAt + ?Sized>(worktree: &W, message: &str) -> Result<Option<String>> {
    if super::dirty_paths(worktree)?.is_empty() {
        return Ok(None);
    }
    let tree = working_tree(worktree)?;
    // ocfork's own bookkeeping: it must not fail for want of an identity.
    let mut args = bookkeeping_identity(worktree);
    args.extend([
        "commit-tree",
        "--no-gpg-sign",
        &tree,
        "-p",
        "HEAD",
        "-m",
        message,
    ]);
    Ok(Some(stdout_line(&git_at(worktree, &args, &[])?)))
}

/// The tree of everything in the working tree at `at` (untracked files included, ignored ones
/// not), written by git on a copy of its index: the index itself is not touched.
fn working_tree<W: GitAt + ?Sized>(at: &W) -> Result<String> {
    let index = tempfile::NamedTempFile::new().map_err(GitError::Scratch)?;
    let real = PathBuf::from(stdout_line(&git_at(
        at,
        ["rev-parse", "--path-format=absolute", "--git-path", "index"],
        &[],
    )?));
    if real.exists() {
        std::fs::copy(&real, index.path()).map_err(|error| GitError::Io {
            what: "copy index",
            path: real.clone(),
            error,
        })?;
    }
    let env = [("GIT_INDEX_FILE", index.path().as_os_str())];
    git_at(at, ["add", "-A", "--", "."], &env)?;
    Ok(stdout_line(&git_at(at, ["write-tree"], &env)?))
}
