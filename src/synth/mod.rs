//! `ocfork synth`'s work before any fork is made: which forks to learn from (`--from`,
//! `--top`, or the first group of the verdict), what the model is told about each (approach,
//! evidence, patch, the judges' reasons), and the refusals when fewer than two qualify.

pub mod prompt;

use crate::compare;
use crate::git::Repo;
use crate::judge::{Evidence, Group, evidence};
use crate::state::{ForkState, Run};

/// Sources taken by default from a verdict's first group.
pub const DEFAULT_MOST: usize = 3;
/// The default name of a synthesized fork.
pub const DEFAULT_NAME: &str = "synth";

/// How the sources are chosen.
#[derive(Clone, Debug)]
pub enum Pick {
    /// The forks named, in that order.
    From(Vec<String>),
    /// The first K of the verdict's ranking that changed something.
    Top(usize),
    /// The verdict's first group (at most [`DEFAULT_MOST`]); without one, every finished fork
    /// whose check passed with its tests intact and that changed something.
    Default,
}

crate::fault::error_enum! {
    /// Why no synthesis can be made from the run as it is (the hints that name the command's
    /// flags are the CLI's to say).
    #[derive(Debug, thiserror::Error)]
    pub enum SynthError {
        #[error("run {run} has forks still working: {forks}")]
        Unfinished { run: String, forks: String },
        #[error("run {run} has no fork `{fork}` (it has: {known})")]
        UnknownFork {
            run: String,
            fork: String,
            known: String,
        },
        #[error("run {run} has no verdict to take the top forks from")]
        NoVerdict { run: String },
        #[error("{0}")]
        TooFew(String),
    }
    wraps transparent {
        /// The forks' changes could not be read.
        Git(crate::git::GitError),
    }
    meaning(self) {
        SynthError::Unfinished { .. }
        | SynthError::UnknownFork { .. }
        | SynthError::NoVerdict { .. }
        | SynthError::TooFew(_) => Meaning::user(),
    }
}

/// One chosen fork, as the prompt shows it.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub approach: String,
    pub evidence: Evidence,
    /// `git diff` from the run's start to the fork's commit.
    pub patch: String,
    /// The judges' reasons, when the run has a verdict that gives some.
    pub reason: Option<String>,
    /// Its place in the verdict's ranking.
    pub rank: Option<usize>,
}

/// The chosen forks of `run` with everything the prompt says about them.
pub fn sources(repo: &Repo, run: &Run, pick: &Pick) -> Result<Vec<Source>, SynthError> {
    let unfinished = run.unfinished();
    if !unfinished.is_empty() {
        return Err(SynthError::Unfinished {
            run: run.run.clone(),
            forks: unfinished.join(", "),
        });
    }
    let named: Vec<(String, Option<String>)> = run
        .forks
        .iter()
        .map(|f| f.name.clone())
        .zip(compare::fork_tips(repo, &run.forks))
        .collect();
    let changes = compare::changes(repo, &run.start, &named)?;
    let evidence = evidence::gather(run, &changes);
    let chosen = choose(run, &evidence, pick)?;
    let picked: Vec<compare::ForkChanges> = chosen
        .iter()
        .filter_map(|n| changes.iter().find(|c| &c.name == n).cloned())
        .collect();
    let patches = crate::judge::patches(repo, &run.start, &picked)?;
    let verdict = run.judge.as_ref().filter(|v| v.ranking.is_some());
    let mut out = Vec::new();
    for (c, patch) in picked.iter().zip(patches) {
        let (Some(fork), Some(e)) = (
            run.fork(&c.name),
            evidence.iter().find(|e| e.fork == c.name),
        ) else {
            continue;
        };
        let ranked = verdict
            .and_then(|v| v.ranking.as_ref())
            .and_then(|r| r.iter().find(|r| r.fork == c.name));
        out.push(Source {
            name: c.name.clone(),
            approach: fork.approach(run).into_owned(),
            evidence: e.clone(),
            patch,
            reason: ranked.and_then(|r| r.reason.clone()),
            rank: ranked.map(|r| r.rank),
        });
    }
    Ok(out)
}

/// The names of the forks `pick` chooses, or why fewer than two qualify.
fn choose(run: &Run, evidence: &[Evidence], pick: &Pick) -> Result<Vec<String>, SynthError> {
    let checked = run.check_command.is_some();
    let of = |name: &str| evidence.iter().find(|e| e.fork == name);
    let ranking = run.judge.as_ref().and_then(|v| v.ranking.as_ref());
    let mut left_out = Vec::new();
    let chosen: Vec<String> = match pick {
        Pick::From(names) => {
            let mut chosen = Vec::new();
            for n in names {
                if run.fork(n).is_none() {
                    return Err(SynthError::UnknownFork {
                        run: run.run.clone(),
                        fork: n.clone(),
                        known: run
                            .forks
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                if chosen.contains(n) {
                    continue;
                }
                match of(n) {
                    Some(e) if !e.empty => chosen.push(n.clone()),
                    _ => left_out.push(format!("{n} changed nothing")),
                }
            }
            chosen
        }
        Pick::Top(k) => {
            let Some(ranking) = ranking else {
                return Err(SynthError::NoVerdict {
                    run: run.run.clone(),
                });
            };
            let mut chosen = Vec::new();
            for r in ranking {
                match of(&r.fork) {
                    Some(e) if !e.empty && chosen.len() < *k => chosen.push(r.fork.clone()),
                    Some(e) if e.empty => left_out.push(format!("{} changed nothing", r.fork)),
                    _ => {}
                }
            }
            chosen
        }
        Pick::Default => {
            let order: Vec<String> = match ranking {
                Some(r) => r.iter().map(|r| r.fork.clone()).collect(),
                None => run.forks.iter().map(|f| f.name.clone()).collect(),
            };
            let mut chosen = Vec::new();
            for n in order {
                let (Some(f), Some(e)) = (run.fork(&n), of(&n)) else {
                    continue;
                };
                let why = match e.group(checked) {
                    _ if f.state != ForkState::Done => Some(format!("{n} {}", f.state.as_str())),
                    Group::Passed => None,
                    Group::Weakened => Some(format!("{n} weakened tests")),
                    Group::Failed => Some(format!("{n} failed its check")),
                    Group::Empty => Some(format!("{n} changed nothing")),
                };
                match why {
                    None if ranking.is_none() || chosen.len() < DEFAULT_MOST => chosen.push(n),
                    None => {}
                    Some(w) => left_out.push(w),
                }
            }
            chosen
        }
    };
    if chosen.len() >= 2 {
        return Ok(chosen);
    }
    let found = match chosen.first() {
        Some(one) => format!("only 1 fork ({one})"),
        None => "no fork".to_string(),
    };
    let how = match pick {
        Pick::From(_) => "name at least two forks that changed something with --from",
        Pick::Top(_) => "it needs at least two ranked forks that changed something",
        Pick::Default => {
            "it needs at least two finished forks whose check passed with their tests intact and that changed something"
        }
    };
    let mut text = format!("run {} has {found} to synthesize from; {how}", run.run);
    if !left_out.is_empty() {
        text.push_str(&format!(" ({})", left_out.join(", ")));
    }
    Err(SynthError::TooFew(text))
}
