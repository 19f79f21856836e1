//! A fork's `setup` and `check` commands: run with `sh -c` in its worktree, output in a log,
//! the whole process group killed on Ctrl-C or at the deadline.

use std::path::Path;
use std::time::Instant;

use super::fork::Shared;
use crate::state::Check;

/// How a `setup` or `check` command ended.
pub(super) enum Step {
    Ran(Check),
    /// It could not start, or its log could not be written.
    Broken(String),
    Cancelled,
    TimedOut,
}

pub(super) fn exit_text(c: &Check) -> String {
    match c.exit_code {
        Some(code) => format!("exited with {code}"),
        None => "was killed by a signal".into(),
    }
}

/// Runs a fork's `setup` or `check` command in its worktree, its output in the step's log,
/// stopped (with everything it started) on Ctrl-C or at `deadline`.
pub(super) async fn shell_step(
    shared: &Shared,
    fork: &str,
    step: &str,
    cmd: &str,
    dir: &Path,
    deadline: tokio::time::Instant,
) -> (Step, std::path::PathBuf) {
    let store = crate::state::Store::new(&shared.common_dir);
    let run = shared.handle.snapshot();
    let log = store.step_log(&run.run, fork, step);
    let size = run.ports.unwrap_or(super::ports::DEFAULT_BLOCK);
    let port = match super::ports::reserve(&run.run, fork, size) {
        Ok(p) => p,
        Err(e) => return (Step::Broken(e), log),
    };
    let env = [
        ("OCFORK_RUN", run.run.clone()),
        ("OCFORK_FORK", fork.to_string()),
        ("OCFORK_WORKTREE", dir.display().to_string()),
        ("OCFORK_BASE", run.base.clone()),
        ("OCFORK_PORT", port.to_string()),
        ("OCFORK_PORTS", size.to_string()),
    ];
    let stop = async {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => Step::TimedOut,
            _ = shared.cancel.cancelled() => Step::Cancelled,
        }
    };
    let step = match run_shell(cmd, dir, &env, &log, stop).await {
        Ok(Ok(check)) => Step::Ran(check),
        Ok(Err(stopped)) => stopped,
        Err(e) => Step::Broken(format!("could not run (log {}): {e}", log.display())),
    };
    (step, log)
}

/// Runs `sh -c cmd` in `dir` with `env` added, in a process group of its own, stdout and
/// stderr appended to `log`. When `stop` finishes first the whole group is killed and its
/// value returned.
pub async fn run_shell<T>(
    cmd: &str,
    dir: &Path,
    env: &[(&str, String)],
    log: &Path,
    stop: impl std::future::Future<Output = T>,
) -> std::io::Result<Result<Check, T>> {
    if let Some(parent) = log.parent() {
        crate::private_fs::own_dir(parent)?;
    }
    let out = crate::private_fs::append(log)?;
    let err = out.try_clone()?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .env("PWD", dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let pgid = child.id().map(|p| nix::unistd::Pid::from_raw(p as i32));
    let kill_group = || {
        if let Some(pgid) = pgid {
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        }
    };
    tokio::select! {
        status = child.wait() => {
            let status = status?;
            // Whatever the command left running in the background goes with it.
            kill_group();
            Ok(Ok(Check {
                command: cmd.to_string(),
                exit_code: status.code(),
                duration_ms: started.elapsed().as_millis() as u64,
            }))
        }
        stopped = stop => {
            kill_group();
            let _ = child.wait().await;
            Ok(Err(stopped))
        }
    }
}
