//! The `judge` object of a run as the manifest keeps it: the evidence, each judge's session
//! and ranking, and the final order (`judge` computes them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Tokens;

/// The `judge` object of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub judged_at: String,
    /// The start commit the judges read the code at.
    pub start: String,
    #[serde(default)]
    pub criteria: Option<String>,
    pub evidence: Vec<Evidence>,
    pub judges: Vec<Judge>,
    /// Best first; None when a judge's reply could not be used.
    pub ranking: Option<Vec<Ranked>>,
    /// Forks `continue` changed after the verdict: it does not judge their work as it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale: Vec<String>,
}

/// One judge's session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Judge {
    /// `provider/model` as asked with `-m`, else the one the server answered with.
    pub model: Option<String>,
    pub agent: String,
    pub session: String,
    /// Best first; None when its replies could not be used.
    pub ranking: Option<Vec<String>>,
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
    pub tokens: Option<Tokens>,
    pub cost: Option<f64>,
    #[serde(default)]
    pub error: Option<String>,
}

/// One fork in the final order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    pub fork: String,
    pub rank: usize,
    pub group: String,
    pub reason: Option<String>,
    /// Borda points over all judges.
    pub points: usize,
}

impl Verdict {
    /// The fork ranked first, if there is a ranking.
    pub fn best(&self) -> Option<&str> {
        self.ranking.as_ref()?.first().map(|r| r.fork.as_str())
    }

    pub fn evidence_of(&self, fork: &str) -> Option<&Evidence> {
        self.evidence.iter().find(|e| e.fork == fork)
    }

    pub fn rank_of(&self, fork: &str) -> Option<usize> {
        self.ranking
            .as_ref()?
            .iter()
            .find(|r| r.fork == fork)
            .map(|r| r.rank)
    }
}

/// What the facts say about one fork.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub fork: String,
    /// `passed`, `failed` or `none` (no check ran for this fork).
    pub check: String,
    /// The fork deleted a test file or removed lines from one.
    pub tests_weakened: bool,
    /// The test files it deleted or removed lines from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weakened_files: Vec<String>,
    /// The fork changed nothing.
    pub empty: bool,
    pub files: u64,
    pub insertions: u64,
    pub deletions: u64,
    /// Mean similarity of its changes to every other fork's (0 when it is the only one).
    pub consensus: f64,
}
