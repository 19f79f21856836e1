//! Why judging cannot be done, with what the user can do about it.

use crate::git::GitError;
use crate::hint::Hints;
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

impl Hints for JudgeError {
    fn hints(&self) -> Vec<String> {
        match self {
            JudgeError::UnknownAgent { .. } => vec!["choose a read-only agent with -a".into()],
            JudgeError::Git(e) => e.hints(),
            JudgeError::Io(e) => e.hints(),
            JudgeError::Connect(e) => e.hints(),
            JudgeError::Api(e) => e.hints(),
            JudgeError::State(e) => e.hints(),
        }
    }
}
