//! Lock files: an exclusive `flock` on a private file, released when the lock is dropped or
//! the process dies, and never taken on a file that was deleted while it was waited for.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// A held lock; dropping it releases the lock.
pub type Held = Flock<File>;

/// Locks the file at `path` (creating it, 0600; its folder must exist), waiting for it when
/// `wait`, else None when another process holds it. A lock taken on a file that is no longer
/// at `path` (someone deleted it while holding it) guards nothing: the file there is opened
/// and locked again.
pub fn lock(path: &Path, wait: bool) -> std::io::Result<Option<Held>> {
    let arg = if wait {
        FlockArg::LockExclusive
    } else {
        FlockArg::LockExclusiveNonblock
    };
    loop {
        let file = crate::private_fs::lock_file(path)?;
        match Flock::lock(file, arg) {
            Ok(lock) if still_at(path, &lock) => return Ok(Some(lock)),
            Ok(_) | Err((_, Errno::EINTR)) => continue,
            Err((_, Errno::EWOULDBLOCK)) if !wait => return Ok(None),
            Err((_, errno)) => return Err(std::io::Error::from(errno)),
        }
    }
}

/// Deletes a lock file (best held while doing so: a process waiting for it then finds it gone
/// and locks a new one); one that is not there is fine.
pub fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// True when `path` is still the file `file` has open.
fn still_at(path: &Path, file: &File) -> bool {
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_a_deleted_file_is_not_the_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.lock");
        let held = lock(&path, false).expect("locks").expect("free");
        assert!(
            lock(&path, false).expect("no error").is_none(),
            "held twice"
        );
        // Deleted while held: the next locker makes and locks a new file.
        remove(&path).expect("removed");
        let again = lock(&path, false)
            .expect("locks")
            .expect("a new file is free");
        drop(held);
        drop(again);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("there")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        remove(&path).expect("removed");
        remove(&path).expect("removing what is gone is fine");
    }
}
