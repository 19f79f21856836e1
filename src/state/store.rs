//! The store of run manifests: one JSON file per run, written atomically and privately,
//! read back with the checks a hand-edited file must pass, changed under a lock.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Run, StateError};
use crate::paths::{Layout, restrict};

/// The directory of run manifests of one repository.
#[derive(Clone, Debug)]
pub struct Store {
    paths: Layout,
    dir: PathBuf,
}

impl Store {
    /// The store inside a repository's common git dir.
    pub fn new(common_dir: &Path) -> Store {
        let paths = Layout::new(common_dir);
        Store {
            dir: paths.runs().to_path_buf(),
            paths,
        }
    }

    /// Where the store's files are.
    pub fn paths(&self) -> &Layout {
        &self.paths
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the output of a fork's `setup` or `check` command goes.
    pub fn step_log(&self, run: &str, fork: &str, step: &str) -> PathBuf {
        self.paths.step_log(run, fork, step)
    }

    /// The run's manifest.
    pub fn path(&self, run: &str) -> PathBuf {
        self.paths.manifest(run)
    }

    pub(super) fn ensure_dir(&self) -> Result<(), StateError> {
        self.paths
            .make_private(&self.dir)
            .map_err(|source| StateError::Write {
                path: self.dir.clone(),
                source,
            })
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
        let _guard = self.lock(&self.paths.state_lock(run), true)?;
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
                let stem = Layout::manifest_run(&name)?;
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

    /// Deletes a run's manifest, the log of its background driver and its lock files.
    pub fn remove(&self, run: &str) -> Result<(), StateError> {
        self.remove_with_locks(run, || {
            let _ = fs::remove_dir_all(self.paths.step_logs(run));
            for path in [self.path(run), self.paths.driver_log(run)] {
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
