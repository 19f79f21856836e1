//! What the operations' errors ([`crate::ops`]) mean to the user: their kind and hint, and a
//! failed comparison of a merge in git's own words.

use super::{Classify, CommandError, ErrorKind, git_failed};
use crate::hint::Hints;
use crate::ops::attach::AttachError;
use crate::ops::clean::CleanError;
use crate::ops::merge::MergeError;

impl Classify for MergeError {
    fn kind(&self) -> ErrorKind {
        match self {
            MergeError::Git(e) | MergeError::Compare { source: e, .. } => e.kind(),
            MergeError::State(e) => e.kind(),
            MergeError::OwnWorktree(_) | MergeError::DirtyStart(_) => ErrorKind::User,
            MergeError::NotFinished { .. }
            | MergeError::NoCommit { .. }
            | MergeError::Uncommitted { .. }
            | MergeError::InProgress { .. }
            | MergeError::Conflicts { .. }
            | MergeError::Blocked { .. }
            | MergeError::NoIdentity
            | MergeError::Commit { .. } => ErrorKind::Failure,
        }
    }
}

/// A merge error as the user sees it; a failed comparison shows git's own words, as
/// [`git_failed`] does.
impl From<MergeError> for CommandError {
    fn from(e: MergeError) -> CommandError {
        match e {
            MergeError::Compare { name, into, source } => git_failed(
                format!("could not compare the fork {name} with {into}"),
                source,
            ),
            e => {
                let hints = e.hints();
                CommandError {
                    kind: Classify::kind(&e),
                    error: e.into(),
                    hints,
                }
            }
        }
    }
}

impl Classify for CleanError {
    fn kind(&self) -> ErrorKind {
        match self {
            CleanError::Git(e) => e.kind(),
            CleanError::State(e) => e.kind(),
            CleanError::InsideWorktree(_) => ErrorKind::User,
            CleanError::Running { .. } => ErrorKind::Failure,
        }
    }
}

impl Classify for AttachError {
    fn kind(&self) -> ErrorKind {
        match self {
            AttachError::Binary(e) => e.kind(),
            AttachError::Version(e) => e.kind(),
            AttachError::NoSession { .. } | AttachError::OnHost { .. } => ErrorKind::User,
            AttachError::WorktreeGone { .. } => ErrorKind::Failure,
        }
    }
}
