//! Reference resolution: what a name on the command line means, the newest run, `FORK` in
//! the latest run or `RUN/FORK`, with errors that list the valid names.

use super::{Fork, Run, StateError, Store};

impl Store {
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
