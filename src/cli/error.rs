//! The one error type of the command layer: every library error becomes a [`CommandError`] of
//! one [`ErrorKind`] through an exhaustive `From` impl (a new variant is a compile error until
//! someone decides what it means to the user), and the kind alone decides the exit code.

use crate::config::ConfigError;
use crate::git::GitError;
use crate::hint::Hints;
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

/// What kind of failure, as the user sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// What the user asked for cannot be done as asked (a name that does not exist, a bad
    /// flag value, not a repository).
    User,
    /// A config file or setting is wrong or unreadable.
    Config,
    /// The work itself failed (git refused, a server is unreachable, a conflict).
    Failure,
    /// ocfork or its own files are in a state they should never be in.
    Internal,
    /// Stdout was closed by its reader: stop quietly.
    BrokenPipe,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

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
        let told = crate::hint::told(&*self.error, &self.hints);
        eprintln!("{}", crate::text::escape_controls(&told));
    }
}

/// A git failure in the user's words: what could not be done (`could not compare the fork
/// with main`), git's own message under it, one `git:` line each, never git's command line.
pub fn git_failed(what: impl std::fmt::Display, e: GitError) -> CommandError {
    let (kind, hints) = (Classify::kind(&e), e.hints());
    let error = match &e {
        GitError::Failed { stderr, .. } => {
            let said: Vec<String> = stderr.lines().map(|l| format!("  git: {l}")).collect();
            anyhow::anyhow!("{what}:\n{}", said.join("\n"))
        }
        _ => anyhow::Error::new(e).context(what.to_string()),
    };
    CommandError { kind, error, hints }
}

/// What an error means to the user: its kind (its hints are the layer's own, through
/// [`Hints`]). Every impl is an exhaustive `match` with no catch-all arm.
pub trait Classify: Hints {
    fn kind(&self) -> ErrorKind;
}

impl Classify for GitError {
    fn kind(&self) -> ErrorKind {
        match self {
            GitError::NotARepo(_)
            | GitError::Bare(_)
            | GitError::UnbornHead
            | GitError::BadRevision { .. } => ErrorKind::User,
            GitError::Spawn(_)
            | GitError::Failed { .. }
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
            | GitError::Version(_) => ErrorKind::Failure,
            GitError::Lost(_) => ErrorKind::Internal,
        }
    }
}

impl Classify for StateError {
    fn kind(&self) -> ErrorKind {
        match self {
            StateError::Taken(_)
            | StateError::Busy { .. }
            | StateError::UnknownRun { .. }
            | StateError::NoRuns
            | StateError::UnknownFork { .. }
            | StateError::BadReference(_)
            | StateError::UnknownName { .. } => ErrorKind::User,
            StateError::Read { .. } | StateError::Write { .. } | StateError::Remove { .. } => {
                ErrorKind::Failure
            }
            StateError::Parse { .. } | StateError::Invalid { .. } => ErrorKind::Internal,
        }
    }
}

impl Classify for ConfigError {
    fn kind(&self) -> ErrorKind {
        match self {
            ConfigError::Read { .. } | ConfigError::Invalid { .. } => ErrorKind::Config,
        }
    }
}

impl Classify for ServerError {
    fn kind(&self) -> ErrorKind {
        match self {
            ServerError::NotFound(_) => ErrorKind::Config,
            ServerError::Spawn { .. } | ServerError::Start(_) => ErrorKind::Failure,
        }
    }
}

impl Classify for VersionError {
    fn kind(&self) -> ErrorKind {
        match self {
            VersionError::Unsupported { .. } | VersionError::Unknown { .. } => ErrorKind::Config,
        }
    }
}

impl Classify for ConnectError {
    fn kind(&self) -> ErrorKind {
        match self {
            ConnectError::Api(e) => e.kind(),
            ConnectError::Server(e) => e.kind(),
            ConnectError::Version(e) => e.kind(),
        }
    }
}

impl Classify for crate::dispatch::DriveError {
    fn kind(&self) -> ErrorKind {
        use crate::dispatch::DriveError;
        match self {
            DriveError::State(e) => e.kind(),
            DriveError::Connect(e) => e.kind(),
            DriveError::Api(e) => e.kind(),
            DriveError::NoServer => ErrorKind::Failure,
        }
    }
}

impl Classify for crate::synth::SynthError {
    fn kind(&self) -> ErrorKind {
        use crate::synth::SynthError;
        match self {
            SynthError::Git(e) => e.kind(),
            SynthError::Unfinished { .. }
            | SynthError::UnknownFork { .. }
            | SynthError::NoVerdict { .. }
            | SynthError::TooFew(_) => ErrorKind::User,
        }
    }
}

impl Classify for ApiError {
    fn kind(&self) -> ErrorKind {
        match self {
            ApiError::BadUrl(_) => ErrorKind::User,
            ApiError::Connect { .. } | ApiError::Status { .. } => ErrorKind::Failure,
            ApiError::Decode { .. } => ErrorKind::Internal,
        }
    }
}

impl Classify for RelayError {
    fn kind(&self) -> ErrorKind {
        match self {
            RelayError::Api(e) => e.kind(),
            RelayError::Git(e) => e.kind(),
            RelayError::State(e) => e.kind(),
            RelayError::Config(e) => e.kind(),
            RelayError::UnknownSession { .. }
            | RelayError::UnknownAgent { .. }
            | RelayError::NotShared { .. }
            | RelayError::EmptyText => ErrorKind::User,
            RelayError::HopLimit { .. }
            | RelayError::NoDirectory(_)
            | RelayError::Dropped { .. }
            | RelayError::TurnFailed { .. } => ErrorKind::Failure,
        }
    }
}

impl Classify for crate::judge::JudgeError {
    fn kind(&self) -> ErrorKind {
        use crate::judge::JudgeError;
        match self {
            JudgeError::UnknownAgent { .. } => ErrorKind::User,
            JudgeError::Git(e) => e.kind(),
            JudgeError::Io(e) => Classify::kind(e),
            JudgeError::Connect(e) => e.kind(),
            JudgeError::Api(e) => e.kind(),
            JudgeError::State(e) => e.kind(),
        }
    }
}

impl Classify for std::io::Error {
    fn kind(&self) -> ErrorKind {
        match self.kind() {
            std::io::ErrorKind::BrokenPipe => ErrorKind::BrokenPipe,
            _ => ErrorKind::Failure,
        }
    }
}

impl Classify for serde_json::Error {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

impl Classify for tokio::task::JoinError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

/// For each typed error: `From` through its [`Classify`], and `classified`, which finds the
/// first of them in an `anyhow` chain.
macro_rules! classified_errors {
    ($($t:ty),* $(,)?) => {
        $(impl From<$t> for CommandError {
            fn from(e: $t) -> CommandError {
                let hints = e.hints();
                CommandError { kind: Classify::kind(&e), error: e.into(), hints }
            }
        })*

        fn classified(e: &(dyn std::error::Error + 'static)) -> Option<(ErrorKind, Vec<String>)> {
            $(if let Some(c) = e.downcast_ref::<$t>() {
                return Some((Classify::kind(c), c.hints()));
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
        let (kind, hints) = error
            .chain()
            .find_map(classified)
            .unwrap_or((ErrorKind::Failure, Vec::new()));
        CommandError { kind, error, hints }
    }
}

#[path = "error_ops.rs"]
mod ops;

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
