//! The git layer, an adapter under everything else: finding the repository, snapshots of
//! uncommitted work, fork worktrees and branches, committing a fork's work, merging one and
//! measuring what it changed.
//!
//! ocfork reads through the git CLI rather than a library such as git2: results then match
//! what users see from `git` (their config, attributes, git version), and for writes git
//! itself protects the user (it refuses to overwrite, runs hooks, locks refs). Reads of many
//! items go to one git process each (`cat-file --batch`, one `rev-parse` for many paths).

mod add;
mod batch;
mod command;
mod commit;
mod forktree;
pub mod include;
mod lock;
mod merge;
mod nested;
mod numstat;
mod repo;
mod secret;
mod shared;
mod show;
mod snapshot;
mod version;
mod worktree;

use std::path::PathBuf;

pub use add::{NewWorktree, worktree_head};
pub use batch::{blobs, objects_exist};
use command::{checked, stdout_line};
pub(crate) use command::{command, run};
pub use command::{git, git_env};
pub use commit::{Committed, commit_fork, copied_list, uncommitted_work};
pub use forktree::{ForkTree, GitAt, git_at};
pub use lock::with_repo_lock;
pub use merge::{HeadCommit, MergeTree, dirty_paths};
pub use nested::{nested_repo_problem, nested_repos};
pub use numstat::{FileStat, numstat, parse_numstat_z, totals};
pub use repo::{Repo, short_id};
pub use secret::{SECRET_MARK, hide_secret};
pub use shared::SharedState;
pub use show::{DiffView, show_diff};
pub use snapshot::snapshot_worktree;
pub use worktree::{Worktrees, worktree_branch};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("not inside a git repository ({0})")]
    NotARepo(PathBuf),
    #[error("{0} is a bare repository; ocfork needs a working tree")]
    Bare(PathBuf),
    #[error("the current branch has no commits yet; commit something before forking")]
    UnbornHead,
    #[error("`{rev}` is not a commit in this repository")]
    BadRevision { rev: String },
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    /// A git command that exited non-zero. Shown as what git could not do, in words, with
    /// git's message; the command line (`args`) is for debugging, never for users.
    #[error("git could not {} in {}: {}", action(.args), .dir.display(), .stderr)]
    Failed {
        args: String,
        dir: PathBuf,
        stderr: String,
    },
    #[error("HEAD moved to {} while merging: a commit was made on it meanwhile", short_id(.now))]
    HeadMoved { now: String },
    /// `git commit` refused (a hook, signing): git's own words.
    #[error("`git commit` failed: {stderr}")]
    CommitRefused { stderr: String },
    /// A file or folder ocfork works on beside git could not be made, read or written.
    #[error("cannot {what} {}: {error}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    /// A scratch file (a private index) could not be made.
    #[error("{0}")]
    Scratch(std::io::Error),
    #[error("`{0}` is not a file in the repository")]
    NotABlob(String),
    #[error("`git cat-file {mode}` answered fewer objects than asked")]
    ShortBatch { mode: &'static str },
    #[error("{} is not a worktree git knows of (no entry under {})", .worktree.display(), .admin.display())]
    NotAWorktree { worktree: PathBuf, admin: PathBuf },
    /// `.worktreeinclude` or a `--copy` glob that cannot be read as gitignore patterns.
    #[error("{what}: {error}")]
    Pattern {
        what: String,
        error: Box<ignore::Error>,
    },
    #[error(
        "{} is a git repository with no commit yet, which git cannot add to the fork's branch: commit in it, or move it out of {}",
        .nested.display(),
        .worktree.display()
    )]
    EmptyNested { nested: PathBuf, worktree: PathBuf },
    #[error("the uncommitted changes do not apply cleanly to the base {}", short_id(.base))]
    DirtyDoesNotApply { base: String },
    /// git is too old for what ocfork needs, or cannot say its version.
    #[error("{0}")]
    Version(String),
    /// A thread or task doing git's work ended without an answer (it panicked).
    #[error("{0}")]
    Lost(String),
}

pub type Result<T> = std::result::Result<T, GitError>;

use crate::fault::Meaning;

impl crate::fault::Fault for GitError {
    fn meaning(&self) -> Meaning {
        match self {
            GitError::NotARepo(_)
            | GitError::Bare(_)
            | GitError::UnbornHead
            | GitError::BadRevision { .. } => Meaning::user(),
            GitError::Spawn(_) => Meaning::failure().hint("is git installed and on PATH?"),
            GitError::Failed { .. }
            | GitError::HeadMoved { .. }
            | GitError::CommitRefused { .. }
            | GitError::Io { .. }
            | GitError::Scratch(_)
            | GitError::NotABlob(_)
            | GitError::ShortBatch { .. }
            | GitError::NotAWorktree { .. }
            | GitError::Pattern { .. }
            | GitError::EmptyNested { .. }
            | GitError::DirtyDoesNotApply { .. }
            | GitError::Version(_) => Meaning::failure(),
            GitError::Lost(_) => Meaning::internal(),
        }
    }
}

/// What a git command does, in the user's words, from its command line.
fn action(args: &str) -> String {
    let sub = args.split_whitespace().next().unwrap_or("");
    let words = match sub {
        "merge-tree" => "merge the fork with your branch",
        "diff" | "diff-tree" | "merge-base" => "compare the commits",
        "cat-file" | "show" => "read the files' contents",
        "worktree" => "change the worktrees",
        "add" | "reset" | "read-tree" | "update-index" | "ls-files" => "update the index",
        "commit" | "commit-tree" | "write-tree" => "make the commit",
        "update-ref" | "branch" | "for-each-ref" | "symbolic-ref" => "read or move the branches",
        "rev-parse" | "rev-list" | "log" => "find the commit",
        "status" => "read the working tree's status",
        "check-ignore" => "tell which files are ignored",
        "submodule" => "set up the submodules",
        "apply" | "checkout" | "stash" => "change the working tree",
        "config" => "read git's config",
        _ => return format!("do `git {sub}`"),
    };
    words.to_string()
}
