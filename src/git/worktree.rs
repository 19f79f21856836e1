//! Taking a fork's worktree and branch away again: which worktrees git knows, what a worktree
//! holds that no branch does (a detached HEAD's commits, nested repositories), removing one
//! the way `git worktree remove` does, and deleting a branch.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::{GitError, Repo, Result, git, git_env, stdout_line};

impl Repo {
    /// Paths of every worktree git has registered, the main one included.
    pub fn worktrees(&self) -> Result<Vec<PathBuf>> {
        let out = self.git(["worktree", "list", "--porcelain", "-z"])?;
        Ok(out
            .stdout
            .split(|b| *b == 0)
            .filter_map(|f| f.strip_prefix(b"worktree "))
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).to_string()))
            .collect())
    }

    /// True when git has a worktree registered at `path`.
    pub fn has_worktree(&self, path: &Path) -> Result<bool> {
        let want = canonical(path);
        Ok(self.worktrees()?.iter().any(|w| canonical(w) == want))
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
pub fn worktree_branch(worktree: &Path) -> Result<Option<String>> {
    match git(worktree, ["symbolic-ref", "--quiet", "HEAD"]) {
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

/// A commit on top of the worktree's HEAD holding its uncommitted changes (untracked files
/// included, ignored ones not), or None when it has none. Nothing changes: not the index, not
/// a ref; git works on a copy of the index.
pub fn snapshot_worktree(worktree: &Path, message: &str) -> Result<Option<String>> {
    if super::dirty_paths(worktree)?.is_empty() {
        return Ok(None);
    }
    let index = tempfile::NamedTempFile::new().map_err(|e| GitError::Other(e.to_string()))?;
    let real = PathBuf::from(stdout_line(&git(
        worktree,
        ["rev-parse", "--path-format=absolute", "--git-path", "index"],
    )?));
    if real.exists() {
        std::fs::copy(&real, index.path())
            .map_err(|e| GitError::Other(format!("cannot copy index {}: {e}", real.display())))?;
    }
    let env = [("GIT_INDEX_FILE", index.path().as_os_str())];
    git_env(worktree, ["add", "-A", "--", "."], &env)?;
    let tree = stdout_line(&git_env(worktree, ["write-tree"], &env)?);
    let mut args: Vec<&str> = Vec::new();
    // ocfork's own bookkeeping: it must not fail for want of an identity.
    if git(worktree, ["config", "user.email"]).is_err() {
        args.extend(["-c", "user.email=ocfork@localhost"]);
    }
    if git(worktree, ["config", "user.name"]).is_err() {
        args.extend(["-c", "user.name=ocfork"]);
    }
    args.extend([
        "commit-tree",
        "--no-gpg-sign",
        &tree,
        "-p",
        "HEAD",
        "-m",
        message,
    ]);
    Ok(Some(stdout_line(&git(worktree, &args)?)))
}

/// The git repositories inside a worktree, as paths relative to it: gitlinks in its index
/// (submodules, embedded repositories) that are checked out, and untracked directories git
/// does not look into because they hold a `.git`.
pub fn nested_repos(worktree: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let staged = git(worktree, ["ls-files", "--stage", "-z"])?;
    for entry in staged.stdout.split(|b| *b == 0) {
        if let Some(rest) = entry.strip_prefix(b"160000 ")
            && let Some(tab) = rest.iter().position(|b| *b == b'\t')
        {
            found.push(String::from_utf8_lossy(&rest[tab + 1..]).to_string());
        }
    }
    // With --untracked-files=all git lists every untracked file; a directory it lists whole
    // is a repository of its own.
    found.extend(
        super::dirty_paths(worktree)?
            .into_iter()
            .filter_map(|p| p.strip_suffix('/').map(str::to_string)),
    );
    found.sort();
    found.dedup();
    found.retain(|p| worktree.join(p).join(".git").exists());
    Ok(found)
}

/// Why deleting the nested repository at `dir` would lose something, if it would: it has no
/// commit, uncommitted changes, or commits no remote-tracking branch of its own holds.
pub fn nested_repo_problem(dir: &Path) -> Result<Option<String>> {
    if git(dir, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]).is_err() {
        return Ok(Some(
            "a git repository with no commit yet (git cannot commit it to the fork's branch)"
                .into(),
        ));
    }
    if !super::dirty_paths(dir)?.is_empty() {
        return Ok(Some("a git repository with uncommitted changes".into()));
    }
    let only_here = git(dir, ["rev-list", "-n1", "--all", "--not", "--remotes"])?;
    if !only_here.stdout.is_empty() {
        return Ok(Some(format!(
            "a git repository with commits no remote has (e.g. {})",
            stdout_line(&only_here)
        )));
    }
    Ok(None)
}

/// For a failed `git add -A` in `worktree`: the first nested repository git could not add
/// because it has no commit, as a clear error.
pub fn empty_nested_repo(worktree: &Path) -> Option<GitError> {
    let nested = nested_repos(worktree).ok()?;
    let empty = nested.into_iter().find(|p| {
        git(
            &worktree.join(p),
            ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
        )
        .is_err()
    })?;
    Some(GitError::Other(format!(
        "{} is a git repository with no commit yet, which git cannot add to the fork's branch: commit in it, or move it out of {}",
        worktree.join(&empty).display(),
        worktree.display()
    )))
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}
