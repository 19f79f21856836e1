//! Who commits and what is left uncommitted: whether git knows the user's identity, the
//! identity ocfork's own bookkeeping commits fall back to, and the work a fork's worktree
//! holds that its branch does not.

use std::path::Path;

use super::{Repo, Result, copied_list, dirty_paths, git};

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
