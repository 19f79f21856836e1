//! Running git: every call ocfork makes goes through [`command`], with no prompts, no
//! optional locks and none of the caller's `GIT_DIR`; [`git`] returns the output of a call
//! that exited 0, else an error naming the command and git's words.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::{GitError, Result};

/// Runs git in `dir` and returns its output when it exits 0.
pub fn git<I, S>(dir: &Path, args: I) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    git_env(dir, args, &[])
}

/// Like [`git`], with extra environment variables.
pub fn git_env<I, S>(dir: &Path, args: I, env: &[(&str, &OsStr)]) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_checked(dir, args, env)
}

/// Runs git in `dir` with extra environment; its output when it exits 0.
fn run_checked<I, S>(dir: &Path, args: I, env: &[(&str, &OsStr)]) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let mut cmd = command(dir);
    cmd.args(&args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    checked(run(cmd, None)?, &args, dir)
}

/// `git` in `dir` as every call of ocfork's makes it: no prompts, no optional locks (reads
/// such as `git status` must not rewrite the user's index behind their back), and none of the
/// caller's `GIT_DIR`, `GIT_WORK_TREE` or `GIT_INDEX_FILE`.
pub(crate) fn command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    cmd
}

/// Runs a git command to its end, feeding `input` on stdin; its output whatever its status.
pub(crate) fn run(mut cmd: Command, input: Option<&[u8]>) -> Result<Output> {
    let Some(input) = input else {
        return cmd.output().map_err(GitError::Spawn);
    };
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(GitError::Spawn)?;
    // Written from a thread: git answers while it reads, and both pipes must keep moving.
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        std::thread::spawn(move || stdin.write_all(&input))
    });
    let out = child.wait_with_output().map_err(GitError::Spawn)?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    Ok(out)
}

/// The output of a git command that exited 0, else its failure with the command and stderr.
pub(super) fn checked(out: Output, args: &[std::ffi::OsString], dir: &Path) -> Result<Output> {
    if out.status.success() {
        return Ok(out);
    }
    Err(GitError::Failed {
        args: args
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        dir: dir.to_path_buf(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

pub(super) fn stdout_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
