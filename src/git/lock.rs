//! The repository lock: ocfork processes sharing a repository change its refs and worktree
//! list one at a time.

use std::path::Path;

use super::{GitError, Result};

/// Holds an exclusive lock on `<common dir>/ocfork/git.lock` while `f` runs, so ocfork
/// processes sharing a repository change its refs and worktree list one at a time.
pub fn with_repo_lock<T>(common_dir: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = common_dir.join("ocfork");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| GitError::Other(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join("git.lock");
    let file = std::fs::OpenOptions::new()
        .mode(0o600)
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| GitError::Other(format!("cannot open {}: {e}", path.display())))?;
    let mut lock = fd_lock::RwLock::new(file);
    let _guard = lock
        .write()
        .map_err(|e| GitError::Other(format!("cannot lock {}: {e}", path.display())))?;
    f()
}
