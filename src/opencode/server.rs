//! Spawning and stopping `opencode serve`: loopback only, a random password that lives only in
//! memory and the child's environment, and a child that cannot outlive ocfork.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use super::MainThread;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "cannot find the `opencode` binary{0}; install it (`npm install -g opencode-ai`) or pass --opencode PATH"
    )]
    NotFound(String),
    #[error("cannot start {bin}: {source}")]
    Spawn {
        bin: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("opencode serve did not start: {0}")]
    Start(String),
}

/// What to do about it, beyond the message.
impl crate::fault::Fault for ServerError {
    fn meaning(&self) -> crate::fault::Meaning {
        use crate::fault::Meaning;
        match self {
            ServerError::NotFound(_) => Meaning::config().hint(
                "or set OCFORK_OPENCODE to it; in a checkout of ocfork, `bash scripts/install-opencode` \
                 installs the pinned one as .tools/opencode/node_modules/.bin/opencode",
            ),
            ServerError::Spawn { .. } | ServerError::Start(_) => Meaning::failure(),
        }
    }
}

/// The lock that makes server starts take turns: `$XDG_STATE_HOME/ocfork/opencode-start.lock`.
/// None when it cannot be had (a read-only home): starting anyway beats not starting.
async fn start_turn() -> Option<nix::fcntl::Flock<std::fs::File>> {
    tokio::task::spawn_blocking(|| {
        let dir = crate::paths::user_state();
        crate::private_fs::own_dir(&dir).ok()?;
        let file = crate::private_fs::lock_file(&dir.join("opencode-start.lock")).ok()?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).ok()
    })
    .await
    .ok()
    .flatten()
}

/// Finds the opencode binary: the flag, else `$OCFORK_OPENCODE`, else `opencode` on `PATH`.
pub fn find_binary(flag: Option<&Path>) -> Result<PathBuf, ServerError> {
    if let Some(p) = flag {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(ServerError::NotFound(format!(" at {}", p.display())))
        };
    }
    if let Some(p) = std::env::var_os("OCFORK_OPENCODE").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(ServerError::NotFound(format!(
                " at {} (from OCFORK_OPENCODE)",
                p.display()
            )))
        };
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("opencode"))
        .find(|p| p.is_file())
        .ok_or_else(|| ServerError::NotFound(" on PATH".into()))
}

/// How the server process ended, once it has.
pub type ExitWatch = watch::Receiver<Option<String>>;

/// A running `opencode serve` that ocfork spawned.
pub struct Server {
    pub url: String,
    pub password: String,
    pid: i32,
    exited: ExitWatch,
    log: Arc<Mutex<Vec<String>>>,
}

/// A free loopback port. OpenCode's own `--port 0` is not random, so ocfork picks one.
pub(crate) fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

pub(crate) fn random_password() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| {
            let n: u8 = rng.random_range(0..62);
            match n {
                0..=9 => (b'0' + n) as char,
                10..=35 => (b'a' + n - 10) as char,
                _ => (b'A' + n - 36) as char,
            }
        })
        .collect()
}

impl Server {
    /// Starts `opencode serve` on 127.0.0.1 with a fresh password and waits until it listens.
    /// The child gets SIGKILL when the thread that forked it dies: `main` proves that is the
    /// main thread, which lives as long as ocfork (see [`MainThread`]).
    pub async fn spawn(bin: &Path, cwd: &Path, _main: MainThread) -> Result<Server, ServerError> {
        // Servers sharing a data directory race on its database migration when they start at
        // the same moment, and one exits: starts on this machine take turns, each until its
        // server listens (held across processes, so two `try` at once are safe too).
        let _turn = start_turn().await;
        match Server::spawn_once(bin, cwd).await {
            // The free port found was taken before the server listened on it (another
            // process picked it meanwhile): once more, on another.
            Err(ServerError::Start(e)) if e.contains("ServeError") => {
                Server::spawn_once(bin, cwd).await
            }
            started => started,
        }
    }

    /// One start of [`Server::spawn`]'s, on a port free a moment before.
    async fn spawn_once(bin: &Path, cwd: &Path) -> Result<Server, ServerError> {
        let port = free_port().map_err(|e| ServerError::Start(e.to_string()))?;
        let password = random_password();
        let mut cmd = tokio::process::Command::new(bin);
        cmd.args([
            "serve",
            "--hostname",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .current_dir(cwd)
        .env("PWD", cwd)
        .env("OPENCODE_SERVER_PASSWORD", &password)
        .env_remove("OPENCODE_SERVER_USERNAME")
        .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
        if std::env::var_os("OPENCODE_PERMISSION").is_none() {
            // Forks run headless in their own worktrees: nothing may wait on a question.
            cmd.env(
                "OPENCODE_PERMISSION",
                r#"{"edit":"allow","bash":"allow","webfetch":"allow","doom_loop":"allow","question":"deny"}"#,
            );
        }
        if let Some(config) = without_snapshots(std::env::var("OPENCODE_CONFIG_CONTENT").ok()) {
            cmd.env("OPENCODE_CONFIG_CONTENT", config);
        }
        // The fork happens on the thread polling this future, the main thread: the future
        // holds `_main` (an async fn's arguments live until it ends), so it cannot be moved
        // to another thread.
        // SAFETY: only async-signal-safe calls (prctl, getppid) run between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
                if nix::unistd::getppid().as_raw() == 1 {
                    return Err(std::io::Error::other("parent already exited"));
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|source| ServerError::Spawn {
            bin: bin.to_path_buf(),
            source,
        })?;
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        let log = Arc::new(Mutex::new(Vec::new()));
        let (url_tx, mut url_rx) = tokio::sync::mpsc::channel::<String>(1);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(BufReader::new(out), log.clone(), Some(url_tx)));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(BufReader::new(err), log.clone(), None));
        }
        let (exit_tx, exited) = watch::channel(None);
        tokio::spawn(async move {
            let status = child.wait().await;
            let text = match status {
                Ok(s) => s.to_string(),
                Err(e) => e.to_string(),
            };
            let _ = exit_tx.send(Some(text));
        });
        let mut exit_rx = exited.clone();
        let url = tokio::select! {
            url = url_rx.recv() => url,
            _ = exit_rx.wait_for(|e| e.is_some()) => None,
            _ = tokio::time::sleep(crate::timeouts::get().server_start) => None,
        };
        let server = Server {
            url: String::new(),
            password,
            pid,
            exited,
            log,
        };
        match url {
            Some(url) => Ok(Server { url, ..server }),
            None => {
                let tail = server.log_tail();
                let status = server
                    .exit_status()
                    .unwrap_or_else(|| "no answer in 60 s".into());
                server.kill();
                Err(ServerError::Start(format!("{status}; output: {tail}")))
            }
        }
    }

    async fn wait_exit(&self, limit: Duration) -> bool {
        let mut exited = self.exited.clone();
        tokio::time::timeout(limit, exited.wait_for(|e| e.is_some()))
            .await
            .is_ok()
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Watches for the process's end: `Some(status)` once it exited.
    pub fn exit_watch(&self) -> ExitWatch {
        self.exited.clone()
    }

    pub fn exit_status(&self) -> Option<String> {
        self.exited.borrow().clone()
    }

    /// The last lines the server printed, for error messages.
    pub fn log_tail(&self) -> String {
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        let start = log.len().saturating_sub(8);
        log[start..].join(" | ")
    }

    fn kill(&self) {
        if self.pid > 0 {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(self.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    /// SIGTERM to the server's process group, then SIGKILL if it has not gone after a grace
    /// period (a server that served sessions was seen ignoring SIGTERM).
    pub async fn stop(self) {
        if self.pid <= 0 || self.exit_status().is_some() {
            return;
        }
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        let limits = crate::timeouts::get();
        if !self.wait_exit(limits.server_term).await {
            self.kill();
            self.wait_exit(limits.server_kill).await;
        }
    }
}

/// The inline config with OpenCode's snapshots turned off, unless it says otherwise; None when
/// the inline config is not a JSON object (OpenCode then reports it itself).
///
/// A snapshot is OpenCode's own `git add` of the whole worktree into a side repository at
/// every step, for its undo and per-step patches. ocfork commits each fork's work to its
/// branch instead, so snapshots only cost: the first one in a fresh worktree hashes (and on
/// the first fork, writes) every file. What the agent does is the same either way
/// (BENCHMARKS.md, "OpenCode switches").
fn without_snapshots(inline: Option<String>) -> Option<String> {
    let mut config: serde_json::Value = match inline.as_deref().map(str::trim) {
        None | Some("") => serde_json::json!({}),
        Some(text) => serde_json::from_str(text).ok()?,
    };
    let map = config.as_object_mut()?;
    map.entry("snapshot")
        .or_insert(serde_json::Value::Bool(false));
    Some(config.to_string())
}

async fn pump<R: tokio::io::AsyncRead + Unpin>(
    reader: BufReader<R>,
    log: Arc<Mutex<Vec<String>>>,
    url_tx: Option<tokio::sync::mpsc::Sender<String>>,
) {
    let mut lines = reader.lines();
    let mut url_tx = url_tx;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(tx) = &url_tx
            && let Some(idx) = line.find("listening on ")
        {
            let url = line[idx + "listening on ".len()..].trim().to_string();
            let _ = tx.send(url).await;
            url_tx = None;
        }
        if let Ok(mut l) = log.lock() {
            l.push(line);
            if l.len() > 200 {
                l.drain(..100);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_snapshots;

    #[test]
    fn snapshots_off_unless_the_config_says_otherwise() {
        assert_eq!(
            without_snapshots(None).as_deref(),
            Some(r#"{"snapshot":false}"#)
        );
        let merged = without_snapshots(Some(r#"{"model":"a/b"}"#.into())).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&merged).unwrap_or_default();
        assert_eq!(v["snapshot"], false);
        assert_eq!(v["model"], "a/b");
        let kept = without_snapshots(Some(r#"{"snapshot":true}"#.into())).unwrap_or_default();
        assert_eq!(kept, r#"{"snapshot":true}"#);
        assert_eq!(without_snapshots(Some("not json".into())), None);
    }
}
