//! Where ocfork keeps things: the layout of `.git/ocfork/` (run manifests with their locks and
//! logs, the diff cache, the repository lock), the default folder of the runs' worktrees, and
//! the XDG folders outside the repository. Every other module asks here for a path.
//!
//! ```text
//! <common git dir>/ocfork/          private (0700)
//!   runs/<run>.json                 the run's manifest
//!   runs/<run>.lock                 held by the process driving the run
//!   runs/<run>.state-lock           held while the manifest is changed
//!   runs/<run>.log                  output of a `--detach`ed driver
//!   runs/<run>.logs/<fork>.<step>.log   output of a fork's `setup` or `check`
//!   diffs/<start>-<commit>          a fork's `git diff`, kept for `ocfork diff`
//!   git.lock                        held while refs or the worktree list change
//! <worktree's git dir>/ocfork-copied    the ignored files copied into a fork's worktree
//! ```

use std::path::{Path, PathBuf};

/// The file in a worktree's private git dir listing the ignored files ocfork copied into it.
pub const COPIED_LIST: &str = "ocfork-copied";

/// `.git/ocfork/` of one repository.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
    runs: PathBuf,
}

impl Layout {
    /// The layout inside a repository's common git dir (the one all its worktrees share).
    pub fn new(common_dir: &Path) -> Layout {
        let root = common_dir.join("ocfork");
        Layout {
            runs: root.join("runs"),
            root,
        }
    }

    /// `.git/ocfork` itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of run manifests, their locks and logs.
    pub fn runs(&self) -> &Path {
        &self.runs
    }

    /// A run's manifest.
    pub fn manifest(&self, run: &str) -> PathBuf {
        self.runs.join(format!("{run}.json"))
    }

    /// The run a file name in [`Layout::runs`] is the manifest of, if it is one.
    pub fn manifest_run(file_name: &str) -> Option<&str> {
        file_name.strip_suffix(".json")
    }

    /// The lock the process driving a run holds.
    pub fn driver_lock(&self, run: &str) -> PathBuf {
        self.runs.join(format!("{run}.lock"))
    }

    /// The lock held while a run's manifest is changed.
    pub fn state_lock(&self, run: &str) -> PathBuf {
        self.runs.join(format!("{run}.state-lock"))
    }

    /// Where a `--detach`ed driver writes its output.
    pub fn driver_log(&self, run: &str) -> PathBuf {
        self.runs.join(format!("{run}.log"))
    }

    /// The folder of a run's step logs.
    pub fn step_logs(&self, run: &str) -> PathBuf {
        self.runs.join(format!("{run}.logs"))
    }

    /// Where the output of a fork's `setup` or `check` command goes.
    pub fn step_log(&self, run: &str, fork: &str, step: &str) -> PathBuf {
        self.step_logs(run).join(format!("{fork}.{step}.log"))
    }

    /// The folder of kept `git diff` outputs.
    pub fn diffs(&self) -> PathBuf {
        self.root.join("diffs")
    }

    /// The kept `git diff` comparing commit `start` with commit `commit`.
    pub fn diff(&self, start: &str, commit: &str) -> PathBuf {
        self.diffs().join(format!("{start}-{commit}"))
    }

    /// The lock held while ocfork changes the repository's refs or worktree list.
    pub fn git_lock(&self) -> PathBuf {
        self.root.join("git.lock")
    }

    /// Creates `dir` (one of the folders above) and the folders up to it, private to the
    /// user like all of `.git/ocfork` whatever the umask.
    pub fn make_private(&self, dir: &Path) -> std::io::Result<()> {
        crate::private_fs::own_dir(dir)?;
        crate::private_fs::own_dir(&self.root)
    }
}

pub use crate::private_fs::restrict;

/// The folder of the runs' worktree folders when neither `$OCFORK_WORKTREE_ROOT` nor a config
/// file sets one: `<repo-parent>/<repo-name>.ocfork`, beside the repository.
pub fn default_worktree_root(workdir: &Path) -> PathBuf {
    let name = workdir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "repo".into());
    let parent = workdir.parent().unwrap_or(workdir);
    parent.join(format!("{name}.ocfork"))
}

/// The personal config file: `$XDG_CONFIG_HOME/ocfork/config.toml`, else
/// `$HOME/.config/ocfork/config.toml`.
pub fn user_config_file() -> Option<PathBuf> {
    Some(
        xdg_home("XDG_CONFIG_HOME", ".config")?
            .join("ocfork")
            .join("config.toml"),
    )
}

/// Where OpenCode looks for plugins of every project: `$XDG_CONFIG_HOME/opencode/plugin`.
pub fn opencode_global_plugins() -> Option<PathBuf> {
    Some(
        xdg_home("XDG_CONFIG_HOME", ".config")?
            .join("opencode")
            .join("plugin"),
    )
}

/// Where background relays log: `$XDG_STATE_HOME/ocfork/relay` (else `~/.local/state/...`,
/// else the temporary folder).
pub fn relay_logs() -> PathBuf {
    user_state().join("relay")
}

/// ocfork's folder for per-user state: `$XDG_STATE_HOME/ocfork` (else
/// `~/.local/state/ocfork`, else in the temporary folder).
pub fn user_state() -> PathBuf {
    xdg_home("XDG_STATE_HOME", ".local/state")
        .unwrap_or_else(std::env::temp_dir)
        .join("ocfork")
}

/// ocfork's folder for per-user caches (what can be made again): `$XDG_CACHE_HOME/ocfork`
/// (else `~/.cache/ocfork`, else in the temporary folder).
pub fn user_cache() -> PathBuf {
    xdg_home("XDG_CACHE_HOME", ".cache")
        .unwrap_or_else(std::env::temp_dir)
        .join("ocfork")
}

/// An XDG base folder: `$var` when it is an absolute path (the spec ignores relative ones),
/// else `$HOME/<under_home>`.
fn xdg_home(var: &str, under_home: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(under_home))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_names_every_file_under_the_common_dir() {
        let l = Layout::new(Path::new("/r/.git"));
        assert_eq!(l.root(), Path::new("/r/.git/ocfork"));
        assert_eq!(l.manifest("x"), Path::new("/r/.git/ocfork/runs/x.json"));
        assert_eq!(Layout::manifest_run("x.json"), Some("x"));
        assert_eq!(Layout::manifest_run("x.lock"), None);
        assert_eq!(l.driver_lock("x"), Path::new("/r/.git/ocfork/runs/x.lock"));
        assert_eq!(
            l.state_lock("x"),
            Path::new("/r/.git/ocfork/runs/x.state-lock")
        );
        assert_eq!(l.driver_log("x"), Path::new("/r/.git/ocfork/runs/x.log"));
        assert_eq!(
            l.step_log("x", "a", "check"),
            Path::new("/r/.git/ocfork/runs/x.logs/a.check.log")
        );
        assert_eq!(l.diff("s", "c"), Path::new("/r/.git/ocfork/diffs/s-c"));
        assert_eq!(l.git_lock(), Path::new("/r/.git/ocfork/git.lock"));
        assert_eq!(
            default_worktree_root(Path::new("/home/me/app")),
            Path::new("/home/me/app.ocfork")
        );
    }
}
