//! Git repositories inside a fork's worktree (submodules, embedded or untracked ones): which
//! there are, and what deleting one would lose.

use std::path::Path;

use super::forktree::{GitAt, git_at};
use super::{GitError, Result, git, stdout_line};

/// The git repositories inside a worktree, as paths relative to it: gitlinks in its index
/// (submodules, embedded repositories) that are checked out, and untracked directories git
/// does not look into because they hold a `.git`.
pub fn nested_repos<W: GitAt + ?Sized>(at: &W) -> Result<Vec<String>> {
    let worktree = at.dir();
    let mut found = Vec::new();
    let staged = git_at(at, ["ls-files", "--stage", "-z"], &[])?;
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
        super::dirty_paths(at)?
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
pub fn empty_nested_repo<W: GitAt + ?Sized>(at: &W) -> Option<GitError> {
    let worktree = at.dir();
    let nested = nested_repos(at).ok()?;
    let empty = nested.into_iter().find(|p| {
        git(
            &worktree.join(p),
            ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
        )
        .is_err()
    })?;
    Some(GitError::EmptyNested {
        nested: worktree.join(&empty),
        worktree: worktree.to_path_buf(),
    })
}
