//! What can go wrong reading, writing and resolving runs, in words that name the run or fork
//! at fault and list the valid ones.

use std::path::PathBuf;

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

impl crate::fault::Fault for StateError {
    fn meaning(&self) -> crate::fault::Meaning {
        use crate::fault::Meaning;
        match self {
            StateError::Taken(_)
            | StateError::Busy { .. }
            | StateError::UnknownRun { .. }
            | StateError::NoRuns
            | StateError::UnknownFork { .. }
            | StateError::BadReference(_)
            | StateError::UnknownName { .. } => Meaning::user(),
            StateError::Read { .. } | StateError::Write { .. } | StateError::Remove { .. } => {
                Meaning::failure()
            }
            StateError::Parse { .. } | StateError::Invalid { .. } => Meaning::internal(),
        }
    }
}

fn list_hint(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!("; runs here: {}", known.join(", "))
    }
}
