//! Each fork's comparison kept on disk, so `ocfork diff` reads it instead of asking git again.
//!
//! An entry is the output of the one `git diff` that compares a fork's commit with its run's
//! start, stored under `.git/ocfork/diffs/<start>-<commit>`. Commit ids name their content,
//! so an entry never goes stale; `ocfork try` writes one when it commits a fork, `ocfork diff`
//! when it finds none, and `ocfork clean` removes a run's. It is only ever a cache: an entry
//! that cannot be read or written is computed again.

use std::path::{Path, PathBuf};

use crate::paths::Layout;

/// Outputs larger than this are not kept (a fork that rewrote huge text files).
const MAX_BYTES: usize = 16 << 20;

/// The first line of every entry: names the format, so a later ocfork reading an older one
/// (or a torn file) computes it again instead.
const HEADER: &[u8] = b"ocfork diff cache 1\n";

/// A commit id as git prints it; nothing else ever becomes part of a path.
fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn entry(common_dir: &Path, start: &str, commit: &str) -> Option<PathBuf> {
    (is_hex(start) && is_hex(commit)).then(|| Layout::new(common_dir).diff(start, commit))
}

/// The stored `git diff` output comparing `start` with `commit`, if there is one.
pub fn load(common_dir: &Path, start: &str, commit: &str) -> Option<Vec<u8>> {
    let bytes = std::fs::read(entry(common_dir, start, commit)?).ok()?;
    let body = bytes.strip_prefix(HEADER)?;
    // The body ends with the byte count written after it, so a file cut short is refused.
    let (body, len) = body.split_at(body.len().checked_sub(8)?);
    let len = u64::from_le_bytes(len.try_into().ok()?);
    (len == body.len() as u64).then(|| body.to_vec())
}

/// Keeps `output` for `start`..`commit`; failures are ignored (the next reader recomputes).
pub fn store(common_dir: &Path, start: &str, commit: &str, output: &[u8]) {
    if output.len() > MAX_BYTES {
        return;
    }
    let Some(path) = entry(common_dir, start, commit) else {
        return;
    };
    // Private like the rest of `.git/ocfork`, and whole or absent for a reader.
    let len = (output.len() as u64).to_le_bytes();
    let _ = crate::private_fs::replace(&path, &[HEADER, output, &len].concat());
}

/// Removes every entry compared against `start`: what a run's forks left (other runs from
/// the same start only lose cached work), and half-written ones.
pub fn forget(common_dir: &Path, start: &str) {
    if !is_hex(start) {
        return;
    }
    let Ok(list) = std::fs::read_dir(Layout::new(common_dir).diffs()) else {
        return;
    };
    let prefix = format!("{start}-");
    for e in list.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        // Also what a process killed mid-write left (tempfile names start with `.tmp`).
        if name.starts_with(&prefix) || name.starts_with(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_reads_and_refuses_torn_entries() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = ("ab12", "cd34");
        assert_eq!(load(dir.path(), a, b), None);
        store(dir.path(), a, b, b"raw\0patch\n");
        assert_eq!(
            load(dir.path(), a, b).as_deref(),
            Some(&b"raw\0patch\n"[..])
        );
        // Cut short: refused.
        let path = entry(dir.path(), a, b).expect("path");
        let full = std::fs::read(&path).expect("read");
        std::fs::write(&path, &full[..full.len() - 3]).expect("write");
        assert_eq!(load(dir.path(), a, b), None);
        store(dir.path(), "ab1299", b, b"other start");
        forget(dir.path(), a);
        assert!(!path.exists());
        assert!(
            load(dir.path(), "ab1299", b).is_some(),
            "only `{a}-*` entries go"
        );
        // Names that are not commit ids never become paths.
        store(dir.path(), "../x", b, b"x");
        assert!(entry(dir.path(), "../x", b).is_none());
    }
}
