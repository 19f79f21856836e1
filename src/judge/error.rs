//! Why judging cannot be done, with what the user can do about it.

use crate::fault::{Fault, Meaning};
use crate::git::GitError;
use crate::opencode::{ApiError, ConnectError};
use crate::state::StateError;

/// Why the forks could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("the OpenCode server has no agent `{agent}` (it has: {known})")]
    UnknownAgent { agent: String, known: String },
    /// The forks' changes could not be read, or the scratch worktree made.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The scratch folder could not be made.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The verdict could not be recorded.
    #[error(transparent)]
    State(#[from] StateError),
}

impl Fault for JudgeError {
    fn meaning(&self) -> Meaning {
        match self {
            JudgeError::UnknownAgent { .. } => {
                Meaning::user().hint("choose a read-only agent with -a")
            }
            JudgeError::Git(e) => e.meaning(),
            JudgeError::Io(e) => e.meaning(),
            JudgeError::Connect(e) => e.meaning(),
            JudgeError::Api(e) => e.meaning(),
            JudgeError::State(e) => e.meaning(),
        }
    }
}
