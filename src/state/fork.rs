//! A fork in the manifest: where it stands, why it ended, its check and tokens, and its time so far.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Driver;
use super::clock::ms_since;

/// Where a fork stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForkState {
    Pending,
    Setup,
    Running,
    Checking,
    Done,
    Failed,
    Timeout,
    Cancelled,
    Interrupted,
}

impl ForkState {
    /// True once the fork will not change by itself any more.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ForkState::Done
                | ForkState::Failed
                | ForkState::Timeout
                | ForkState::Cancelled
                | ForkState::Interrupted
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ForkState::Pending => "pending",
            ForkState::Setup => "setup",
            ForkState::Running => "running",
            ForkState::Checking => "checking",
            ForkState::Done => "done",
            ForkState::Failed => "failed",
            ForkState::Timeout => "timeout",
            ForkState::Cancelled => "cancelled",
            ForkState::Interrupted => "interrupted",
        }
    }
}

/// Why a fork ended, for programs and for `resume` (`error` keeps the words for people).
/// Absent in manifests written before it existed, and while the fork has not ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The agent answered (and the check, if any, ran).
    Done,
    /// The model or OpenCode reported an error for the turn.
    AgentError,
    /// The fork's `--timeout` ran out.
    Timeout,
    /// Ctrl-C or SIGTERM stopped it.
    Cancelled,
    /// The OpenCode server ocfork started exited under it.
    ServerExited,
    /// A server ocfork did not start (a session fork's, the user's) is gone: it refuses
    /// connections. The fork is `interrupted` for `resume`.
    ServerGone,
    /// No OpenCode server could be reached or started.
    NoServer,
    /// `--setup` failed.
    SetupFailed,
    /// Its worktree could not be made.
    WorktreeFailed,
    /// Its work could not be committed.
    CommitFailed,
    /// The connection to the fork's host (`try --host`) dropped under it; its work stays
    /// there. The fork is `interrupted`, for `ocfork resume` once the host is back.
    HostGone,
    /// The process driving it went away before it finished (killed, the machine stopped);
    /// the fork is `interrupted`, for `ocfork resume`.
    DriverGone,
}

impl EndReason {
    /// The fork state this end gives.
    pub fn state(self) -> ForkState {
        match self {
            EndReason::Done => ForkState::Done,
            EndReason::Timeout => ForkState::Timeout,
            EndReason::Cancelled => ForkState::Cancelled,
            EndReason::ServerGone | EndReason::HostGone | EndReason::DriverGone => {
                ForkState::Interrupted
            }
            EndReason::AgentError
            | EndReason::ServerExited
            | EndReason::NoServer
            | EndReason::SetupFailed
            | EndReason::WorktreeFailed
            | EndReason::CommitFailed => ForkState::Failed,
        }
    }
}

/// A fork's check as one cell: `-` (none ran), `pass`, `fail(2)`, or `fail` (killed).
pub fn check_cell(check: Option<&Check>) -> String {
    match check.map(|c| c.exit_code) {
        None => "-".into(),
        Some(Some(0)) => "pass".into(),
        Some(Some(code)) => format!("fail({code})"),
        Some(None) => "fail".into(),
    }
}

/// The result of `--check` in one worktree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub command: String,
    /// Exit code, or null when the command was killed by a signal or could not start.
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
}

/// One approach of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fork {
    pub name: String,
    pub prompt: String,
    pub agent: String,
    pub model: Option<String>,
    pub state: ForkState,
    #[serde(default)]
    pub merged: bool,
    pub branch: String,
    pub worktree: PathBuf,
    pub session: Option<String>,
    /// The pool member (URL) that ran the fork's latest turn.
    #[serde(default)]
    pub server: Option<String>,
    pub commit: Option<String>,
    #[serde(default)]
    pub files_changed: u64,
    #[serde(default)]
    pub insertions: u64,
    #[serde(default)]
    pub deletions: u64,
    pub check: Option<Check>,
    /// Time spent on the fork's finished turns (setup, agent, check, commit).
    #[serde(default)]
    pub duration_ms: u64,
    /// When the fork's latest turn started (RFC 3339): it left the queue for setup or its agent.
    /// Null while it waits. While it runs, its time so far is `duration_ms` plus the time since.
    #[serde(default)]
    pub started_at: Option<String>,
    pub tokens: Option<Tokens>,
    pub cost: Option<f64>,
    pub error: Option<String>,
    /// Why the fork ended, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<EndReason>,
    /// Tool calls the agent made so far (progress only).
    #[serde(default)]
    pub tool_calls: u64,
    /// What the fork is doing right now beyond its state, e.g. "retrying (attempt 2)".
    #[serde(default)]
    pub activity: Option<String>,
    /// Prompts sent later with `ocfork continue`, oldest first; the last is the one being
    /// worked on (or re-sent by `resume`) while the fork runs again.
    #[serde(default)]
    pub follow_ups: Vec<String>,
    /// The process driving this fork when it is not the run's own driver (forks that
    /// `ocfork session fork` adds to a session's run are each driven by their own process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<Driver>,
    /// Where the agent had moved the worktree's HEAD off the fork's branch when its latest
    /// turn ended (`branch rogue`, `a detached HEAD at ...`); its work went onto the branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<String>,
    /// The host (`try --host`) the fork works on; absent on this machine. Its `worktree` is
    /// then a path on that host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The forks a synthesized fork (`ocfork synth`) was written from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synth: Option<super::Synth>,
}

impl Fork {
    /// A fork of run `run` that has not started: branch `ocfork/<run>/<name>`, worktree
    /// `<root>/<name>`.
    pub fn pending(run: &str, name: String, root: &Path, prompt: String, agent: String) -> Fork {
        Fork {
            branch: format!("ocfork/{run}/{name}"),
            worktree: root.join(&name),
            name,
            prompt,
            agent,
            model: None,
            state: ForkState::Pending,
            merged: false,
            session: None,
            server: None,
            commit: None,
            files_changed: 0,
            insertions: 0,
            deletions: 0,
            check: None,
            duration_ms: 0,
            started_at: None,
            tokens: None,
            cost: None,
            error: None,
            end: None,
            tool_calls: 0,
            activity: None,
            follow_ups: Vec::new(),
            driver: None,
            moved: None,
            host: None,
            synth: None,
        }
    }
}

impl Fork {
    /// The fork's time so far at `now`: its recorded time, plus, while a turn runs, the time
    /// since that turn started.
    pub fn elapsed_ms(&self, now: time::OffsetDateTime) -> u64 {
        if self.state.is_finished() {
            return self.duration_ms;
        }
        self.duration_ms
            .saturating_add(ms_since(self.started_at.as_deref(), now))
    }
}

impl Fork {
    pub(super) fn elapsed_ms_until(&self, until: time::OffsetDateTime) -> u64 {
        self.duration_ms
            .saturating_add(ms_since(self.started_at.as_deref(), until))
    }
}
