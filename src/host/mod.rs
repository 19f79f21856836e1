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

/// Finds where ocfork keeps things on a host, and what the host has.
const CONNECT_SCRIPT: &str = include_str!("connect.sh");

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
    /// The write end of [`watch_master`]'s stdin: held, never written.
    _watch: Option<std::process::ChildStdin>,
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
        use crate::opencode::version::{Version, VersionError};
        let what = || "its opencode".to_string();
        match self.opencode.as_deref().map(Version::parse) {
            None => out.push("opencode is missing (set `opencode` in its [[host]] table)".into()),
            Some(None) => out.push(
                VersionError::Unknown {
                    what: what(),
                    said: format!(
                        "`--version` printed {:?}",
                        self.opencode.as_deref().unwrap_or("")
                    ),
                }
                .to_string(),
            ),
            Some(Some(version)) if !version.supported() => out.push(
                VersionError::Unsupported {
                    what: what(),
                    version,
                }
                .to_string(),
            ),
            Some(Some(_)) => {}
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

/// Starts a process here that closes the master connection at `socket` once this process
/// is gone, and returns the stdin it waits on. The master runs in the background (`ssh -f`,
/// persisting) and outlives an ocfork killed outright, when neither [`Host::close`] nor a drop
/// runs: holding the connection to the host open, its forward listening here, forever. Only
/// this process holds the watcher's stdin (Rust's pipes are close-on-exec), so it closes
/// when this process ends however it ends, or when the host is dropped; the watcher then asks
/// the master to exit (a no-op after a close) and removes the master's socket folder. Its
/// own process group keeps a terminal's Ctrl-C or hangup from taking it first.
fn watch_master(socket: &std::path::Path) -> Option<std::process::ChildStdin> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    const WATCH: &str = r#"read -r _ || true
ssh -F /dev/null -S "$1" -O exit ocfork-host >/dev/null 2>&1
d=${1%/*}
case ${d##*/} in .ssh-connection*) rm -rf "$d" ;; esac
"#;
    let mut child = std::process::Command::new("sh")
        .args(["-c", WATCH, "sh"])
        .arg(socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    let stdin = child.stdin.take();
    // Reaped when it ends, so a long-lived driver keeps no zombies.
    std::thread::spawn(move || child.wait());
    stdin
}

/// `sh`-quotes one word.
pub(crate) fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

impl Host {
    /// Opens the host's master connection and finds its home.
    pub async fn connect(config: &HostConfig) -> Result<Host, HostError> {
        let host = Host::connect_bare(config).await?;
        host.find_places(false).await.map(|(host, _)| host)
    }

    /// The master connection alone, `dir` and `opencode` not resolved yet.
    async fn connect_bare(config: &HostConfig) -> Result<Host, HostError> {
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
        let watch = watch_master(session.control_socket());
        Ok(Host {
            config: config.clone(),
            session: Arc::new(session),
            _watch: watch,
            dir: String::new(),
            opencode: String::new(),
        })
    }

    /// Like [`Host::connect`], and reads what the host has in the same command.
    pub async fn connect_reporting(config: &HostConfig) -> Result<(Host, Report), HostError> {
        let host = Host::connect_bare(config).await?;
        host.find_places(true).await
    }

    /// Resolves `dir` and `opencode` on the host (its home for `~/`) and, with `report`, reads
    /// what it has: one command either way ([`CONNECT_SCRIPT`]).
    async fn find_places(mut self, report: bool) -> Result<(Host, Report), HostError> {
        let mode = if report { "report" } else { "places" };
        let args = [
            self.config.dir.as_str(),
            self.config.opencode.as_str(),
            mode,
        ];
        let out = self.sh(CONNECT_SCRIPT, &args, None).await?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        // Paths as the host printed them (a name may end in a space); the rest trimmed.
        let path = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let field = |key: &str| {
            path(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let (Some(dir), Some(bin)) = (path("dir="), path("bin=")) else {
            let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(self.error(format!("cannot find its home ({said})")));
        };
        (self.dir, self.opencode) = (dir, bin);
        let found = Report {
            git: field("git="),
            opencode: field("opencode="),
            free_kib: field("free=").and_then(|f| f.parse().ok()),
        };
        Ok((self, found))
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
