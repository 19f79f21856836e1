//! The run store's lock files (`<run>.lock` for the driver, `<run>.state-lock` for changes to
//! the record): taking one so that a lock file deleted while it was being waited for is never
//! taken for the live one, and deleting them with the run.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::store::restrict;
use super::{StateError, Store};

/// Held by the process driving a run; see [`Store::lock_driver`].
pub struct DriverLock {
    _lock: nix::fcntl::Flock<fs::File>,
}

impl Store {
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
}

impl Store {
    /// Locks the store's lock file `name`, waiting for it when `wait`, else None when another
    /// process holds it. [`Store::remove`] deletes lock files while holding them, so a lock
    /// taken on a file that is no longer at its path guards nothing: the file there is
    /// opened and locked again.
    pub(super) fn lock_named(
        &self,
        name: &str,
        wait: bool,
    ) -> Result<Option<Flock<fs::File>>, StateError> {
        let arg = if wait {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockExclusiveNonblock
        };
        loop {
            let (path, file) = self.lock_file(name)?;
            match Flock::lock(file, arg) {
                Ok(lock) if still_at(&path, &lock) => return Ok(Some(lock)),
                Ok(_) | Err((_, Errno::EINTR)) => continue,
                Err((_, Errno::EWOULDBLOCK)) if !wait => return Ok(None),
                Err((_, errno)) => {
                    return Err(StateError::Write {
                        path,
                        source: std::io::Error::from(errno),
                    });
                }
            }
        }
    }

    /// Runs `remove` (which deletes a run's record) holding the run's locks, then deletes the
    /// lock files while still holding them: a process waiting for one then finds it gone and
    /// locks a new one. The driver's lock file stays when a driver holds it.
    pub(super) fn remove_with_locks(
        &self,
        run: &str,
        remove: impl FnOnce() -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        let driver_name = format!("{run}.lock");
        let state_name = format!("{run}.state-lock");
        let driver = self.lock_named(&driver_name, false)?;
        let _state = self.lock_named(&state_name, true)?;
        remove()?;
        if driver.is_some() {
            remove_if_there(&self.dir.join(driver_name))?;
        }
        remove_if_there(&self.dir.join(state_name))
    }
}

/// True when `path` is still the file `file` has open.
fn still_at(path: &Path, file: &fs::File) -> bool {
    match (fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn remove_if_there(path: &Path) -> Result<(), StateError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StateError::Remove {
            path: path.to_path_buf(),
            source,
        }),
    }
}
