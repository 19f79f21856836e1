//! The repository as seen from the working tree the user is in: finding it, and naming
//! commits (a revision the user gave, HEAD, whether a branch exists).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use super::{FileStat, GitError, Result, git, numstat, stdout_line};

/// A repository as seen from the working tree the user is in.
#[derive(Clone, Debug)]
pub struct Repo {
    /// Top of the working tree ocfork was started in.
    pub workdir: PathBuf,
    /// The common git dir shared by all worktrees (holds refs and `ocfork/`).
    pub common_dir: PathBuf,
}

/// A commit id shortened for people: its first 12 characters, as ocfork prints it everywhere.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

impl Repo {
    /// Finds the repository containing `cwd`; refuses bare repositories.
    pub fn discover(cwd: &Path) -> Result<Repo> {
        // The common case in one git process; a failure (not a repository, a bare one, or
        // inside `.git`) is told apart by the two-step path below.
        if let Ok(out) = git(
            cwd,
            [
                "rev-parse",
                "--path-format=absolute",
                "--is-bare-repository",
                "--git-common-dir",
                "--show-toplevel",
            ],
        ) {
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            if let [bare, common, top] = text.lines().collect::<Vec<_>>()[..]
                && bare == "false"
                && !top.is_empty()
            {
                return Ok(Repo {
                    workdir: PathBuf::from(top),
                    common_dir: PathBuf::from(common),
                });
            }
        }
        let out = git(
            cwd,
            [
                "rev-parse",
                "--path-format=absolute",
                "--is-bare-repository",
                "--git-common-dir",
            ],
        )
        .map_err(|e| match e {
            GitError::Failed { .. } => GitError::NotARepo(cwd.to_path_buf()),
            other => other,
        })?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        let bare = lines.next() == Some("true");
        let common_dir = PathBuf::from(lines.next().unwrap_or_default());
        if bare {
            return Err(GitError::Bare(common_dir));
        }
        let top = git(cwd, ["rev-parse", "--show-toplevel"])
            .map_err(|_| GitError::Bare(common_dir.clone()))?;
        let workdir = PathBuf::from(stdout_line(&top));
        if workdir.as_os_str().is_empty() {
            return Err(GitError::Bare(common_dir));
        }
        Ok(Repo {
            workdir,
            common_dir,
        })
    }

    /// The main working tree: the folder holding the common git dir when it is a `.git`,
    /// else the tree ocfork was started in. From a linked worktree (a fork's, say) it is the
    /// tree the repository was cloned into.
    pub fn main_workdir(&self) -> PathBuf {
        match (self.common_dir.file_name(), self.common_dir.parent()) {
            (Some(name), Some(main)) if name == ".git" => main.to_path_buf(),
            _ => self.workdir.clone(),
        }
    }

    /// Runs git at the top of the working tree.
    pub fn git<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        git(&self.workdir, args)
    }

    /// The full id of the commit `rev` names.
    pub fn resolve_commit(&self, rev: &str) -> Result<String> {
        if rev.starts_with('-') {
            return Err(GitError::BadRevision {
                rev: rev.to_string(),
            });
        }
        self.git([
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ])
        .map(|o| stdout_line(&o))
        .map_err(|_| GitError::BadRevision {
            rev: rev.to_string(),
        })
    }

    /// The commit HEAD points at; an error on an unborn branch.
    pub fn head(&self) -> Result<String> {
        self.git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
            .map(|o| stdout_line(&o))
            .map_err(|_| GitError::UnbornHead)
    }

    /// True when `refs/heads/<branch>` exists.
    pub fn branch_exists(&self, branch: &str) -> bool {
        self.git([
            "show-ref",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ])
        .is_ok()
    }

    /// `git diff --numstat` between two commits, one entry per file.
    pub fn numstat(&self, from: &str, to: &str) -> Result<Vec<FileStat>> {
        numstat(&self.workdir, from, to)
    }
}
