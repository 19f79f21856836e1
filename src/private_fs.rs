//! Private files and folders: everything ocfork makes for itself (state, logs, locks, caches,
//! relay jobs) is 0700 or 0600 whatever the umask, and files it appends to or writes are never
//! reached through a symlink someone else planted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Makes `dir` and its missing parents, each 0700. Folders that were there already keep their
/// mode.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(p) = at {
        if p.as_os_str().is_empty() || p.symlink_metadata().is_ok() {
            break;
        }
        missing.push(p);
        at = p.parent();
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // The umask may have taken bits the mode asked for; set them exactly.
    for p in missing {
        fs::set_permissions(p, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Like [`create_dir_all`], and `dir` is made 0700 even when it existed (ocfork's own folder,
/// perhaps made by an older version under a loose umask).
pub fn own_dir(dir: &Path) -> io::Result<()> {
    create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(0o600).custom_flags(nix::libc::O_NOFOLLOW);
    o
}

/// Opens `path` to append, creating it 0600; a file that was there is made 0600 too.
pub fn append(path: &Path) -> io::Result<File> {
    let file = options().create(true).append(true).open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Opens `path` to write from the start (emptied), creating it 0600.
pub fn create(path: &Path) -> io::Result<File> {
    open_to_write(path, true)
}

/// Opens `path` for a lock (never emptied), creating it 0600.
pub fn lock_file(path: &Path) -> io::Result<File> {
    open_to_write(path, false)
}

fn open_to_write(path: &Path, truncate: bool) -> io::Result<File> {
    let file = options()
        .create(true)
        .write(true)
        .truncate(truncate)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Writes `bytes` to `path`, creating it 0600.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    create(path)?.write_all(bytes)
}

/// Writes `bytes` aside in `path`'s folder (made private, as [`own_dir`]), then renames the
/// file into place: a reader sees the whole file or the one before, never half of it.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other(format!("{} has no folder", path.display())))?;
    own_dir(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Best effort: makes an existing path private (0700 for folders, 0600 for files).
pub fn restrict(path: &Path, mode: u32) {
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_planted_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::write(&target, "theirs").expect("write");
        let link = dir.path().join("log");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert!(append(&link).is_err());
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "theirs");
    }
}
