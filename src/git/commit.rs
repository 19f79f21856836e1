//! Who commits and what is left uncommitted: whether git knows the user's identity, the
//! identity ocfork's own bookkeeping commits fall back to, and the work a fork's worktree
//! holds that its branch does not.

use std::path::{Path, PathBuf};

use super::{GitError, Repo, Result, command, dirty_paths, git, run, stdout_line};

impl Repo {
    /// True when git has an author and a committer identity for a commit made here (from
    /// its configuration or the environment), as `git commit` needs.
    pub fn knows_identity(&self) -> bool {
        ["GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"]
            .iter()
            .all(|v| git(&self.workdir, ["var", v]).is_ok())
    }
}

/// `-c` options giving git an identity for ocfork's own commits when the user has none set:
/// without one git refuses to commit, and a fork's work must still be saved.
pub(super) fn bookkeeping_identity(dir: &Path) -> Vec<&'static str> {
    let known = ["GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"]
        .iter()
        .all(|v| git(dir, ["var", v]).is_ok());
    let mut args = Vec::new();
    if !known {
        if git(dir, ["config", "user.email"]).is_err() {
            args.extend(["-c", "user.email=ocfork@localhost"]);
        }
        if git(dir, ["config", "user.name"]).is_err() {
            args.extend(["-c", "user.name=ocfork"]);
        }
    }
    args
}

/// Paths in a fork's worktree that its branch does not hold (modified, staged or untracked,
/// the ignored files ocfork copied in left out); empty when the worktree is gone.
pub fn uncommitted_work(worktree: &Path) -> Result<Vec<String>> {
    if !worktree.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths = dirty_paths(worktree)?;
    let list = copied_list(worktree)?;
    if let Ok(raw) = std::fs::read(&list) {
        let copied: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        paths.retain(|p| !copied.contains(p));
    }
    Ok(paths)
}

/// Commits everything in a fork's worktree (new, changed and deleted files) to its branch.
/// Returns the new commit, or None when there was nothing to commit.
pub fn commit_all(worktree: &Path, message: &str) -> Result<Option<String>> {
    if let Err(e) = git(worktree, ["add", "-A", "--", "."]) {
        return Err(super::nested::empty_nested_repo(worktree).unwrap_or(e));
    }
    // Ignored files copied in for the fork (.worktreeinclude, --copy) stay out even when the
    // agent changed .gitignore so that git would take them.
    let list = copied_list(worktree)?;
    if list.exists() {
        let from = format!("--pathspec-from-file={}", list.display());
        git(worktree, ["reset", "-q", &from, "--pathspec-file-nul"])?;
    }
    let staged = git(worktree, ["diff", "--cached", "--quiet"]);
    if staged.is_ok() {
        return Ok(None);
    }
    // ocfork's own bookkeeping: the user's signing and hooks (which `--no-verify` only
    // partly skips) must not stop it, and the message goes on stdin so that an error names
    // git's reason rather than the whole command line.
    let mut cmd = command(worktree);
    cmd.args(bookkeeping_identity(worktree)).args([
        "-c",
        "commit.gpgsign=false",
        "-c",
        "core.hooksPath=/dev/null",
        "commit",
        "--quiet",
        "--no-verify",
        "--cleanup=whitespace",
        "-F",
        "-",
    ]);
    let out = run(cmd, Some(message.as_bytes()))?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: "commit".into(),
            dir: worktree.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(Some(stdout_line(&git(worktree, ["rev-parse", "HEAD"])?)))
}

/// The file in a worktree's private git dir listing the ignored files ocfork copied into it.
pub fn copied_list(worktree: &Path) -> Result<PathBuf> {
    let out = git(
        worktree,
        ["rev-parse", "--path-format=absolute", "--git-dir"],
    )?;
    Ok(PathBuf::from(stdout_line(&out)).join(crate::paths::COPIED_LIST))
}
