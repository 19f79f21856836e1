//! Other machines a run's forks work on (`try --host`): one multiplexed OpenSSH connection per
//! host (the system's `ssh`, so the user's config, keys and agent apply), the checks a host
//! must pass before anything is made, and running commands there.

use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use crate::config::HostConfig;

mod copy;
pub mod mirror;
mod secret;
pub mod serve;
mod step;

pub use serve::RemoteServer;

/// The oldest git a host may have (the same floor as here: `merge-tree --write-tree`).
const MIN_GIT: (u32, u32) = (2, 40);

/// Something about a host that stops ocfork from using it; the message names the host.
#[derive(Debug, Clone, thiserror::Error)]
#[error("host {host}: {message}")]
pub struct HostError {
    pub host: String,
    pub message: String,
}

/// A connected host.
pub struct Host {
    pub config: HostConfig,
    session: Arc<openssh::Session>,
    /// `dir` made absolute on the host (`~/` is its home).
    pub dir: String,
    /// The opencode binary on the host, `~/` resolved.
    pub opencode: String,
}

/// What a host has, as `ocfork hosts` shows it.
#[derive(Debug, Default)]
pub struct Report {
    pub git: Option<String>,
    pub opencode: Option<String>,
    /// Free space where ocfork keeps things, in KiB.
    pub free_kib: Option<u64>,
}

impl Report {
    /// What is missing or too old; empty when the host can run forks.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.git.as_deref().map(git_at_least) {
            None => out.push("git is not installed".to_string()),
            Some(false) => out.push(format!(
                "{} is too old: ocfork needs git {}.{} or newer",
                self.git.as_deref().unwrap_or(""),
                MIN_GIT.0,
                MIN_GIT.1
            )),
            Some(true) => {}
        }
        if self.opencode.is_none() {
            out.push("opencode is missing (set `opencode` in its [[host]] table)".into());
        }
        out
    }
}

fn git_at_least(text: &str) -> bool {
    let version = text.trim().trim_start_matches("git version ").trim();
    let mut parts = version
        .split(['.', ' ', '-'])
        .map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= MIN_GIT,
        _ => false,
    }
}

/// The `-F FILE` of `$OCFORK_SSH`: extra ssh options for every connection (only `-F` so far).
pub fn ssh_config_file() -> Result<Option<PathBuf>, String> {
    let Some(raw) = std::env::var_os("OCFORK_SSH").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let raw = raw.to_string_lossy().to_string();
    let words: Vec<&str> = raw.split_whitespace().collect();
    match words.as_slice() {
        ["-F", file] => Ok(Some(PathBuf::from(file))),
        _ => Err(format!(
            "OCFORK_SSH=`{raw}`: only `-F FILE` (an ssh config file) is supported"
        )),
    }
}

/// `sh`-quotes one word.
pub(crate) fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

impl Host {
    /// Opens the host's master connection and finds its home.
    pub async fn connect(config: &HostConfig) -> Result<Host, HostError> {
        let fail = |message: String| HostError {
            host: config.name.clone(),
            message,
        };
        let mut builder = openssh::SessionBuilder::default();
        builder
            .known_hosts_check(openssh::KnownHosts::Accept)
            .connect_timeout(Duration::from_secs(15))
            .server_alive_interval(Duration::from_secs(5))
            .control_directory(std::env::temp_dir());
        if let Some(file) = ssh_config_file().map_err(&fail)? {
            builder.config_file(file);
        }
        let session = builder
            .connect(&config.ssh)
            .await
            .map_err(|e| fail(format!("cannot connect over ssh to `{}`: {e}", config.ssh)))?;
        let mut host = Host {
            config: config.clone(),
            session: Arc::new(session),
            dir: String::new(),
            opencode: String::new(),
        };
        let out = host.sh("printf %s \"$HOME\"", &[], None).await?;
        let home = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let resolve = |p: &str| match p.strip_prefix("~/") {
            Some(rest) => format!("{}/{rest}", home.trim_end_matches('/')),
            None => p.to_string(),
        };
        host.dir = resolve(&config.dir);
        host.opencode = resolve(&config.opencode);
        Ok(host)
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    fn error(&self, message: String) -> HostError {
        HostError {
            host: self.config.name.clone(),
            message,
        }
    }

    /// Runs `script` with `sh -c` on the host, `args` as `$1`..., `input` on stdin; its output
    /// whatever its exit status.
    pub async fn sh(
        &self,
        script: &str,
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Result<Output, HostError> {
        use tokio::io::AsyncWriteExt as _;
        let cmd = self.session.command("sh");
        let stdin = input.is_some();
        let mut child = self
            .spawn_sh(cmd, script, args, stdin, "cannot run a command")
            .await?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin().take()) {
            let _ = stdin.write_all(input).await;
            drop(stdin);
        }
        child
            .wait_with_output()
            .await
            .map_err(|e| self.error(format!("the connection failed: {e}")))
    }

    /// Starts `sh -c SCRIPT sh ARGS...` through `cmd` (a `sh` of the host's session), its
    /// stdout and stderr piped, its stdin piped or closed; `what` begins the error.
    async fn spawn_sh<S: Clone>(
        &self,
        mut cmd: openssh::OwningCommand<S>,
        script: &str,
        args: &[&str],
        stdin: bool,
        what: &str,
    ) -> Result<openssh::Child<S>, HostError> {
        cmd.arg("-c").arg(script).arg("sh").args(args);
        cmd.stdin(if stdin {
            openssh::Stdio::piped()
        } else {
            openssh::Stdio::null()
        })
        .stdout(openssh::Stdio::piped())
        .stderr(openssh::Stdio::piped());
        cmd.spawn()
            .await
            .map_err(|e| self.error(format!("{what}: {e}")))
    }

    /// Like [`Host::sh`], an error with the script's stderr unless it exits 0.
    pub async fn sh_ok(
        &self,
        what: &str,
        script: &str,
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Result<Output, HostError> {
        let out = self.sh(script, args, input).await?;
        self.succeeded(what, out)
    }

    /// `out`, or an error with its stderr unless it exited 0.
    fn succeeded(&self, what: &str, out: Output) -> Result<Output, HostError> {
        if out.status.success() {
            return Ok(out);
        }
        Err(self.error(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }

    /// The host's git, opencode and free disk.
    pub async fn report(&self) -> Result<Report, HostError> {
        let script = r#"
printf 'git=%s\n' "$(git --version 2>/dev/null)"
if [ -x "$1" ] || command -v "$1" >/dev/null 2>&1; then
  printf 'opencode=%s\n' "$("$1" --version 2>/dev/null | head -n 1)"
fi
d=$2; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
printf 'free=%s\n' "$(df -Pk "$d" | awk 'NR==2 {print $4}')"
"#;
        let out = self.sh(script, &[&self.opencode, &self.dir], None).await?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(Report {
            git: field("git="),
            opencode: field("opencode="),
            free_kib: field("free=").and_then(|f| f.parse().ok()),
        })
    }

    /// Checks the host can run forks: an error naming what is missing.
    pub async fn check(&self) -> Result<Report, HostError> {
        let report = self.report().await?;
        let problems = report.problems();
        if problems.is_empty() {
            Ok(report)
        } else {
            Err(self.error(problems.join("; ")))
        }
    }

    /// Whether the master connection still holds (`ssh -O check`).
    pub async fn connected(&self) -> bool {
        let check = tokio::time::timeout(Duration::from_secs(10), self.session.check()).await;
        matches!(check, Ok(Ok(())))
    }

    /// The control socket of the master connection, for git's ssh (`GIT_SSH_COMMAND`).
    fn control_socket(&self) -> PathBuf {
        self.session.control_socket().to_path_buf()
    }

    /// Closes the master connection.
    pub async fn close(self) {
        if let Ok(session) = Arc::try_unwrap(self.session) {
            let _ = session.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn git_versions_from_2_40() {
        assert!(super::git_at_least("git version 2.47.3"));
        assert!(super::git_at_least("git version 2.40.0.windows.1"));
        assert!(!super::git_at_least("git version 2.39.5"));
        assert!(!super::git_at_least("nonsense"));
    }
}
