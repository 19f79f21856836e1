//! A merge's error as the user sees it: a failed comparison in git's own words, the others as
//! their layer says ([`crate::fault::Fault`]).

use super::{CommandError, git_failed};
use crate::fault::{Fault, Meaning};
use crate::ops::merge::MergeError;

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
                let Meaning { kind, hints } = e.meaning();
                CommandError {
                    kind,
                    error: e.into(),
                    hints,
                }
            }
        }
    }
}
