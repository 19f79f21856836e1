//! A fork's worktree pinned to its own admin directory (`<common>/worktrees/<id>`): every git
//! call ocfork makes for a fork names that directory (`GIT_DIR`, `GIT_WORK_TREE`), so an agent
//! that deleted or rewrote the worktree's `.git` link cannot send a commit to whatever
//! repository encloses the worktree.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{GitError, Result, command, run};

/// A fork's worktree and the admin directory git registered for it.
#[derive(Clone, Debug)]
pub struct ForkTree {
    pub worktree: PathBuf,
    /// `<common>/worktrees/<id>`, found from the common dir, never from the worktree.
    pub admin: PathBuf,
}

impl ForkTree {
    /// The registered worktree at `worktree` of the repository whose common git dir is
    /// `common`: its admin directory is the one whose `gitdir` file names `<worktree>/.git`.
    /// A `.git` link that is missing or points elsewhere is written back (as `git worktree
    /// repair` would), so that the user's own `git` in the worktree works again too.
    pub fn open(common: &Path, worktree: &Path) -> Result<ForkTree> {
        let admin = admin_dir(common, worktree).ok_or_else(|| GitError::NotAWorktree {
            worktree: worktree.to_path_buf(),
            admin: common.join("worktrees"),
        })?;
        let tree = ForkTree {
            worktree: worktree.to_path_buf(),
            admin,
        };
        tree.repair_link();
        Ok(tree)
    }

    /// The link git reads in the worktree, written back when an agent removed or changed it.
    /// A `.git` directory (an agent's `git init`) is left alone: it may hold work.
    fn repair_link(&self) {
        let link = self.worktree.join(".git");
        let want = format!("gitdir: {}\n", self.admin.display());
        match std::fs::symlink_metadata(&link) {
            Ok(m) if m.is_dir() => {}
            Ok(_) if std::fs::read_to_string(&link).is_ok_and(|t| t == want) => {}
            Ok(_) | Err(_) if self.worktree.is_dir() => {
                let _ = std::fs::remove_file(&link);
                if let Err(e) = std::fs::write(&link, &want) {
                    eprintln!("ocfork: warning: cannot write back {}: {e}", link.display());
                }
            }
            _ => {}
        }
    }

    /// `git` for this fork: its admin directory and worktree named outright.
    pub fn command(&self) -> Command {
        let mut cmd = command(&self.worktree);
        cmd.env("GIT_DIR", &self.admin)
            .env("GIT_WORK_TREE", &self.worktree);
        cmd
    }

    /// Runs git for this fork; its output when it exits 0.
    pub fn git<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.git_input(args, None)
    }

    /// Like [`ForkTree::git`], feeding `input` on stdin.
    pub fn git_input<I, S>(&self, args: I, input: Option<&[u8]>) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_at(self, args, &[], input)
    }

    /// The commit `rev` names here, or None.
    pub fn commit_of(&self, rev: &str) -> Option<String> {
        self.git([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
        .ok()
        .map(|o| super::stdout_line(&o))
    }

    /// The ref HEAD is on (`refs/heads/...`), or None when detached.
    pub fn head_ref(&self) -> Option<String> {
        self.git(["symbolic-ref", "--quiet", "HEAD"])
            .ok()
            .map(|o| super::stdout_line(&o))
    }
}

/// The admin directory under `<common>/worktrees` whose `gitdir` names `<worktree>/.git`.
fn admin_dir(common: &Path, worktree: &Path) -> Option<PathBuf> {
    let want = canonical(worktree);
    let entries = std::fs::read_dir(common.join("worktrees")).ok()?;
    entries.flatten().map(|e| e.path()).find(|admin| {
        std::fs::read_to_string(admin.join("gitdir")).is_ok_and(|text| {
            // Absolute, or relative to the admin directory (`worktree.useRelativePaths`).
            let link = admin.join(text.trim_end_matches(['\n', '\r']));
            link.parent().is_some_and(|dir| canonical(dir) == want)
        })
    })
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Where a git call runs: a plain directory (git finds the repository from it) or a fork's
/// worktree pinned to its admin directory.
pub trait GitAt {
    /// `git` set up to run there.
    fn git_command(&self) -> Command;
    /// The directory git works in, for messages and for joining relative paths.
    fn dir(&self) -> &Path;
}

impl GitAt for Path {
    fn git_command(&self) -> Command {
        command(self)
    }
    fn dir(&self) -> &Path {
        self
    }
}

impl GitAt for PathBuf {
    fn git_command(&self) -> Command {
        command(self)
    }
    fn dir(&self) -> &Path {
        self
    }
}

impl GitAt for ForkTree {
    fn git_command(&self) -> Command {
        self.command()
    }
    fn dir(&self) -> &Path {
        &self.worktree
    }
}

/// Runs git `at` a directory or a pinned fork, with extra environment; its output when it
/// exits 0.
pub fn git_at<W, I, S>(at: &W, args: I, env: &[(&str, &OsStr)]) -> Result<Output>
where
    W: GitAt + ?Sized,
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_at(at, args, env, None)
}

/// The one runner behind [`git_at`] and [`ForkTree::git_input`]: git `at` a place, with extra
/// environment and optional stdin; its output when it exits 0.
fn run_at<W, I, S>(at: &W, args: I, env: &[(&str, &OsStr)], input: Option<&[u8]>) -> Result<Output>
where
    W: GitAt + ?Sized,
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let mut cmd = at.git_command();
    cmd.args(&args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    super::checked(run(cmd, input)?, &args, at.dir())
}
