//! The versions `opencode --version` printed, kept across commands: running it costs most of a
//! CPU-second (OpenCode boots its runtime), and every command that starts a server checks the
//! binary first. An entry holds while the binary is the same file (device, inode, size,
//! modification and change times); only compiled binaries named `opencode...` are kept, since
//! a script (a wrapper running `npx opencode-ai@latest`) or a version manager's shim can run
//! another OpenCode each time without changing itself.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::version::Version;

/// The cache file: a line per binary, `version dev ino size mtime_ns-ctime_ns path`.
fn file() -> PathBuf {
    crate::paths::user_cache().join("opencode-versions")
}

/// The file a binary resolves to and what identifies it there: device, inode, size, and
/// modification and change times (the change time cannot be set back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Key {
    path: PathBuf,
    id: String,
}

/// The key of the file `bin` resolves to, when it is a compiled (ELF) binary named
/// `opencode...` (npm's `opencode.exe` link, the install script's `opencode`): not a script,
/// nor a version manager's shim that resolves to one dispatcher for every version.
pub(super) fn key(bin: &Path) -> Option<Key> {
    let path = std::fs::canonicalize(bin).ok()?;
    let named = path.file_name()?.to_str()?.starts_with("opencode");
    if !named || path.to_str().is_none_or(|p| p.contains('\n')) {
        return None;
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(&path)
        .ok()?
        .read_exact(&mut magic)
        .ok()?;
    if &magic != b"\x7fELF" {
        return None;
    }
    let m = std::fs::metadata(&path).ok()?;
    let (mtime, ctime) = (
        i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
    );
    let id = format!("{} {} {} {mtime}-{ctime}", m.dev(), m.ino(), m.size());
    Some(Key { path, id })
}

fn entries(file: &Path) -> Vec<(Version, Key)> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut words = line.splitn(6, ' ');
            let version = Version::parse(words.next()?)?;
            let id: Vec<&str> = words.by_ref().take(4).collect();
            let path = PathBuf::from(words.next()?);
            let id = id.join(" ");
            (id.split(' ').count() == 4).then_some((version, Key { path, id }))
        })
        .collect()
}

/// The version kept for the file `key` names, if it is still that file.
pub(super) fn read(key: &Key) -> Option<Version> {
    read_in(&file(), key)
}

fn read_in(file: &Path, key: &Key) -> Option<Version> {
    (entries(file).into_iter())
        .find(|(_, k)| k == key)
        .map(|(v, _)| v)
}

/// Keeps `version`, read from `bin` whose key was `key` before it was asked, if `bin` is
/// still that file (it may have been replaced while it answered). Best effort: a cache that
/// cannot be written costs only time.
pub(super) fn write(bin: &Path, key: &Key, version: Version) {
    if self::key(bin).as_ref() == Some(key) {
        write_in(&file(), key, version)
    }
}

fn write_in(file: &Path, key: &Key, version: Version) {
    let mut kept: Vec<_> = (entries(file).into_iter())
        .filter(|(_, k)| k.path != key.path)
        .collect();
    kept.push((version, key.clone()));
    let text: String = kept
        .iter()
        .map(|(v, k)| format!("{v} {} {}\n", k.id, k.path.display()))
        .collect();
    let _ = crate::private_fs::replace(file, text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry is read back for the same file, and not once the file changed; a script,
    /// or a binary not named `opencode...` (a version manager's shim), is never kept.
    #[test]
    fn an_entry_holds_while_the_binary_is_the_same_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("cache/opencode-versions");
        let bin = dir.path().join("opencode");
        std::fs::write(&bin, b"\x7fELF not really").expect("write");
        let first = key(&bin).expect("a key");
        assert_eq!(read_in(&cache, &first), None);
        write_in(&cache, &first, Version(1, 18, 33));
        assert_eq!(read_in(&cache, &first), Some(Version(1, 18, 33)));
        std::fs::write(&bin, b"\x7fELF another build").expect("write");
        let second = key(&bin).expect("a key");
        assert_ne!(first, second);
        assert_eq!(
            read_in(&cache, &second),
            None,
            "a changed binary kept its version"
        );
        let script = dir.path().join("opencode-wrapper");
        std::fs::write(&script, b"#!/bin/sh\nexec npx opencode-ai@latest \"$@\"\n").expect("w");
        assert_eq!(key(&script), None, "a script would be kept");
        let shim = dir.path().join("mise");
        std::fs::write(&shim, b"\x7fELF a dispatcher").expect("write");
        assert_eq!(key(&shim), None, "a shim's dispatcher would be kept");
    }
}
