//! A real `opencode serve` for a test's [`World`], with ocfork's plugin installed in the
//! world's own OpenCode config dir, and small blocking helpers over its API.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ocfork::opencode::Client;
use ocfork::opencode::types::{Message, PromptBody};

use super::World;

/// A running `opencode serve`, killed (with its process group) on drop.
pub struct Serve {
    child: Child,
    pub url: String,
    pub password: String,
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl Serve {
    /// Installs the plugin with `ocfork plugin install --global` and starts the server in the
    /// world's repo with the world's hermetic environment plus `extra_env`.
    pub fn start(w: &World, extra_env: &[(&str, &str)]) -> Serve {
        Serve::spawn(w, extra_env, false, true)
    }

    /// [`Serve::start`] for a server that outlives the test that started it (a module's
    /// shared one, `common::shared`): it gets a parent-death signal, so it dies when the
    /// thread that started it does, which must live as long as the test process.
    pub fn start_for_process(w: &World) -> Serve {
        Serve::start_for_process_with(w, &[])
    }

    /// [`Serve::start_for_process`] with `extra_env` (see [`Serve::start`]).
    pub fn start_for_process_with(w: &World, extra_env: &[(&str, &str)]) -> Serve {
        Serve::spawn(w, extra_env, true, true)
    }

    /// The suite's server (see `common::suite`): [`Serve::start_for_process`] with
    /// `extra_env`, whose OpenCode installs the plugin's dependencies itself.
    pub(super) fn start_for_suite(w: &World, extra_env: &[(&str, &str)]) -> Serve {
        Serve::spawn(w, extra_env, true, false)
    }

    /// Installs ocfork's plugin in the world's OpenCode config and starts the server; with
    /// `seeded`, the plugin's dependencies are the ones the suite's server installed (see
    /// [`super::suite::seed_plugin_deps`]) instead of an `npm install` at the server's first
    /// session (5-15 s).
    fn spawn(w: &World, extra_env: &[(&str, &str)], die_with_thread: bool, seeded: bool) -> Serve {
        let out = w.run(&["plugin", "install", "--global"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "plugin install: {}",
            super::stderr(&out)
        );
        if seeded {
            super::suite::seed_plugin_deps(w);
        }
        let password = "test-password".to_string();
        let t = w.tmp.path();
        let mut cmd = Command::new(&w.opencode);
        super::hermetic(&mut cmd);
        // Port 0: OpenCode binds the port itself (4096 when free, else one the kernel picks)
        // and prints its URL, so no other process can take the port between choosing and binding.
        cmd.args(["serve", "--hostname", "127.0.0.1", "--port", "0"])
            .current_dir(&w.repo)
            .env("PWD", &w.repo)
            .env("HOME", t.join("home"))
            .envs(w.offline_env())
            .env("OPENCODE_SERVER_PASSWORD", &password)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        if die_with_thread {
            // SAFETY: only an async-signal-safe prctl between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                        .map_err(std::io::Error::from)
                });
            }
        }
        let mut child = cmd.spawn().expect("opencode serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("opencode serve printed its URL")
                .expect("read");
            if let Some(i) = line.find("listening on ") {
                break line[i + "listening on ".len()..].trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let client = Client::new(&url, Some(&password)).expect("client");
        Serve {
            child,
            url,
            password,
            rt,
            client,
        }
    }

    /// [`Serve::start`], then a new session in the world's repo prompted with `text` for the
    /// `build` agent; returns the server and the session id.
    pub fn prompted(w: &World, extra_env: &[(&str, &str)], text: &str) -> (Serve, String) {
        let srv = Serve::start(w, extra_env);
        let session = srv.create_session(&w.repo);
        srv.prompt(&session, &w.repo, "build", text);
        (srv, session)
    }

    /// ocfork in the world's environment, talking to this server.
    pub fn ocfork(&self, w: &World, args: &[&str]) -> std::process::Output {
        let mut cmd = w.ocfork();
        cmd.env("OPENCODE_SERVER_PASSWORD", &self.password)
            .args(args)
            .output()
            .expect("ocfork runs")
    }

    /// `ocfork session VERB --session SESSION --server URL ARGS...` against this server.
    pub fn session(
        &self,
        w: &World,
        verb: &str,
        session: &str,
        args: &[&str],
    ) -> std::process::Output {
        let mut all = vec!["session", verb, "--session", session, "--server", &self.url];
        all.extend_from_slice(args);
        self.ocfork(w, &all)
    }

    /// The server's process id (it leads its own process group).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn block<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    pub fn create_session(&self, dir: &Path) -> String {
        self.block(self.client.create_session(dir, "test"))
            .expect("session")
            .id
    }

    /// Prompts a session and returns at once.
    pub fn prompt(&self, session: &str, dir: &Path, agent: &str, text: &str) {
        let body = PromptBody::text(Some(agent), None, text);
        self.block(self.client.prompt_async(session, dir, &body))
            .expect("prompt");
    }

    pub fn messages(&self, session: &str, dir: &Path) -> Vec<Message> {
        self.block(self.client.messages(session, dir))
            .expect("messages")
    }

    pub fn idle(&self, session: &str, dir: &Path) -> bool {
        let status = self.block(self.client.status(dir)).expect("status");
        status
            .get(session)
            .and_then(|s| s.get("type"))
            .and_then(|t| t.as_str())
            .is_none_or(|t| t == "idle")
    }

    /// Polls the session's history until `done` holds and the session is idle (2 min at most).
    pub fn wait_for(
        &self,
        session: &str,
        dir: &Path,
        what: &str,
        done: impl Fn(&[Message]) -> bool,
    ) -> Vec<Message> {
        let mut last = Vec::new();
        super::wait_until(Duration::from_secs(120), || {
            last = self.messages(session, dir);
            done(&last) && self.idle(session, dir)
        })
        .unwrap_or_else(|| {
            panic!(
                "timed out waiting for {what}; history:\n{}",
                describe(&last)
            )
        });
        last
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// The texts of a message's text parts, joined.
pub fn text_of(m: &Message) -> String {
    m.parts
        .iter()
        .filter(|p| p.get("type").and_then(|t| t.as_str()) == Some("text"))
        .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Tool parts of a message named `tool`.
pub fn tool_parts<'a>(m: &'a Message, tool: &str) -> Vec<&'a serde_json::Value> {
    m.parts
        .iter()
        .filter(|p| {
            p.get("type").and_then(|t| t.as_str()) == Some("tool")
                && p.get("tool").and_then(|t| t.as_str()) == Some(tool)
        })
        .collect()
}

/// The calls of ocfork's `session` tool in a history, oldest first.
pub fn session_calls(messages: &[Message]) -> Vec<&serde_json::Value> {
    messages
        .iter()
        .flat_map(|m| tool_parts(m, "session"))
        .collect()
}

/// A text field of a tool part's state (`status`, `output`, `error`), "" when absent.
pub fn state<'a>(part: &'a serde_json::Value, field: &str) -> &'a str {
    part.pointer(&format!("/state/{field}"))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

/// One line per message, for failure output.
pub fn describe(messages: &[Message]) -> String {
    messages
        .iter()
        .map(|m| {
            let kinds: Vec<String> = m
                .parts
                .iter()
                .map(|p| {
                    let kind = p.get("type").and_then(|t| t.as_str()).unwrap_or("?");
                    match kind {
                        "tool" => format!(
                            "tool:{}:{}",
                            p.get("tool").and_then(|t| t.as_str()).unwrap_or("?"),
                            p.pointer("/state/status")
                                .and_then(|t| t.as_str())
                                .unwrap_or("?")
                        ),
                        k => k.to_string(),
                    }
                })
                .collect();
            format!(
                "{} {} [{}] {:?}",
                m.info.role,
                m.info.agent.as_deref().unwrap_or("-"),
                kinds.join(","),
                text_of(m).chars().take(100).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The worktree path from the world's temp dir.
pub fn path_in(w: &World, rel: &str) -> PathBuf {
    w.tmp.path().join(rel)
}
