//! Why judging cannot be done, with what the user can do about it.

use crate::git::GitError;
use crate::opencode::{ApiError, ConnectError};
use crate::state::StateError;

crate::fault::error_enum! {
    /// Why the forks could not be judged.
    #[derive(Debug, thiserror::Error)]
    pub enum JudgeError {
        #[error("the OpenCode server has no agent `{agent}` (it has: {known})")]
        UnknownAgent { agent: String, known: String },
    }
    wraps transparent {
        /// The forks' changes could not be read, or the scratch worktree made.
        Git(GitError),
        /// The scratch folder could not be made.
        Io(std::io::Error),
        Connect(ConnectError),
        Api(ApiError),
        /// The verdict could not be recorded.
        State(StateError),
    }
    meaning(self) {
        JudgeError::UnknownAgent { .. } => Meaning::user().hint("choose a read-only agent with -a"),
    }
}
