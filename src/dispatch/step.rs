//! A fork's `setup` and `check` commands: run with `sh -c` in its worktree (on its host for a
//! fork there), output in a log, the whole process group killed on Ctrl-C or at the deadline.

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
    // On a host, in the fork's worktree there (`dir` is its path on the host).
    let step = match &shared.remote {
        Some(remote) => {
            let dir = dir.to_string_lossy();
            match remote.host.run_step(cmd, &dir, &env, &log, stop).await {
                Ok(Ok(check)) => Step::Ran(check),
                Ok(Err(stopped)) => stopped,
                Err(e) => Step::Broken(format!("could not run (log {}): {e}", log.display())),
            }
        }
        None => match run_shell(cmd, dir, &env, &log, stop).await {
            Ok(Ok(check)) => Step::Ran(check),
            Ok(Err(stopped)) => stopped,
            Err(e) => Step::Broken(format!("could not run (log {}): {e}", log.display())),
        },
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
    // Whatever the command started goes with it however this ends: finished, stopped, or
    // this future dropped (its task aborted, the process unwinding).
    let group = ProcessGroup(child.id().map(|p| nix::unistd::Pid::from_raw(p as i32)));
    tokio::select! {
        status = child.wait() => {
            let status = status?;
            group.kill();
            Ok(Ok(Check {
                command: cmd.to_string(),
                exit_code: status.code(),
                duration_ms: started.elapsed().as_millis() as u64,
            }))
        }
        stopped = stop => {
            group.kill();
            let _ = child.wait().await;
            Ok(Err(stopped))
        }
    }
}

/// A process group killed whole (SIGKILL) when dropped.
struct ProcessGroup(Option<nix::unistd::Pid>);

impl ProcessGroup {
    fn kill(&self) {
        if let Some(pgid) = self.0 {
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// A step whose future is dropped midway (its task aborted) takes everything it started
    /// with it, not only `sh`.
    #[tokio::test]
    async fn a_dropped_step_kills_its_whole_process_group() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pidfile = dir.path().join("pid");
        let cmd = format!("sleep 600 & echo $! > {}; wait", pidfile.display());
        let log = dir.path().join("log");
        let never = std::future::pending::<()>();
        let step = super::run_shell(&cmd, dir.path(), &[], &log, never);
        let started = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::pin!(step);
            loop {
                tokio::select! {
                    _ = &mut step => return false,
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {
                        if std::fs::read_to_string(&pidfile).is_ok_and(|t| t.ends_with('\n')) {
                            return true;
                        }
                    }
                }
            }
        })
        .await;
        assert_eq!(started, Ok(true), "the background sleep started");
        // The step's future is gone now (dropped at the end of the block above).
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .expect("pid")
            .trim()
            .parse()
            .expect("a pid");
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting for its parent (the test process reaps nothing).
            stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z")
        });
        assert!(gone, "sleep {pid} outlived its dropped step");
    }
}
