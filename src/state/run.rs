//! A run in the manifest: its forks and settings, the state they add up to, the checks a
//! manifest read from disk must pass, and marking the forks of a dead driver `interrupted`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Fork, ForkState, SCHEMA};

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
    /// Every URL given with `--server`: the user's servers the forks are spread over.
    #[serde(default)]
    pub pool_urls: Vec<String>,
    /// Servers to start (`--servers`, config `servers`); None picks from forks and CPUs.
    #[serde(default)]
    pub pool_size: Option<usize>,
    /// The opencode binary used to spawn a server.
    #[serde(default)]
    pub opencode: Option<PathBuf>,
    /// Set once every fork has been handed to the fork queue (`--detach` returns then).
    #[serde(default)]
    pub dispatched: bool,
    /// `--copy` globs: ignored files copied from the main tree into each new worktree, on top
    /// of those `.worktreeinclude` names.
    #[serde(default)]
    pub copy: Vec<String>,
    /// The `opencode serve` the driver spawned, while it runs (never its password).
    #[serde(default)]
    pub spawned_server: Option<SpawnedServer>,
    /// Every server the driver spawned (the pool), while it runs.
    #[serde(default)]
    pub spawned_servers: Vec<SpawnedServer>,
    /// The verdict of `ocfork judge`, once it ran (additive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<super::verdict::Verdict>,
    /// Ports in each fork's block (`--ports`); None means the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<u16>,
    /// What changed while the run ran in git state every worktree shares (the stash,
    /// branches outside `ocfork/`) and in the main working tree, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Where the server a driver spawned listens, so users (and `attach`) can find it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnedServer {
    pub pid: u32,
    pub url: String,
}

impl Run {
    /// A running run `name` of `repo` from `base` (its forks starting at `start`), created now:
    /// no forks yet, no driver recorded, and every setting left at its default.
    pub fn new(name: String, repo: PathBuf, base: String, start: String) -> Run {
        Run {
            schema: SCHEMA,
            run: name,
            repo,
            base,
            start,
            task: None,
            state: RunState::Running,
            created_at: super::now_rfc3339(),
            forks: Vec::new(),
            pid: None,
            pid_start: None,
            check_command: None,
            setup_command: None,
            timeout_ms: None,
            jobs: None,
            server: None,
            pool_urls: Vec::new(),
            pool_size: None,
            opencode: None,
            dispatched: false,
            copy: Vec::new(),
            spawned_server: None,
            spawned_servers: Vec::new(),
            judge: None,
            ports: None,
            warnings: Vec::new(),
        }
    }

    /// Marks orphaned forks `interrupted` (see [`Run::mark_interrupted_if_orphaned`]) and
    /// records each one's time: its turn lasted at least until `last_seen`, the last time its
    /// driver wrote the manifest.
    pub(super) fn mark_interrupted_seen(
        &mut self,
        last_seen: Option<std::time::SystemTime>,
    ) -> bool {
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
            Some(pid) => crate::procfs::start_time(pid).is_some_and(|t| Some(t) == self.pid_start),
            None => false,
        }
    }

    /// The run's state as the tables say it: `interrupted` for a run that ended only because
    /// ocfork stopped (every fork done or `interrupted`, so `resume` picks it up), else its
    /// [`RunState`]. The JSON keeps the [`RunState`].
    pub fn shown_state(&self) -> &'static str {
        let interrupted = self.forks.iter().any(|f| f.state == ForkState::Interrupted)
            && self
                .forks
                .iter()
                .all(|f| matches!(f.state, ForkState::Interrupted | ForkState::Done));
        match interrupted && self.state == RunState::Failed {
            true => "interrupted",
            false => self.state.as_str(),
        }
    }

    /// The names of the forks still working (not finished).
    pub fn unfinished(&self) -> Vec<&str> {
        self.forks
            .iter()
            .filter(|f| !f.state.is_finished())
            .map(|f| f.name.as_str())
            .collect()
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
            if !alive {
                changed |= fork.interrupt("ocfork stopped before this fork finished");
            }
        }
        self.refresh_state();
        changed
    }
}
