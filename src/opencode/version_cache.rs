//! The versions `opencode --version` printed, kept across commands: running it costs most of a
//! CPU-second (OpenCode boots its runtime), and every command that starts a server checks the
//! binary first. An entry holds while the binary is the same file (device, inode, size and
//! modification time); only compiled binaries are kept, since a script (a wrapper running
//! `npx opencode-ai@latest`) can run another OpenCode each time without changing itself.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::version::Version;

/// The cache file: a line per binary, `version dev ino size mtime_ns path`.
fn file() -> PathBuf {
    crate::paths::user_cache().join("opencode-versions")
}

/// What identifies the file `bin` resolves to, when it is a compiled (ELF) binary.
fn identity(bin: &Path) -> Option<(PathBuf, String)> {
    let path = std::fs::canonicalize(bin).ok()?;
    let mut magic = [0u8; 4];
    std::fs::File::open(&path)
        .ok()?
        .read_exact(&mut magic)
        .ok()?;
    if &magic != b"\x7fELF" {
        return None;
    }
    let m = std::fs::metadata(&path).ok()?;
    let mtime = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
    Some((
        path,
        format!("{} {} {} {mtime}", m.dev(), m.ino(), m.size()),
    ))
}

fn entries(file: &Path) -> Vec<(Version, String, PathBuf)> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut words = line.splitn(6, ' ');
            let version = Version::parse(words.next()?)?;
            let id: Vec<&str> = words.by_ref().take(4).collect();
            let path = PathBuf::from(words.next()?);
            (id.len() == 4).then(|| (version, id.join(" "), path))
        })
        .collect()
}

/// The version kept for `bin`, if it is still the file it was read from.
pub(super) fn read(bin: &Path) -> Option<Version> {
    read_in(&file(), bin)
}

fn read_in(file: &Path, bin: &Path) -> Option<Version> {
    let (path, id) = identity(bin)?;
    entries(file)
        .into_iter()
        .find(|(_, i, p)| *p == path && *i == id)
        .map(|(v, _, _)| v)
}

/// Keeps `version` for `bin`. Best effort: a cache that cannot be written costs only time.
pub(super) fn write(bin: &Path, version: Version) {
    write_in(&file(), bin, version)
}

fn write_in(file: &Path, bin: &Path, version: Version) {
    let Some((path, id)) = identity(bin) else {
        return;
    };
    if path.to_str().is_none_or(|p| p.contains('\n')) {
        return;
    }
    let mut kept: Vec<_> = (entries(file).into_iter())
        .filter(|(_, _, p)| *p != path)
        .collect();
    kept.push((version, id, path));
    let text: String = kept
        .iter()
        .map(|(v, i, p)| format!("{v} {i} {}\n", p.display()))
        .collect();
    let _ = crate::private_fs::replace(file, text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry is read back for the same file, and not once the file changed; a script is
    /// never kept.
    #[test]
    fn an_entry_holds_while_the_binary_is_the_same_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("cache/opencode-versions");
        let read = |bin: &Path| read_in(&cache, bin);
        let write = |bin: &Path, v| write_in(&cache, bin, v);
        let bin = dir.path().join("opencode");
        std::fs::write(&bin, b"\x7fELF not really").expect("write");
        assert_eq!(read(&bin), None);
        write(&bin, Version(1, 18, 33));
        assert_eq!(read(&bin), Some(Version(1, 18, 33)));
        std::fs::write(&bin, b"\x7fELF another build").expect("write");
        assert_eq!(read(&bin), None, "a changed binary kept its old version");
        let script = dir.path().join("wrapper");
        std::fs::write(&script, b"#!/bin/sh\nexec npx opencode-ai@latest \"$@\"\n").expect("w");
        write(&script, Version(1, 18, 33));
        assert_eq!(read(&script), None, "a script's version was kept");
    }
}
