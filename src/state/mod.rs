//! Run manifests: the schema-1 record of a run and its forks, stored atomically in the
//! repository's common git dir under `ocfork/runs/`, one JSON file per run.
//!
//! # JSON: the run object (schema 1)
//!
//! `ocfork try --json`, `status --json`, `wait --json`, `resume --json` and `continue --json`
//! print one run object, the manifest as it is kept on disk ([`Run`] and [`Fork`] serialized).
//! Fields are only ever added; a field marked `?` may be absent. `tests/json_docs.rs` checks
//! that this table names exactly the fields a real run prints.
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `schema` | number | 1 |
//! | `run` | string | the run's name, e.g. `redux-vs-context-api` |
//! | `repo` | string | absolute path of the main worktree |
//! | `base` | string | 40-hex commit the run is based on |
//! | `start` | string | 40-hex commit every fork starts from: `base`, or one on top of it holding the main tree's changes (`--include-dirty`) |
//! | `task` | string or null | the shared task |
//! | `state` | string | `running`, `done` (every fork `done`) or `failed` (all ended, one not `done`) |
//! | `created_at` | string | RFC 3339 (UTC, milliseconds) |
//! | `pid` | number or null | the process driving the run |
//! | `pid_start` | number or null | that process's start time (clock ticks since boot) |
//! | `check_command` | string or null | `--check` |
//! | `setup_command` | string or null | `--setup` |
//! | `timeout_ms` | number or null | `--timeout`, per fork |
//! | `jobs` | number or null | `-j`; null means all at once |
//! | `server` | string or null | URL given with `--server` (never its password) |
//! | `opencode` | string or null | the opencode binary used to spawn a server |
//! | `dispatched` | bool | every fork was handed to the queue (`--detach` returns then) |
//! | `copy` | array of strings | `--copy` globs |
//! | `spawned_server` | object or null | the `opencode serve` the driver runs, while it runs |
//! | `spawned_server.pid` | number | its pid |
//! | `spawned_server.url` | string | where it listens (127.0.0.1) |
//! | `forks` | array | one object per fork, in the order given |
//! | `forks[].name` | string | the fork's name, `[a-z0-9][a-z0-9-]{0,39}` |
//! | `forks[].prompt` | string | the full prompt sent (task plus approach) |
//! | `forks[].agent` | string | OpenCode agent |
//! | `forks[].model` | string or null | `provider/model`; null is OpenCode's default |
//! | `forks[].state` | string | `pending`, `setup`, `running`, `checking`, `done`, `failed`, `timeout`, `cancelled` or `interrupted` |
//! | `forks[].merged` | bool | `ocfork merge` brought it into a branch |
//! | `forks[].branch` | string | `ocfork/<run>/<fork>` |
//! | `forks[].worktree` | string | absolute path of its worktree (gone after `clean`) |
//! | `forks[].session` | string or null | OpenCode session id, `ses_...` |
//! | `forks[].commit` | string or null | 40-hex commit holding its work |
//! | `forks[].files_changed` | number | files changed against `start` |
//! | `forks[].insertions` | number | lines added, as `git diff --numstat` counts |
//! | `forks[].deletions` | number | lines removed |
//! | `forks[].check` | object or null | the `--check` result; null without `--check` |
//! | `forks[].check.command` | string | the command |
//! | `forks[].check.exit_code` | number or null | null when killed by a signal or it could not start |
//! | `forks[].check.duration_ms` | number | how long it ran |
//! | `forks[].duration_ms` | number | time of its finished turns |
//! | `forks[].started_at` | string or null | RFC 3339 start of its latest turn; null while it waits (while it runs, its time so far is `duration_ms` plus the time since) |
//! | `forks[].tokens` | object or null | tokens the model used |
//! | `forks[].tokens.input` | number | input tokens |
//! | `forks[].tokens.output` | number | output tokens |
//! | `forks[].cost` | number or null | cost OpenCode reported |
//! | `forks[].error` | string or null | what failed: OpenCode's or git's error, a timeout, ... |
//! | `forks[].tool_calls` | number | tool calls its agent made so far |
//! | `forks[].activity` | string or null | what it does beyond its state, e.g. `retrying (attempt 2)` |
//! | `forks[].follow_ups` | array of strings | prompts sent later with `ocfork continue`, oldest first |
//! | `forks[].driver?` | object | the process driving this fork when not the run's (forks of `ocfork session fork`) |
//! | `forks[].driver.pid` | number | its pid |
//! | `forks[].driver.pid_start` | number or null | its start time (clock ticks since boot) |

mod lock;
pub mod verdict;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Version of the JSON written by `--json` and kept on disk.
pub const SCHEMA: u32 = 1;

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
    /// No OpenCode server could be reached or started.
    NoServer,
    /// `--setup` failed.
    SetupFailed,
    /// Its worktree could not be made.
    WorktreeFailed,
    /// Its work could not be committed.
    CommitFailed,
}

impl EndReason {
    /// The fork state this end gives.
    pub fn state(self) -> ForkState {
        match self {
            EndReason::Done => ForkState::Done,
            EndReason::Timeout => ForkState::Timeout,
            EndReason::Cancelled => ForkState::Cancelled,
            EndReason::AgentError
            | EndReason::ServerExited
            | EndReason::NoServer
            | EndReason::SetupFailed
            | EndReason::WorktreeFailed
            | EndReason::CommitFailed => ForkState::Failed,
        }
    }
}

/// Where a run stands: `running` until every fork ended, then `done`, `cancelled` (Ctrl-C
/// stopped a fork) or `failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    Done,
    Failed,
    Cancelled,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Done => "done",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
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
}

/// A process by pid and start time, so a reused pid is not taken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    pub pid: u32,
    pub pid_start: Option<u64>,
}

impl Driver {
    /// This process.
    pub fn current() -> Driver {
        Driver::of(std::process::id())
    }

    pub fn of(pid: u32) -> Driver {
        Driver {
            pid,
            pid_start: process_start_time(pid),
        }
    }

    pub fn alive(&self) -> bool {
        process_start_time(self.pid).is_some_and(|t| Some(t) == self.pid_start)
    }
}

/// One `ocfork try`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    pub schema: u32,
    pub run: String,
    pub repo: PathBuf,
    pub base: String,
    /// The commit every fork branch starts from: `base`, or a commit on top of it holding the
    /// main tree's uncommitted changes (`--include-dirty`).
    pub start: String,
    pub task: Option<String>,
    pub state: RunState,
    pub created_at: String,
    pub forks: Vec<Fork>,
    /// Process that drives the run; when it is gone, unfinished forks are `interrupted`.
    #[serde(default)]
    pub pid: Option<u32>,
    /// Start time of `pid` (clock ticks since boot), so a reused pid is not taken for ours.
    #[serde(default)]
    pub pid_start: Option<u64>,
    /// Check command, kept so `resume` can run it.
    #[serde(default)]
    pub check_command: Option<String>,
    #[serde(default)]
    pub setup_command: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Forks prompting at once (`-j`); None means all.
    #[serde(default)]
    pub jobs: Option<usize>,
    /// URL of a server given with `--server` (never its password).
    #[serde(default)]
    pub server: Option<String>,
    /// The opencode binary used to spawn a server.
    #[serde(default)]
    pub opencode: Option<PathBuf>,
    /// Set once every fork has been handed to the relay queue (`--detach` returns then).
    #[serde(default)]
    pub dispatched: bool,
    /// `--copy` globs: ignored files copied from the main tree into each new worktree, on top
    /// of those `.worktreeinclude` names.
    #[serde(default)]
    pub copy: Vec<String>,
    /// The `opencode serve` the driver spawned, while it runs (never its password).
    #[serde(default)]
    pub spawned_server: Option<SpawnedServer>,
    /// The verdict of `ocfork judge`, once it ran (additive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<verdict::Verdict>,
}

/// Where the server a driver spawned listens, so users (and `attach`) can find it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnedServer {
    pub pid: u32,
    pub url: String,
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
    fn elapsed_ms_until(&self, until: time::OffsetDateTime) -> u64 {
        self.duration_ms
            .saturating_add(ms_since(self.started_at.as_deref(), until))
    }
}

/// Milliseconds from an RFC 3339 time to `until`; 0 when there is none or it is later.
fn ms_since(start: Option<&str>, until: time::OffsetDateTime) -> u64 {
    let format = time::format_description::well_known::Rfc3339;
    start
        .and_then(|s| time::OffsetDateTime::parse(s, &format).ok())
        .map_or(0, |t| {
            u64::try_from((until - t).whole_milliseconds()).unwrap_or(0)
        })
}

impl Run {
    /// Marks orphaned forks `interrupted` (see [`Run::mark_interrupted_if_orphaned`]) and
    /// records each one's time: its turn lasted at least until `last_seen`, the last time its
    /// driver wrote the manifest.
    fn mark_interrupted_seen(&mut self, last_seen: Option<std::time::SystemTime>) -> bool {
        let running: Vec<bool> = self.forks.iter().map(|f| !f.state.is_finished()).collect();
        if !self.mark_interrupted_if_orphaned() {
            return false;
        }
        let seen = last_seen.map(time::OffsetDateTime::from);
        for (fork, was_running) in self.forks.iter_mut().zip(running) {
            if was_running
                && fork.state == ForkState::Interrupted
                && let Some(seen) = seen
            {
                fork.duration_ms = fork.elapsed_ms_until(seen);
            }
        }
        true
    }

    /// Recomputes the run state from its forks.
    pub fn refresh_state(&mut self) {
        self.state = if !self.forks.iter().all(|f| f.state.is_finished()) {
            RunState::Running
        } else if self.forks.iter().all(|f| f.state == ForkState::Done) {
            RunState::Done
        } else if self.forks.iter().any(|f| f.state == ForkState::Cancelled) {
            RunState::Cancelled
        } else {
            RunState::Failed
        };
    }

    /// What makes a manifest read from `<name>.json` unusable, if anything: a hand-edited
    /// file must not make ocfork touch branches or worktrees of another run.
    pub fn problem(&self, name: &str) -> Option<String> {
        if self.schema != SCHEMA {
            return Some(format!("schema {} is not {SCHEMA}", self.schema));
        }
        if self.run != name {
            return Some(format!("it names run `{}`", self.run));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &self.forks {
            if !crate::names::is_valid(&f.name) || !seen.insert(f.name.as_str()) {
                return Some(format!("fork name `{}` is not valid or not unique", f.name));
            }
            let branch = format!("ocfork/{}/{}", self.run, f.name);
            if f.branch != branch {
                return Some(format!(
                    "fork `{}` has branch `{}`, expected `{branch}`",
                    f.name, f.branch
                ));
            }
            if !f.worktree.is_absolute() {
                return Some(format!("fork `{}` has a relative worktree path", f.name));
            }
        }
        None
    }

    pub fn fork(&self, name: &str) -> Option<&Fork> {
        self.forks.iter().find(|f| f.name == name)
    }

    pub fn fork_mut(&mut self, name: &str) -> Option<&mut Fork> {
        self.forks.iter_mut().find(|f| f.name == name)
    }

    /// True while the process recorded as driving the run is alive.
    pub fn owner_alive(&self) -> bool {
        match self.pid {
            Some(pid) => process_start_time(pid).is_some_and(|t| Some(t) == self.pid_start),
            None => false,
        }
    }

    /// Marks unfinished forks `interrupted` when the driving process is gone. Returns whether
    /// anything changed.
    pub fn mark_interrupted_if_orphaned(&mut self) -> bool {
        if self.state != RunState::Running {
            return false;
        }
        let owner_alive = self.owner_alive();
        let mut changed = false;
        for fork in &mut self.forks {
            let alive = fork.driver.map_or(owner_alive, |d| d.alive());
            if !fork.state.is_finished() && !alive {
                fork.state = ForkState::Interrupted;
                fork.error
                    .get_or_insert_with(|| "ocfork stopped before this fork finished".into());
                changed = true;
            }
        }
        self.refresh_state();
        changed
    }
}

/// Held by the process driving a run; see [`Store::lock_driver`].
pub struct DriverLock {
    _lock: nix::fcntl::Flock<fs::File>,
}

/// Start time of a process in clock ticks since boot (field 22 of `/proc/PID/stat`), or None
/// when there is no such process.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let state = rest.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read run state {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("run state {path} is not valid ocfork JSON: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write run state {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("a run named `{0}` already exists in this repository")]
    Taken(String),
    #[error("run `{run}` is being driven by another ocfork process{}", .pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Busy { run: String, pid: Option<u32> },
    #[error("run state {path} does not describe run `{run}`: {problem}")]
    Invalid {
        path: PathBuf,
        run: String,
        problem: String,
    },
    #[error("no run named `{name}`{}", list_hint(.known))]
    UnknownRun { name: String, known: Vec<String> },
    #[error("no runs in this repository yet; start one with `ocfork try`")]
    NoRuns,
    #[error("no fork `{fork}` in run `{run}`; its forks: {}", .known.join(", "))]
    UnknownFork {
        fork: String,
        run: String,
        known: Vec<String>,
    },
    #[error("`{0}` is not a fork reference; write FORK or RUN/FORK")]
    BadReference(String),
    #[error(
        "`{name}` is neither a fork of the latest run `{latest}` (forks: {}) nor a run{}",
        .forks.join(", "),
        list_hint(.runs)
    )]
    UnknownName {
        name: String,
        latest: String,
        forks: Vec<String>,
        runs: Vec<String>,
    },
    #[error("cannot remove run state {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn list_hint(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!("; runs here: {}", known.join(", "))
    }
}

/// The directory of run manifests of one repository.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store inside a repository's common git dir.
    pub fn new(common_dir: &Path) -> Store {
        Store {
            dir: common_dir.join("ocfork").join("runs"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the output of a fork's `setup` or `check` command goes.
    pub fn step_log(&self, run: &str, fork: &str, step: &str) -> PathBuf {
        self.dir
            .join(format!("{run}.logs"))
            .join(format!("{fork}.{step}.log"))
    }

    pub fn path(&self, run: &str) -> PathBuf {
        self.dir.join(format!("{run}.json"))
    }

    fn ensure_dir(&self) -> Result<(), StateError> {
        fs::create_dir_all(&self.dir).map_err(|source| StateError::Write {
            path: self.dir.clone(),
            source,
        })?;
        restrict(&self.dir, 0o700);
        if let Some(parent) = self.dir.parent() {
            restrict(parent, 0o700);
        }
        Ok(())
    }

    /// Records a new run; refuses when the name is taken, even by a `try` racing this one.
    pub fn create(&self, run: &Run) -> Result<(), StateError> {
        self.write(run, false)
    }

    /// Writes the manifest atomically: readers see the old or the new file, never a torn one.
    pub fn save(&self, run: &Run) -> Result<(), StateError> {
        self.write(run, true)
    }

    /// Writes a whole manifest to a temporary file, then renames it into place (`replace`) or
    /// links it there only if the name is free, so even a new run is never seen half-written.
    fn write(&self, run: &Run, replace: bool) -> Result<(), StateError> {
        self.ensure_dir()?;
        let path = self.path(&run.run);
        let err = |source| StateError::Write {
            path: path.clone(),
            source,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .map_err(err)?;
        let json = serde_json::to_vec_pretty(run).map_err(|e| err(std::io::Error::other(e)))?;
        tmp.write_all(&json).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        let persisted = if replace {
            tmp.persist(&path)
        } else {
            tmp.persist_noclobber(&path)
        };
        match persisted {
            Ok(_) => {}
            Err(e) if !replace && e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::Taken(run.run.clone()));
            }
            Err(e) => return Err(err(e.error)),
        }
        restrict(&path, 0o600);
        Ok(())
    }

    pub fn load(&self, run: &str) -> Result<Run, StateError> {
        if !crate::names::is_valid(run) {
            return Err(StateError::UnknownRun {
                name: run.to_string(),
                known: self.names().unwrap_or_default(),
            });
        }
        let path = self.path(run);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::UnknownRun {
                    name: run.to_string(),
                    known: self.names().unwrap_or_default(),
                });
            }
            Err(source) => return Err(StateError::Read { path, source }),
        };
        let parsed: Run = serde_json::from_slice(&bytes).map_err(|source| StateError::Parse {
            path: path.clone(),
            source,
        })?;
        match parsed.problem(run) {
            Some(problem) => Err(StateError::Invalid {
                path,
                run: run.to_string(),
                problem,
            }),
            None => Ok(parsed),
        }
    }

    /// Opens (creating it, private) a lock file in the store.
    fn lock_file(&self, name: &str) -> Result<(PathBuf, fs::File), StateError> {
        self.ensure_dir()?;
        let path = self.dir.join(name);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StateError::Write {
                path: path.clone(),
                source,
            })?;
        restrict(&path, 0o600);
        Ok((path, file))
    }

    /// Takes the run's driver lock: only one process drives a run at a time. The lock is
    /// released when the returned value is dropped or the process dies.
    pub fn lock_driver(&self, run: &str) -> Result<DriverLock, StateError> {
        match self.lock_named(&format!("{run}.lock"), false)? {
            Some(lock) => Ok(DriverLock { _lock: lock }),
            None => Err(StateError::Busy {
                run: run.to_string(),
                pid: self.load(run).ok().and_then(|r| r.pid),
            }),
        }
    }

    /// Changes a run on disk under a lock, so several processes can each change their own
    /// forks of it without losing each other's changes. Creates the run with `create` when
    /// it does not exist yet (`create` returning None leaves it absent).
    pub fn update(
        &self,
        run: &str,
        create: impl FnOnce() -> Option<Run>,
        f: impl FnOnce(&mut Run),
    ) -> Result<Option<Run>, StateError> {
        // Not the driver's `<run>.lock`: the driver holds that for the whole run and updates too.
        let _guard = self.lock_named(&format!("{run}.state-lock"), true)?;
        let mut current = match self.load(run) {
            Ok(r) => r,
            Err(StateError::UnknownRun { .. }) => match create() {
                Some(r) => r,
                None => return Ok(None),
            },
            Err(e) => return Err(e),
        };
        f(&mut current);
        current.refresh_state();
        self.save(&current)?;
        Ok(Some(current))
    }

    /// Loads a run and, when its driving process died, records its unfinished forks as
    /// `interrupted`.
    pub fn load_checked(&self, run: &str) -> Result<Run, StateError> {
        let mut r = self.load(run)?;
        let last_seen = || fs::metadata(self.path(run)).and_then(|m| m.modified()).ok();
        if r.mark_interrupted_seen(last_seen()) {
            // Recorded under the lock, on the file as it is then, not on the copy read above.
            if let Some(updated) = self.update(
                run,
                || None,
                |r| {
                    r.mark_interrupted_seen(last_seen());
                },
            )? {
                r = updated;
            }
        }
        Ok(r)
    }

    /// Names of every run, in no particular order.
    pub fn names(&self) -> Result<Vec<String>, StateError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StateError::Read {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".json")?;
                crate::names::is_valid(stem).then(|| stem.to_string())
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// Every readable run, newest first, plus the errors of those that could not be read.
    pub fn all(&self) -> Result<(Vec<Run>, Vec<StateError>), StateError> {
        let mut runs = Vec::new();
        let mut bad = Vec::new();
        for name in self.names()? {
            match self.load_checked(&name) {
                Ok(r) => runs.push(r),
                Err(e) => bad.push(e),
            }
        }
        runs.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.run.cmp(&a.run))
        });
        Ok((runs, bad))
    }

    /// The newest run.
    pub fn latest(&self) -> Result<Run, StateError> {
        let (runs, _) = self.all()?;
        runs.into_iter().next().ok_or(StateError::NoRuns)
    }

    /// The named run, or the newest one.
    pub fn resolve(&self, name: Option<&str>) -> Result<Run, StateError> {
        match name {
            Some(n) => self.load_checked(n),
            None => self.latest(),
        }
    }

    /// The fork a reference names: `FORK` (in the latest run) or `RUN/FORK`. Unknown names
    /// give an error listing the valid ones.
    pub fn resolve_fork(&self, reference: &str) -> Result<ForkRef, StateError> {
        let (run, fork) = match reference.split_once('/') {
            Some((run, fork)) => {
                if run.is_empty() || fork.is_empty() || fork.contains('/') {
                    return Err(StateError::BadReference(reference.to_string()));
                }
                (self.load_checked(run)?, fork)
            }
            None => (self.latest()?, reference),
        };
        match run.forks.iter().position(|f| f.name == fork) {
            Some(index) => Ok(ForkRef { run, index }),
            None => Err(StateError::UnknownFork {
                fork: fork.to_string(),
                known: run.forks.iter().map(|f| f.name.clone()).collect(),
                run: run.run,
            }),
        }
    }

    /// What a name on the command line means where either a run or a fork may stand: a
    /// reference with `/` is a fork; a bare name is a fork of the latest run when it has one
    /// of that name, else a run.
    pub fn resolve_target(&self, name: &str) -> Result<Target, StateError> {
        if name.contains('/') {
            return self.resolve_fork(name).map(Target::Fork);
        }
        let latest = self.latest()?;
        if let Some(index) = latest.forks.iter().position(|f| f.name == name) {
            return Ok(Target::Fork(ForkRef { run: latest, index }));
        }
        match self.load_checked(name) {
            Ok(run) => Ok(Target::Run(run)),
            Err(StateError::UnknownRun { known, .. }) => Err(StateError::UnknownName {
                name: name.to_string(),
                forks: latest.forks.iter().map(|f| f.name.clone()).collect(),
                latest: latest.run,
                runs: known,
            }),
            Err(e) => Err(e),
        }
    }

    /// Deletes a run's manifest, the log of its background driver and its lock files.
    pub fn remove(&self, run: &str) -> Result<(), StateError> {
        self.remove_with_locks(run, || {
            let log = self.dir.join(format!("{run}.log"));
            let _ = fs::remove_dir_all(self.dir.join(format!("{run}.logs")));
            for path in [self.path(run), log] {
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(StateError::Remove { path, source }),
                }
            }
            Ok(())
        })
    }
}

/// A fork found by its reference, with the run it belongs to.
#[derive(Clone, Debug)]
pub struct ForkRef {
    pub run: Run,
    index: usize,
}

impl ForkRef {
    pub fn fork(&self) -> &Fork {
        &self.run.forks[self.index]
    }

    /// The run and the fork's name.
    pub fn into_parts(self) -> (Run, String) {
        let name = self.fork().name.clone();
        (self.run, name)
    }

    /// `RUN/FORK`, the reference that names this fork in any context.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.run.run, self.fork().name)
    }
}

/// A run or one of its forks, as named on the command line.
#[derive(Clone, Debug)]
pub enum Target {
    Run(Run),
    Fork(ForkRef),
}

fn restrict(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    // Best effort: state stays private to the user even under a permissive umask.
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
}

/// The current time as RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    // Fixed width (milliseconds, `Z`) so the strings also sort by time.
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "end_tests.rs"]
mod end_tests;
