//! The judges' scratch worktree: a detached checkout of the run's start commit, removed on drop.

use std::path::{Path, PathBuf};

use crate::git::Repo;
use crate::state::Run;

/// A detached worktree at the run's start commit in a temporary folder, for the judges to
/// read the code in; removed again with [`Scratch::remove`] (or when dropped).
pub(super) struct Scratch<'a> {
    repo: &'a Repo,
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl<'a> Scratch<'a> {
    pub(super) fn new(repo: &'a Repo, run: &Run) -> Result<Scratch<'a>, super::JudgeError> {
        let dir = tempfile::Builder::new().prefix("ocfork-judge-").tempdir()?;
        let path = dir.path().join(&run.run);
        repo.git([
            std::ffi::OsStr::new("worktree"),
            "add".as_ref(),
            "--detach".as_ref(),
            "-q".as_ref(),
            path.as_os_str(),
            run.start.as_ref(),
        ])?;
        let scratch = Scratch {
            repo,
            _dir: dir,
            path,
        };
        // The judges run with the OpenCode config the user's forks ran with.
        crate::git::include::carry_opencode_config(&repo.workdir, &scratch.path)?;
        Ok(scratch)
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn remove(self) {}
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        if self.repo.remove_worktree(&self.path, true).is_err() {
            // Only this worktree's entry goes: `git worktree remove` drops the entry of a
            // directory that is gone (a plain prune would drop the user's missing ones too).
            let _ = std::fs::remove_dir_all(&self.path);
            let _ = self.repo.remove_worktree(&self.path, true);
        }
    }
}
