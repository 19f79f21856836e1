//! Why a merge cannot be made, in the user's words with a hint each, and what is worth saying
//! about a fork that is merged all the same.

use std::path::PathBuf;

use crate::git::GitError;
use crate::state::{ForkState, StateError};

crate::fault::error_enum! {
    /// Why a merge was refused or failed; nothing was changed unless said.
    #[derive(Debug, thiserror::Error)]
    pub enum MergeError {
        #[error("fork {name} is still {}; only a finished fork can be merged", state.as_str())]
        NotFinished {
            name: String,
            state: ForkState,
            run: String,
        },
        #[error(
            "fork {name} has no commit to merge: its branch {branch} is gone and git has no commit recorded for it"
        )]
        NoCommit { name: String, branch: String },
        #[error(
            "fork {name} has uncommitted work in its worktree {}:\n  {}\nocfork merges only what a fork committed; nothing was changed",
            worktree.display(),
            files.join("\n  ")
        )]
        Uncommitted {
            name: String,
            worktree: PathBuf,
            files: Vec<String>,
        },
        #[error("{} is the fork's own worktree; run `ocfork merge` in the tree to merge into", .0.display())]
        OwnWorktree(PathBuf),
        #[error("{op} is in progress in {}", workdir.display())]
        InProgress { op: String, workdir: PathBuf },
        #[error(
            "run {0} carried uncommitted changes into its forks (--include-dirty); --merge would record them as merged"
        )]
        DirtyStart(String),
        #[error("could not compare the fork {name} with {into}")]
        Compare {
            name: String,
            into: String,
            #[source]
            source: GitError,
        },
        #[error(
            "merging {name} into {into} would conflict in:\n  {}\nnothing was changed",
            paths.join("\n  ")
        )]
        Conflicts {
            name: String,
            into: String,
            paths: Vec<String>,
            branch: String,
        },
        #[error(
            "the main tree has files in the way of merging {name}:\n  {}\nnothing was changed",
            blocked.iter().map(|(p, why)| format!("{p} ({why})")).collect::<Vec<_>>().join("\n  ")
        )]
        Blocked {
            name: String,
            blocked: Vec<(String, &'static str)>,
        },
        #[error(
            "git does not know who you are (user.name and user.email), so it cannot make the commit; nothing was changed"
        )]
        NoIdentity,
        /// `git commit` refused (a hook, signing) or HEAD moved meanwhile.
        #[error("could not commit the merge of {name} into {into}: {error}")]
        Commit {
            name: String,
            into: String,
            error: GitError,
            /// The user has commit hooks that ran.
            hooks: bool,
        },
    }
    wraps transparent { Git(GitError), State(StateError) }
    meaning(self) {
        MergeError::Compare { source, .. } => source.meaning(),
        MergeError::OwnWorktree(_) => Meaning::user(),
        MergeError::DirtyStart(_) => Meaning::user().hint("merge with --squash (the default)"),
        MergeError::NoCommit { .. } => Meaning::failure(),
        MergeError::NotFinished { run, .. } => {
            Meaning::failure().hint(format!("wait for it with `ocfork wait {run}`"))
        }
        MergeError::Uncommitted { worktree, .. } => {
            let wt = crate::text::shell_quote(&worktree.to_string_lossy());
            Meaning::failure().hint(format!(
                "commit it there (`git -C {wt} add -A && git -C {wt} commit`), then merge again"
            ))
        }
        MergeError::InProgress { .. } => Meaning::failure().hint("finish or abort it first"),
        MergeError::Conflicts { into, branch, .. } => Meaning::failure().hint(format!(
            "these files changed on {into} since the run started too; merge by hand with `git merge {branch}`"
        )),
        MergeError::Blocked { .. } => Meaning::failure().hint(
            "commit or stash them (`git stash -u` takes untracked files too), then merge again",
        ),
        MergeError::NoIdentity => Meaning::failure().hint(
            "git config user.name \"Your Name\" && git config user.email you@example.com (add --global for every repository)",
        ),
        MergeError::Commit { error: GitError::HeadMoved { .. }, .. } => Meaning::failure()
            .hint("nothing was changed; merge again to merge onto the new HEAD"),
        MergeError::Commit { hooks: true, .. } => Meaning::failure()
            .hint("nothing was changed; `--no-verify` skips your commit hooks"),
        MergeError::Commit { .. } => Meaning::failure().hint("nothing was changed"),
    }
}

/// What is worth knowing about a fork that is merged all the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeWarning {
    /// The fork ended other than `done`; what it committed is merged.
    Ended { name: String, state: ForkState },
    /// Its `--check` failed or did not finish.
    CheckFailed {
        name: String,
        command: String,
        exit_code: Option<i32>,
    },
    /// The judge found it weakened its tests.
    TestsWeakened { name: String, files: Vec<String> },
    /// Its agent moved its branch below the run's start (the text says so).
    LostStart(String),
}

impl std::fmt::Display for MergeWarning {
    /// The line after `ocfork: `.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeWarning::Ended { name, state } => write!(
                f,
                "note: fork {name} ended {}; merging what it committed",
                state.as_str()
            ),
            MergeWarning::CheckFailed {
                name,
                command,
                exit_code,
            } => {
                let how = match exit_code {
                    Some(code) => format!("exited {code}"),
                    None => "did not finish".into(),
                };
                write!(
                    f,
                    "warning: the check `{command}` of fork {name} failed ({how}); merging it anyway"
                )
            }
            MergeWarning::TestsWeakened { name, files } => {
                let which = match files.is_empty() {
                    true => String::new(),
                    false => format!(" ({})", files.join(", ")),
                };
                write!(
                    f,
                    "warning: the judge found that fork {name} weakened its tests{which}; merging it anyway"
                )
            }
            MergeWarning::LostStart(w) => write!(f, "warning: {w}"),
        }
    }
}
