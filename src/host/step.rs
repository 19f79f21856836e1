//! A fork's `--setup` and `--check` on its host: `sh -c` in the fork's worktree there, with
//! the environment it gets here (`OCFORK_PORT`...), its output appended to the step's log here,
//! and everything it started killed on the host when it ends, when ocfork stops it, or when
//! the connection drops.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt as _;

use super::{Host, HostError};
use crate::state::Check;

/// Run on the host: `$1` the worktree, `$2` the command, then `NAME=VALUE` words to export.
/// The command runs in a session of its own, its stdout and stderr both on the wrapper's
/// stderr (the log; the wrapper's own words, such as the shell's `Killed`, go nowhere); its
/// whole session is killed when it exits or when stdin closes (ocfork
/// stopped it, died, or the connection dropped). The exit code comes on stdout, so that no
/// code of the command's (127, 255) is taken for ssh's own.
const STEP_SCRIPT: &str = r#"
cd "$1" || { echo "ocfork: cannot enter the fork's worktree $1" >&2; printf 'ocfork-exit=126\n'; exit 0; }
cmd=$2; shift 2
for kv; do export "$kv"; done
exec 3<&0 4>&2 2>/dev/null
setsid sh -c "$cmd" </dev/null >&4 2>&4 3<&- 4>&- &
pid=$!
( cat <&3 >/dev/null; kill -s KILL -- "-$pid" ) >/dev/null 2>&1 4>&- &
exec 3<&- 4>&-
wait "$pid"
code=$?
kill -s KILL -- "-$pid" 2>/dev/null
printf 'ocfork-exit=%s\n' "$code"
"#;

impl Host {
    /// Runs `cmd` in `dir` on the host with `env` added, its output appended to `log` here.
    /// When `stop` finishes first, everything the command started on the host is killed and
    /// `stop`'s value returned.
    pub async fn run_step<T>(
        &self,
        cmd: &str,
        dir: &str,
        env: &[(&str, String)],
        log: &Path,
        stop: impl Future<Output = T>,
    ) -> Result<Result<Check, T>, HostError> {
        let io = |e: std::io::Error| self.error(format!("cannot write {}: {e}", log.display()));
        if let Some(parent) = log.parent() {
            crate::private_fs::own_dir(parent).map_err(io)?;
        }
        let out = crate::private_fs::append(log).map_err(io)?;
        let started = Instant::now();
        let mut command = self.session.command("sh");
        command
            .arg("-c")
            .arg(STEP_SCRIPT)
            .arg("sh")
            .arg(dir)
            .arg(cmd)
            .args(env.iter().map(|(k, v)| format!("{k}={v}")))
            .stdin(openssh::Stdio::piped())
            .stdout(openssh::Stdio::piped())
            .stderr(openssh::Stdio::from(out));
        let mut child = command
            .spawn()
            .await
            .map_err(|e| self.error(format!("cannot run a command: {e}")))?;
        // Held while the command runs: dropping it tells the host to kill the command.
        let stdin = child.stdin().take();
        let mut stdout = child
            .stdout()
            .take()
            .ok_or_else(|| self.error("no output from the command".into()))?;
        let mut text = Vec::new();
        let ended = tokio::select! {
            read = stdout.read_to_end(&mut text) => Ok(read),
            stopped = stop => Err(stopped),
        };
        drop(stdin);
        let waited = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
        let read = match ended {
            Err(stopped) => return Ok(Err(stopped)),
            Ok(read) => read,
        };
        let text = String::from_utf8_lossy(&text);
        let code = text
            .lines()
            .find_map(|l| l.strip_prefix("ocfork-exit="))
            .and_then(|c| c.trim().parse::<i32>().ok());
        match (read, code) {
            (Ok(_), Some(code)) => Ok(Ok(Check {
                command: cmd.to_string(),
                exit_code: Some(code),
                duration_ms: started.elapsed().as_millis() as u64,
            })),
            (Err(e), _) => Err(self.error(format!("the connection failed: {e}"))),
            (Ok(_), None) => Err(self.error(match waited {
                Ok(Err(e)) => format!("the connection failed: {e}"),
                _ => "the connection failed".to_string(),
            })),
        }
    }
}
