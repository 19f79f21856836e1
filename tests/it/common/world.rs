//! One hermetic world: a temp dir with a repo, OpenCode's config and data dirs, a scripted
//! model, and the real `ocfork` binary run in it (on the world's own servers or the suite's).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{
    BlockingModelServer, Options, Rule, Script, git, hermetic, json, opencode_bin, script, serve,
    stderr, suite,
};

/// A [`World`] whose model follows `rules` (see [`script`]).
pub fn world(rules: Vec<Rule>) -> World {
    World::new(script(rules))
}

/// [`world`] on the suite's server (see [`World::on_suite_server`]).
pub fn suite_world(rules: Vec<Rule>) -> World {
    world(rules).on_suite_server()
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

/// Whether `args` is a command that may start OpenCode: the ones that only read a run start
/// none (nor, for them, the suite's server).
fn starts_opencode(args: &[&str]) -> bool {
    const STARTS_OPENCODE: [&str; 11] = [
        "try", "resume", "continue", "judge", "synth", "agents", "hosts", "ui", "demo", "session",
        "detached",
    ];
    args.first().is_some_and(|a| STARTS_OPENCODE.contains(a))
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
        if starts_opencode(args) {
            self.seed_opencode_deps();
            suite::seed_version_cache(self);
        }
    }

    /// After a command [`World::seed_for`] seeded: what it kept for the worlds after it.
    pub fn kept_for_others(&self, args: &[&str]) {
        if starts_opencode(args) {
            suite::keep_version_cache(self);
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
        let out = (self.ocfork().args(self.args_for(args)).output()).expect("ocfork runs");
        self.kept_for_others(args);
        out
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
        self.kept_for_others(&all);
        assert_eq!(out.status.code(), Some(code), "stderr: {}", stderr(&out));
        out
    }
}
