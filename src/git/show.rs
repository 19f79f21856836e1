//! Showing a diff to the user: git writes it to ocfork's own stdout, so it is paged and
//! coloured exactly as `git diff` would be.

use std::path::Path;
use std::process::Stdio;

use super::{GitError, Result};

/// How `git diff` output is shown on the terminal.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiffView {
    /// Page long output like git does (`GIT_PAGER`, `core.pager`, `PAGER`, else `less`).
    pub pager: bool,
    /// Force colour on or off; None leaves it to git (colour on a terminal).
    pub color: Option<bool>,
    /// `--stat` instead of the patch.
    pub stat: bool,
}

/// Shows `git diff from to` on ocfork's own stdout, so git pages and colours it as it
/// would its own output. Returns git's exit code.
pub fn show_diff(dir: &Path, from: &str, to: &str, view: DiffView) -> Result<i32> {
    let mut cmd = super::command(dir);
    cmd.stdin(Stdio::inherit());
    if !view.pager {
        cmd.arg("--no-pager");
    }
    cmd.arg("diff");
    match view.color {
        Some(true) => cmd.arg("--color=always"),
        Some(false) => cmd.arg("--color=never"),
        None => &mut cmd,
    };
    if view.stat {
        cmd.arg("--stat");
    }
    cmd.args(["-M", from, to, "--"]);
    let status = cmd.status().map_err(GitError::Spawn)?;
    // git stopped by SIGPIPE: the reader of stdout went away (`ocfork diff a | head`), which
    // is as quiet an end as ocfork's own output has on a closed pipe.
    use std::os::unix::process::ExitStatusExt;
    if status.signal() == Some(nix::sys::signal::Signal::SIGPIPE as i32) {
        return Ok(0);
    }
    Ok(status.code().unwrap_or(1))
}
