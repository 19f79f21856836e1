//! Shared test harness: hermetic temp repos with fixed authors and dates, the scripted model on
//! a free loopback port, the real `opencode` binary, and the real `ocfork` binary.

#![allow(dead_code)]

pub mod finished;
pub mod serve;
pub mod session;
pub mod shared;
pub mod sshd;
pub mod suite;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod procs;

#[allow(unused_imports)]
pub use ocfork_scripted::{BlockingModelServer, Failure, Options, Rule, Script, Step};

/// The real opencode binary: `$OCFORK_OPENCODE`, else the project-local install. A missing
/// binary fails the test (everywhere, not only on CI), saying how to install it.
pub fn opencode_bin() -> PathBuf {
    let local =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/opencode/node_modules/.bin/opencode");
    std::env::var_os("OCFORK_OPENCODE")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| local.is_file().then_some(local))
        .unwrap_or_else(|| {
            panic!(
                "opencode not found: run `bash scripts/install-opencode` (the pinned OpenCode into \
                 .tools/opencode) or set OCFORK_OPENCODE to an opencode binary"
            )
        })
}

/// Runs git in `dir`, panicking with its stderr when it fails. Hermetic (see [`hermetic`]),
/// and no global config at all: the test's repositories are what the test made them.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    hermetic(&mut cmd)
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    stdout_of(&mut cmd, &format!("git {args:?}"))
}

/// Makes `cmd` independent of the developer's shell, as jj's tests are: every variable that
/// changes what git, OpenCode or ocfork do (`GIT_*`, `OPENCODE_*`, `OCFORK_*`, `XDG_*`, the
/// locale, `EMAIL`, editors, pagers, colours) is removed, the locale is fixed (`C.UTF-8`: git's
/// messages in English, UTF-8 for tmux and file names), git reads no system config, and the
/// fixed identity and dates of [`git_env_pairs`] are set. `PATH` and the certificate variables
/// stay. Callers then set `HOME` (and `XDG_*`) to the test's own directories.
pub fn hermetic(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_none_or(leaks) {
            cmd.env_remove(name);
        }
    }
    cmd.env("LC_ALL", "C.UTF-8").envs(git_env())
}

/// A variable of the developer's environment that could change a test's result.
fn leaks(name: &str) -> bool {
    const PREFIXES: [&str; 6] = ["GIT_", "OPENCODE_", "OCFORK_", "XDG_", "LC_", "CLICOLOR"];
    const NAMES: [&str; 11] = [
        "LANG",
        "LANGUAGE",
        "EMAIL",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "NO_COLOR",
        "FORCE_COLOR",
        "TZ",
        "COMPLETE",
        "TMUX",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

/// The fixed git identity and dates every process in a test gets.
pub fn git_env_pairs() -> Vec<(&'static str, &'static str)> {
    git_env()
}

fn git_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GIT_AUTHOR_NAME", "Test Author"),
        ("GIT_AUTHOR_EMAIL", "author@example.com"),
        ("GIT_COMMITTER_NAME", "Test Author"),
        ("GIT_COMMITTER_EMAIL", "author@example.com"),
        ("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z"),
        ("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
    ]
}

/// A script of `rules`; turns no rule matches are answered "ok".
pub fn script(rules: Vec<Rule>) -> Script {
    Script {
        rules,
        default_reply: "ok".into(),
    }
}

/// A [`World`] whose model follows `rules` (see [`script`]).
pub fn world(rules: Vec<Rule>) -> World {
    World::new(script(rules))
}

/// [`world`] on the suite's server (see [`World::on_suite_server`]).
pub fn suite_world(rules: Vec<Rule>) -> World {
    world(rules).on_suite_server()
}

/// A rule that answers `reply` with no tool steps.
pub fn says(when: &str, reply: &str) -> Rule {
    Rule {
        when: when.to_string(),
        model: None,
        steps: vec![],
        reply: reply.to_string(),
        fail: None,
    }
}

/// A step that runs `command` with the bash tool.
pub fn bash(command: &str) -> Step {
    Step {
        tool: "bash".into(),
        args: serde_json::json!({ "command": command, "description": "scripted shell step" }),
    }
}

/// A rule that writes one file per step and then replies.
pub fn writes(when: &str, files: &[(&str, &str)]) -> Rule {
    Rule {
        when: when.to_string(),
        model: None,
        steps: files
            .iter()
            .map(|(path, content)| Step {
                tool: "write".into(),
                args: serde_json::json!({ "filePath": path, "content": content }),
            })
            .collect(),
        reply: format!("Done with {when}."),
        fail: None,
    }
}

/// [`writes`] for one file, then `then` (e.g. [`held`]).
pub fn writes_then(when: &str, file: (&str, &str), then: Step) -> Rule {
    let mut rule = writes(when, &[file]);
    rule.steps.push(then);
    rule
}

/// An agent's `env` dump as ocfork committed it: its one `OPENCODE_SERVER_PASSWORD=` line has
/// the password replaced, and ocfork said so in `out`'s stderr.
pub fn assert_password_scrubbed(dumped: &str, out: &Output) {
    let lines: Vec<&str> = dumped
        .lines()
        .filter(|l| l.starts_with("OPENCODE_SERVER_PASSWORD="))
        .collect();
    assert_eq!(
        lines,
        ["OPENCODE_SERVER_PASSWORD=[server password removed by ocfork]"],
        "the password is committed: {dumped}"
    );
    assert!(
        stderr(out).contains("envdump.txt: the OpenCode server's password was in it"),
        "{}",
        stderr(out)
    );
}

/// One hermetic world: a temp dir with a repo, OpenCode's config/data dirs and a scripted model.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub repo: PathBuf,
    pub model: BlockingModelServer,
    pub opencode: PathBuf,
    /// The suite's server, when `try` runs on it (see [`World::on_suite_server`]).
    pub server: Option<&'static serve::Serve>,
}

impl World {
    /// A repo with one commit (README.md, src/app.js) and a model following `script`.
    /// Panics when opencode is not installed (see [`opencode_bin`]).
    pub fn new(script: Script) -> World {
        World::with_delay(script, Duration::ZERO)
    }

    pub fn with_delay(script: Script, delay: Duration) -> World {
        let tmp = tempfile::Builder::new()
            .prefix("ocfork-test")
            .tempdir()
            .expect("tempdir");
        World::in_dir(tmp, script, delay)
    }

    /// A world in `tmp` (see [`World::new`]).
    pub fn in_dir(tmp: tempfile::TempDir, script: Script, delay: Duration) -> World {
        let opencode = opencode_bin();
        let repo = tmp.path().join("app");
        std::fs::create_dir_all(repo.join("src")).expect("mkdir");
        std::fs::write(repo.join("README.md"), "# app\n").expect("write");
        std::fs::write(repo.join("src/app.js"), "console.log('app');\n").expect("write");
        std::fs::create_dir_all(tmp.path().join("home")).expect("mkdir");
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "initial"]);
        let model = BlockingModelServer::start(
            script,
            Options {
                delay,
                ..Options::default()
            },
        )
        .expect("scripted model starts");
        World {
            tmp,
            repo,
            model,
            opencode,
            server: None,
        }
    }

    /// This world with `try` run on the suite's one `opencode serve` (`--server`, unless the
    /// test gives `--server`, `--servers` or `--host` itself) instead of a server of its own:
    /// for tests about the forks' life, not about the server `try` spawns. The repo gets an
    /// ignored `opencode.json` pointing at the world's model (see `common::suite`); a repo
    /// made elsewhere in the test needs [`suite::point_at_model`] too.
    pub fn on_suite_server(mut self) -> World {
        suite::point_at_model(&self.repo, &self.model.base_url());
        self.server = Some(suite::suite_server());
        self
    }

    /// The real opencode behind a script that logs each start to the returned log (one line
    /// per start, its arguments), to count the servers a command starts: `(log, wrapper)`.
    pub fn counting_opencode(&self) -> (PathBuf, PathBuf) {
        let (log, wrapper) = (self.path("starts.log"), self.path("opencode"));
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            self.opencode.display()
        );
        std::fs::write(&wrapper, script).expect("write the wrapper");
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod the wrapper");
        (log, wrapper)
    }

    /// `args` with `--server URL` after a leading `try` when the world is on the suite's server.
    fn args_for<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = args.to_vec();
        let own = |a: &&str| {
            ["--server", "--servers", "--host"]
                .iter()
                .any(|o| a == o || a.starts_with(&format!("{o}=")))
        };
        if let Some(srv) = self.server
            && all.first() == Some(&"try")
            && !all.iter().any(own)
        {
            all.splice(1..1, ["--server", srv.url.as_str()]);
        }
        all
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// OpenCode's hermetic environment for this world (see `ocfork_scripted::offline_env`).
    pub fn offline_env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        ocfork_scripted::offline_env(&self.tmp.path().join("xdg"), &self.model.base_url())
    }

    /// The ocfork binary, run in the repo with a hermetic environment.
    pub fn ocfork(&self) -> Command {
        self.ocfork_in(&self.repo)
    }

    pub fn ocfork_in(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocfork"));
        hermetic(&mut cmd).current_dir(dir);
        let t = self.tmp.path();
        cmd.env("HOME", t.join("home"))
            .envs(self.offline_env())
            .env("OCFORK_OPENCODE", &self.opencode)
            .env("NO_COLOR", "1");
        if let Some(srv) = self.server {
            cmd.env("OPENCODE_SERVER_PASSWORD", &srv.password);
        }
        cmd
    }

    /// Gives this world's OpenCode config the plugin's dependencies (see
    /// [`suite::seed_plugin_deps`]) for the OpenCode servers its commands start (here or on a
    /// host, whose OpenCode reads this world's config): OpenCode otherwise installs them at a
    /// new config folder's first session (5-15 s, a registry download). [`World::run`],
    /// [`World::spawn`], [`World::try_run`] and `sshd::run_with_hosts` do it before a command
    /// that may start a server; a test running such a command with `w.ocfork()` itself
    /// calls this first.
    pub fn seed_opencode_deps(&self) {
        suite::seed_plugin_deps(self);
    }

    /// [`World::seed_opencode_deps`] when `args` is a command that may start OpenCode: the
    /// ones that only read a run start none (nor, for them, the suite's server).
    pub fn seed_for(&self, args: &[&str]) {
        const STARTS_OPENCODE: [&str; 11] = [
            "try", "resume", "continue", "judge", "synth", "agents", "hosts", "ui", "demo",
            "session", "detached",
        ];
        if args.first().is_some_and(|a| STARTS_OPENCODE.contains(a)) {
            self.seed_opencode_deps();
        }
    }

    /// Starts ocfork with `args` in the background, its stdout and stderr going to `out`, `err`.
    pub fn spawn(&self, args: &[&str], out: Stdio, err: Stdio) -> Child {
        self.seed_for(args);
        let mut cmd = self.ocfork();
        cmd.args(self.args_for(args)).stdout(out).stderr(err);
        cmd.spawn().expect("ocfork starts")
    }

    /// Runs ocfork with `args` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.seed_for(args);
        self.ocfork()
            .args(self.args_for(args))
            .output()
            .expect("ocfork runs")
    }

    pub fn git(&self, args: &[&str]) -> String {
        git(&self.repo, args)
    }

    /// Asserts the repository's `object` (`REV:PATH`, e.g. a fork's file on its branch) holds
    /// `want`.
    pub fn assert_shows(&self, object: &str, want: &str) {
        assert_eq!(self.git(&["show", object]), want, "git show {object}");
    }

    /// Runs `ocfork try --json ARGS`, asserts it exits `code` and returns its JSON.
    pub fn try_json(&self, code: i32, args: &[&str]) -> Value {
        json(&self.try_run(code, args))
    }

    /// Runs `ocfork try --json ARGS`, asserts it exits `code` and returns its output.
    pub fn try_run(&self, code: i32, args: &[&str]) -> Output {
        let mut all = vec!["try", "--json"];
        all.extend_from_slice(args);
        self.seed_for(&all);
        let out = self.ocfork().args(self.args_for(&all)).output();
        let out = out.expect("ocfork runs");
        assert_eq!(out.status.code(), Some(code), "stderr: {}", stderr(&out));
        out
    }
}

/// The fork `name` of a run's JSON (`status --json`, `try --json`); panics showing the run.
pub fn fork<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["forks"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("no fork {name} in {run:#}"))
}

/// The text of a file; panics naming it when it cannot be read.
pub fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A fork's worktree, from its JSON.
pub fn worktree_of(fork: &Value) -> PathBuf {
    PathBuf::from(fork["worktree"].as_str().expect("worktree"))
}

/// What a polled condition returns: `true` or `Some(value)` once it holds.
pub trait Holds {
    type Value;
    fn holds(self) -> Option<Self::Value>;
}

impl Holds for bool {
    type Value = ();
    fn holds(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Holds for Option<T> {
    type Value = T;
    fn holds(self) -> Option<T> {
        self
    }
}

/// Polls `check` until it holds (every 50 ms at first, backing off to 500 ms) and returns what
/// it held with, or None once `limit` has passed without it holding. The one poll loop of the
/// tests: callers assert on the None with what they waited for.
pub fn wait_until<H: Holds>(limit: Duration, mut check: impl FnMut() -> H) -> Option<H::Value> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        if let Some(v) = check().holds() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// The exit code is 0; returns stdout. Panics showing stdout and stderr otherwise.
pub fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// The exit code is 0; returns stdout as JSON. Panics showing stdout and stderr otherwise.
pub fn ok_json(out: &Output) -> Value {
    ok(out);
    json(out)
}

/// The exit code is `code` and stderr says `says`; panics showing stderr otherwise.
pub fn exits_with(out: &Output, code: i32, says: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(says), "wanted {says:?} in:\n{err}");
}

/// Parses stdout as JSON, with the whole output in the panic message when it is not.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub mod rules;
pub use rules::*;
pub mod outputs;
pub use outputs::*;

/// A bash step that marks its worktree `.started` and holds the agent's turn until the test
/// puts `.go` there ([`release`]), at most 2 minutes: for a turn that must still be working
/// when something else happens, in place of a fixed sleep.
pub fn held() -> Step {
    bash(
        "touch .started; for i in $(seq 1200); do [ -e .go ] && break; sleep 0.1; done; \
         rm -f .started .go",
    )
}

/// The folders right below `dir` (a run's worktrees below `app.ocfork/RUN`), none when it is
/// not there yet.
pub fn folders_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

/// Lets the [`held`] turns in `worktrees` go on.
pub fn release(worktrees: &[PathBuf]) {
    for wt in worktrees {
        std::fs::write(wt.join(".go"), "").expect("write .go");
    }
}

/// A command started in the background with its stdout and stderr kept for
/// `wait_with_output`, as the tests that act on a run while it goes do.
pub trait Background {
    fn in_background(&mut self) -> Child;
}

impl Background for Command {
    fn in_background(&mut self) -> Child {
        self.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ocfork starts")
    }
}
