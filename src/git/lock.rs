//! The repository lock: ocfork processes sharing a repository change its refs and worktree
//! list one at a time.

use std::path::Path;

use super::{GitError, Result};

/// Holds an exclusive lock on `.git/ocfork/git.lock` while `f` runs, so ocfork processes
/// sharing a repository change its refs and worktree list one at a time. A thread that holds
/// it already (cleanup inside a locked change) just runs `f`.
pub fn with_repo_lock<T>(common_dir: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    thread_local! {
        static HELD: std::cell::RefCell<Vec<std::path::PathBuf>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    if HELD.with(|h| h.borrow().iter().any(|p| p == common_dir)) {
        return f();
    }
    let paths = crate::paths::Layout::new(common_dir);
    paths
        .make_private(paths.root())
        .map_err(|error| GitError::Io {
            what: "create",
            path: paths.root().to_path_buf(),
            error,
        })?;
    let path = paths.git_lock();
    let _lock = crate::lockfile::lock(&path, true).map_err(|error| GitError::Io {
        what: "lock",
        path: path.clone(),
        error,
    })?;
    HELD.with(|h| h.borrow_mut().push(common_dir.to_path_buf()));
    let res = f();
    HELD.with(|h| h.borrow_mut().retain(|p| p != common_dir));
    res
}
