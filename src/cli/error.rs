//! The one error type of the command layer: every library error becomes a [`CommandError`] of
//! the kind and with the hints its layer says ([`crate::fault::Fault`], one exhaustive match
//! per error: a new variant is a compile error until someone decides what it means to the
//! user), and the kind alone decides the exit code.

use crate::config::ConfigError;
use crate::fault::{Fault, Meaning};
use crate::git::GitError;
use crate::opencode::version::VersionError;
use crate::opencode::{ApiError, ConnectError, ServerError};
use crate::ops::attach::AttachError;
use crate::ops::clean::CleanError;
use crate::relay::RelayError;
use crate::state::StateError;

/// Exit code for a failure of the work (a fork failed, a merge conflicts).
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for bad usage, input or configuration.
pub const EXIT_USAGE: i32 = 2;
/// Exit code after Ctrl-C.
pub const EXIT_INTERRUPTED: i32 = 130;
/// Exit code when stdout's reader went away (`ocfork diff | head -1`): 0, as ripgrep does, since
/// the reader chose to stop reading; nothing more is printed, on stdout or stderr.
pub const EXIT_BROKEN_PIPE: i32 = 0;

pub use crate::fault::ErrorKind;

impl ErrorKind {
    /// The process exit code for this kind: the only place exit codes of errors are decided.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::User | ErrorKind::Config => EXIT_USAGE,
            ErrorKind::Failure | ErrorKind::Internal => EXIT_FAILURE,
            ErrorKind::BrokenPipe => EXIT_BROKEN_PIPE,
            ErrorKind::Interrupted => EXIT_INTERRUPTED,
        }
    }
}

/// A failure as the user sees it: what went wrong, its causes, and what to do about it (each
/// hint a line of its own).
#[derive(Debug)]
pub struct CommandError {
    pub kind: ErrorKind,
    pub error: anyhow::Error,
    pub hints: Vec<String>,
}

impl CommandError {
    pub fn new(kind: ErrorKind, error: impl Into<anyhow::Error>) -> CommandError {
        CommandError {
            kind,
            error: error.into(),
            hints: Vec::new(),
        }
    }

    /// Bad usage or input (exit 2).
    pub fn usage(msg: impl Into<String>) -> CommandError {
        CommandError::new(ErrorKind::User, anyhow::anyhow!(msg.into()))
    }

    /// The work failed (exit 1).
    pub fn failure(msg: impl Into<String>) -> CommandError {
        CommandError::new(ErrorKind::Failure, anyhow::anyhow!(msg.into()))
    }

    /// Stdout's reader went away.
    pub fn broken_pipe() -> CommandError {
        CommandError::new(ErrorKind::BrokenPipe, anyhow::anyhow!("stdout closed"))
    }

    /// One more hint, after those the error has.
    pub fn with_hint(mut self, hint: impl Into<String>) -> CommandError {
        self.hints.push(hint.into());
        self
    }

    /// This failure and `other`, found at the same time (here and on a host): both messages,
    /// a line each, and both hints; this one's kind decides the exit code.
    pub fn and(mut self, other: CommandError) -> CommandError {
        let error = anyhow::anyhow!("{:#}\nerror: {:#}", self.error, other.error);
        self.hints.extend(other.hints);
        CommandError {
            kind: self.kind,
            error,
            hints: self.hints,
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }

    /// Prints the error on stderr as "error: ... / caused by: ... / hint: ...", or nothing
    /// for a closed stdout.
    pub fn report(&self) {
        if self.kind == ErrorKind::BrokenPipe {
            return;
        }
        // Errors carry text from tasks, agents, git and file names: none of it drives the
        // terminal.
        let told = crate::fault::told(&*self.error, &self.hints);
        eprintln!("{}", crate::text::escape_controls(&told));
    }
}

/// A git failure in the user's words: what could not be done (`could not compare the fork
/// with main`), git's own message under it, one `git:` line each, never git's command line.
pub fn git_failed(what: impl std::fmt::Display, e: GitError) -> CommandError {
    let Meaning { kind, hints } = e.meaning();
    let error = match &e {
        GitError::Failed { stderr, .. } => {
            let said: Vec<String> = stderr.lines().map(|l| format!("  git: {l}")).collect();
            anyhow::anyhow!("{what}:\n{}", said.join("\n"))
        }
        _ => anyhow::Error::new(e).context(what.to_string()),
    };
    CommandError { kind, error, hints }
}

/// For each typed error: `From` through its [`Fault`] (what its layer says it means), and
/// `classified`, which finds the first of them in an `anyhow` chain.
macro_rules! classified_errors {
    ($($t:ty),* $(,)?) => {
        $(impl From<$t> for CommandError {
            fn from(e: $t) -> CommandError {
                let Meaning { kind, hints } = e.meaning();
                CommandError { kind, error: e.into(), hints }
            }
        })*

        fn classified(e: &(dyn std::error::Error + 'static)) -> Option<Meaning> {
            $(if let Some(c) = e.downcast_ref::<$t>() {
                return Some(c.meaning());
            })*
            None
        }
    };
}
classified_errors!(
    GitError,
    StateError,
    ConfigError,
    ServerError,
    VersionError,
    ApiError,
    ConnectError,
    crate::dispatch::DriveError,
    crate::synth::SynthError,
    RelayError,
    crate::judge::JudgeError,
    CleanError,
    AttachError,
    std::io::Error,
    serde_json::Error,
    tokio::task::JoinError,
);

/// An error the command layer put context on (`anyhow`, used here only): the first typed
/// error in its chain decides the kind, through the impls above; the message and its context
/// stay as they are.
impl From<anyhow::Error> for CommandError {
    fn from(error: anyhow::Error) -> CommandError {
        let Meaning { kind, hints } = error
            .chain()
            .find_map(classified)
            .unwrap_or_else(Meaning::failure);
        CommandError { kind, error, hints }
    }
}

#[path = "error_ops.rs"]
mod ops;

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
