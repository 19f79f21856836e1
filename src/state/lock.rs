//! The run store's lock files (`<run>.lock` for the driver, `<run>.state-lock` for changes to
//! the record): taking them, and deleting them with the run.

use std::path::Path;

use crate::lockfile;

use super::{StateError, Store};

/// Held by the process driving a run; see [`Store::lock_driver`].
pub struct DriverLock {
    _lock: lockfile::Held,
}

impl Store {
    /// Takes the run's driver lock: only one process drives a run at a time. The lock is
    /// released when the returned value is dropped or the process dies.
    pub fn lock_driver(&self, run: &str) -> Result<DriverLock, StateError> {
        match self.lock(&self.paths().driver_lock(run), false)? {
            Some(lock) => Ok(DriverLock { _lock: lock }),
            None => Err(StateError::Busy {
                run: run.to_string(),
                pid: self.load(run).ok().and_then(|r| r.pid),
            }),
        }
    }

    /// Locks one of the store's lock files, waiting for it when `wait`, else None when another
    /// process holds it. [`Store::remove`] deletes lock files while holding them; a waiting
    /// process then locks the new file at the path, never the deleted one.
    pub(super) fn lock(
        &self,
        path: &Path,
        wait: bool,
    ) -> Result<Option<lockfile::Held>, StateError> {
        self.ensure_dir()?;
        lockfile::lock(path, wait).map_err(|source| StateError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Runs `remove` (which deletes a run's record) holding the run's locks, then deletes the
    /// lock files while still holding them: a process waiting for one then finds it gone and
    /// locks a new one. The driver's lock file stays when a driver holds it.
    pub(super) fn remove_with_locks(
        &self,
        run: &str,
        remove: impl FnOnce() -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        let driver_path = self.paths().driver_lock(run);
        let state_path = self.paths().state_lock(run);
        let driver = self.lock(&driver_path, false)?;
        let _state = self.lock(&state_path, true)?;
        remove()?;
        if driver.is_some() {
            remove_lock(&driver_path)?;
        }
        remove_lock(&state_path)
    }
}

fn remove_lock(path: &Path) -> Result<(), StateError> {
    lockfile::remove(path).map_err(|source| StateError::Remove {
        path: path.to_path_buf(),
        source,
    })
}
