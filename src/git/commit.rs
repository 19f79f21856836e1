//! Who commits and what is left uncommitted: whether git knows the user's identity, the
//! identity ocfork's own bookkeeping commits fall back to, and the work a fork's worktree
//! holds that its branch does not.

use std::path::{Path, PathBuf};

use super::forktree::{GitAt, git_at};
use super::{ForkTree, GitError, Repo, Result, dirty_paths, git, stdout_line};

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
pub(super) fn bookkeeping_identity<W: GitAt + ?Sized>(at: &W) -> Vec<&'static str> {
    let known = ["GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"]
        .iter()
        .all(|v| git_at(at, ["var", v], &[]).is_ok());
    let mut args = Vec::new();
    if !known {
        if git_at(at, ["config", "user.email"], &[]).is_err() {
            args.extend(["-c", "user.email=ocfork@localhost"]);
        }
        if git_at(at, ["config", "user.name"], &[]).is_err() {
            args.extend(["-c", "user.name=ocfork"]);
        }
    }
    args
}

/// Paths in a fork's worktree that its branch does not hold (modified, staged or untracked,
/// the ignored files ocfork copied in left out); empty when the worktree is gone or is not a
/// worktree of the repository whose common git dir is `common` any more.
pub fn uncommitted_work(common: &Path, worktree: &Path) -> Result<Vec<String>> {
    if !worktree.is_dir() {
        return Ok(Vec::new());
    }
    let Ok(tree) = ForkTree::open(common, worktree) else {
        return Ok(Vec::new());
    };
    let tree = &tree;
    let mut paths = dirty_paths(tree)?;
    let copied = tree.copied();
    paths.retain(|p| !copied.contains(p));
    Ok(paths)
}

/// What [`commit_fork`] left on the fork's branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The branch's tip: a commit whose tree is what the worktree holds.
    pub tip: String,
    /// True when this call made a commit (else the branch already held the work).
    pub new_commit: bool,
    /// Where the agent had moved the worktree's HEAD off the fork's branch (`branch rogue`,
    /// `a detached HEAD at 1a2b3c4d5e6f`), if it had; the worktree is back on the branch now.
    pub moved: Option<String>,
}

/// Commits everything in a fork's worktree (new, changed and deleted files) to the fork's
/// branch, whatever the agent did to the worktree's HEAD: the branch ends at a commit whose
/// tree is the worktree's, on top of the agent's own commits where they descend from the
/// branch (else on top of the branch), and the worktree is put back on the branch. Every git
/// call names the fork's own admin directory; nothing else is written.
pub fn commit_fork(tree: &ForkTree, branch: &str, start: &str, message: &str) -> Result<Committed> {
    let full = format!("refs/heads/{branch}");
    let head_ref = tree.head_ref();
    let head = tree.commit_of("HEAD");
    let tip = tree.commit_of(&full);
    let on_branch = head_ref.as_deref() == Some(full.as_str());
    let base = tip.clone().unwrap_or_else(|| start.to_string());
    let parent = match &head {
        Some(h) if on_branch => h.clone(),
        Some(h) if is_ancestor(tree, &base, h) => h.clone(),
        _ => base.clone(),
    };
    let moved = (!on_branch).then(|| match (&head_ref, &head) {
        (Some(r), _) => format!("branch {}", r.strip_prefix("refs/heads/").unwrap_or(r)),
        (None, Some(h)) => format!("a detached HEAD at {}", super::short_id(h)),
        (None, None) => "a HEAD with no commit".to_string(),
    });

    if let Err(e) = tree.git(["add", "-A", "--", "."]) {
        return Err(super::nested::empty_nested_repo(tree).unwrap_or(e));
    }
    // Ignored files copied in for the fork (.worktreeinclude, --copy) stay out even when the
    // agent changed .gitignore so that git would take them.
    let list = tree.copied_list();
    if list.exists() {
        let from = format!("--pathspec-from-file={}", list.display());
        tree.git(["reset", "-q", parent.as_str(), &from, "--pathspec-file-nul"])?;
    }
    let written = stdout_line(&tree.git(["write-tree"])?);
    let parent_tree = tree
        .git([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{parent}^{{tree}}"),
        ])
        .ok()
        .map(|o| stdout_line(&o));
    let (new, new_commit) = if parent_tree.as_deref() == Some(written.as_str()) {
        (parent.clone(), false)
    } else {
        // ocfork's own bookkeeping: the user's signing must not stop it, and the message goes
        // on stdin so that an error names git's reason rather than the whole command line.
        let mut args = bookkeeping_identity(tree);
        args.extend(["-c", "commit.gpgsign=false", "commit-tree", "--no-gpg-sign"]);
        let mut args: Vec<String> = args.into_iter().map(str::to_string).collect();
        args.extend([
            written.clone(),
            "-p".into(),
            parent.clone(),
            "-F".into(),
            "-".into(),
        ]);
        let out = tree
            .git_input(&args, Some(message.as_bytes()))
            .map_err(|e| match e {
                GitError::Failed { stderr, dir, .. } => GitError::Failed {
                    args: "commit-tree".into(),
                    dir,
                    stderr,
                },
                other => other,
            })?;
        (stdout_line(&out), true)
    };
    if tip.as_deref() != Some(new.as_str()) {
        let old = tip.unwrap_or_else(|| "0".repeat(new.len()));
        tree.git([
            "update-ref",
            "-m",
            "ocfork: the fork's work",
            &full,
            &new,
            &old,
        ])?;
    }
    if !on_branch {
        // Back on its branch, whose tree the index already holds: files stay as they are.
        tree.git(["symbolic-ref", "HEAD", &full])?;
    }
    Ok(Committed {
        tip: new,
        new_commit,
        moved,
    })
}

fn is_ancestor(tree: &ForkTree, a: &str, b: &str) -> bool {
    tree.git(["merge-base", "--is-ancestor", a, b]).is_ok()
}

/// The file in a worktree's private git dir listing the ignored files ocfork copied into it.
pub fn copied_list(worktree: &Path) -> Result<PathBuf> {
    let out = git(
        worktree,
        ["rev-parse", "--path-format=absolute", "--git-dir"],
    )?;
    Ok(PathBuf::from(stdout_line(&out)).join(crate::paths::COPIED_LIST))
}

impl ForkTree {
    /// The file in the fork's admin directory listing the ignored files ocfork copied in.
    pub fn copied_list(&self) -> PathBuf {
        self.admin.join(crate::paths::COPIED_LIST)
    }

    /// The files ocfork copied in (ignored files, OpenCode config), as listed.
    pub fn copied(&self) -> Vec<String> {
        let Ok(raw) = std::fs::read(self.copied_list()) else {
            return Vec::new();
        };
        raw.split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }
}
