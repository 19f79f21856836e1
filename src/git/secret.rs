//! Keeping the OpenCode server's password out of what ocfork commits: agents' shell commands
//! may see it (a server without ocfork's plugin), so it is replaced in a fork's changed files.

use std::ffi::OsStr;
use std::path::PathBuf;

use super::{GitError, Result};

/// What [`hide_secret`] puts where the secret was.
pub const SECRET_MARK: &str = "[server password removed by ocfork]";

/// Replaces `secret` (the OpenCode server's password, which agents' shell commands may see)
/// in the worktree's new and changed files, so [`commit_all`] never commits it. Returns the
/// files changed.
pub fn hide_secret<W: super::GitAt + ?Sized>(at: &W, secret: &str) -> Result<Vec<PathBuf>> {
    let worktree = at.dir();
    if secret.len() < 8 {
        return Ok(Vec::new());
    }
    let out = super::git_at(
        at,
        [
            "ls-files",
            "-z",
            "--modified",
            "--others",
            "--exclude-standard",
        ],
        &[],
    )?;
    let mut changed = Vec::new();
    for rel in out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        use std::os::unix::ffi::OsStrExt;
        let path = worktree.join(OsStr::from_bytes(rel));
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let needle = secret.as_bytes();
        if !bytes.windows(needle.len()).any(|w| w == needle) {
            continue;
        }
        let mut clean = Vec::with_capacity(bytes.len());
        let mut rest = bytes.as_slice();
        while let Some(i) = rest.windows(needle.len()).position(|w| w == needle) {
            clean.extend_from_slice(&rest[..i]);
            clean.extend_from_slice(SECRET_MARK.as_bytes());
            rest = &rest[i + needle.len()..];
        }
        clean.extend_from_slice(rest);
        std::fs::write(&path, clean).map_err(|error| GitError::Io {
            what: "write",
            path: path.clone(),
            error,
        })?;
        changed.push(path);
    }
    Ok(changed)
}
