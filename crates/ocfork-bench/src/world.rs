//! The bench's own world: a temporary root holding generated repositories, worktrees and
//! OpenCode's hermetic config/data dirs; the binaries under test; the scripted model with a
//! fixed delay; and the environment every child process runs in.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use ocfork_scripted::{BlockingModelServer, Options, Rule, Script, Step};

/// Text every fork's prompt carries, so the one script rule matches it.
pub const TASK: &str = "bench task: add two files";

/// Files each scripted session writes (the model's 3 calls: write, write, reply).
pub const WRITTEN: [&str; 2] = ["bench/one.txt", "bench/two.txt"];

pub struct World {
    pub root: PathBuf,
    tmp: Option<tempfile::TempDir>,
    pub ocfork: PathBuf,
    pub opencode: PathBuf,
    pub model: BlockingModelServer,
    seq: AtomicUsize,
}

impl World {
    pub fn new(ocfork: PathBuf, opencode: PathBuf, delay: Duration) -> anyhow::Result<World> {
        // Next to the repositories users fork, not on a tmpfs: the filesystem is part of
        // what is measured.
        let base = std::env::var_os("OCFORK_BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let tmp = tempfile::Builder::new()
            .prefix("ocfork-bench-")
            .tempdir_in(&base)
            .with_context(|| format!("cannot create a temp dir in {}", base.display()))?;
        let model = BlockingModelServer::start(
            script(),
            Options {
                delay,
                ..Options::default()
            },
        )
        .context("cannot start the scripted model")?;
        Ok(World {
            root: tmp.path().to_path_buf(),
            tmp: Some(tmp),
            ocfork,
            opencode,
            model,
            seq: AtomicUsize::new(0),
        })
    }

    /// Leaves the temp root on disk when the world is dropped.
    pub fn keep(&mut self) {
        if let Some(t) = self.tmp.take() {
            let _ = t.keep();
        }
    }

    /// A name never used before in this world (ext4 creates files slowly right after
    /// deleting many, so repetitions never reuse paths).
    pub fn fresh(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.seq.fetch_add(1, Ordering::SeqCst))
    }

    /// Where worktrees go (also `OCFORK_WORKTREE_ROOT` for ocfork).
    pub fn worktree_root(&self) -> PathBuf {
        self.root.join("wt")
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.root.join("logs").join(format!("{name}.log"))
    }

    pub fn opencode_config(&self) -> String {
        ocfork_scripted::opencode_config(&self.model.base_url())
    }

    /// The hermetic environment: OpenCode's config and data under the temp root, no network
    /// lookups, fixed git identity and dates, ocfork pointed at the opencode under test.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        let r = &self.root;
        let mut env = ocfork_scripted::offline_env(&r.join("xdg"), &self.model.base_url());
        env.extend([
            ("HOME", r.join("home").into()),
            ("OCFORK_WORKTREE_ROOT", self.worktree_root().into()),
            // The opencode under test, whatever the caller's environment says.
            ("OCFORK_OPENCODE", self.opencode.clone().into()),
            ("NO_COLOR", "1".into()),
        ]);
        for (k, v) in GIT_ENV {
            env.push((k, v.into()));
        }
        env
    }

    /// Applies [`World::env`] to a command.
    pub fn apply_env(&self, cmd: &mut Command) {
        cmd.envs(self.env())
            .env_remove("OPENCODE_SERVER_PASSWORD")
            .env_remove("OPENCODE_PERMISSION");
    }

    /// The ocfork binary, run in `dir`.
    pub fn ocfork_cmd(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(&self.ocfork);
        cmd.current_dir(dir).stdin(Stdio::null());
        self.apply_env(&mut cmd);
        cmd
    }

    /// Runs git in `dir`; its stdout, or an error with its stderr.
    pub fn git<S: AsRef<std::ffi::OsStr>>(&self, dir: &Path, args: &[S]) -> anyhow::Result<String> {
        let mut cmd = Command::new("git");
        cmd.current_dir(dir).args(args).stdin(Stdio::null());
        self.apply_env(&mut cmd);
        let out = cmd.output().context("cannot run git")?;
        if !out.status.success() {
            let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
            bail!(
                "git {} failed in {}: {}",
                shown.join(" "),
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// `git worktree add -b <branch> <path> HEAD`, as a shell loop would do it.
    /// Removes every linked worktree of `repo` (files included), so the next measurement
    /// starts from a repository with none: OpenCode lists and records each worktree it knows
    /// of when an instance's first turn starts, and leftovers of an earlier run, half recorded
    /// by a server stopped mid-way, would be counted against the next one.
    pub fn remove_worktrees(&self, repo: &Path) -> anyhow::Result<()> {
        let list = self.git(repo, &["worktree", "list", "--porcelain"])?;
        let linked = list
            .lines()
            .filter_map(|l| l.strip_prefix("worktree "))
            .skip(1)
            .map(String::from)
            .collect::<Vec<_>>();
        for path in linked {
            self.git(repo, &["worktree", "remove", "--force", &path])?;
        }
        self.git(repo, &["worktree", "prune"]).map(|_| ())
    }

    pub fn add_worktree(&self, repo: &Path, path: &Path, branch: &str) -> anyhow::Result<()> {
        self.git(
            repo,
            &[
                "worktree".as_ref(),
                "add".as_ref(),
                "-q".as_ref(),
                "-b".as_ref(),
                branch.as_ref(),
                path.as_os_str(),
                "HEAD".as_ref(),
            ],
        )
        .map(|_| ())
    }

    /// A committed and packed repository of `files` source files, 100 to a folder.
    pub fn make_repo(&self, name: &str, files: usize) -> anyhow::Result<PathBuf> {
        let dir = self.root.join("repos").join(name);
        for i in 0..files {
            let path = dir.join(source_path(i));
            if i % 100 == 0
                && let Some(parent) = path.parent()
            {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&path, source_text(i, 0))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        std::fs::write(dir.join("README.md"), format!("# {name}\n"))
            .with_context(|| format!("cannot write {}", dir.join("README.md").display()))?;
        self.git(&dir, &["init", "-q", "-b", "main"])?;
        // No background gc or maintenance may run while something is being timed.
        self.git(&dir, &["config", "gc.auto", "0"])?;
        self.git(&dir, &["config", "maintenance.auto", "false"])?;
        self.git(&dir, &["add", "-A"])?;
        self.git(&dir, &["commit", "-q", "-m", "initial"])?;
        self.git(&dir, &["gc", "-q"])?;
        Ok(dir)
    }
}

const GIT_ENV: [(&str, &str); 7] = [
    ("GIT_AUTHOR_NAME", "Bench Author"),
    ("GIT_AUTHOR_EMAIL", "bench@example.com"),
    ("GIT_COMMITTER_NAME", "Bench Author"),
    ("GIT_COMMITTER_EMAIL", "bench@example.com"),
    ("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z"),
    ("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
];

/// Path of generated source file `i`.
pub fn source_path(i: usize) -> String {
    format!("src/mod{:03}/file{:03}.js", i / 100, i % 100)
}

/// Content of generated source file `i`; `edit` > 0 gives an edited version (one line
/// changed, `edit` lines added).
pub fn source_text(i: usize, edit: usize) -> String {
    let mut text = String::new();
    for line in 0..30 {
        if edit > 0 && line == 3 {
            text.push_str(&format!("export const v{i}_{line} = 'edited';\n"));
        } else {
            text.push_str(&format!("export const v{i}_{line} = {};\n", line * 7 + i));
        }
    }
    for extra in 0..edit {
        text.push_str(&format!("export const added{i}_{extra} = {extra};\n"));
    }
    text
}

/// What only the synthesis prompt asks (`ocfork synth`), so its rule matches it and no fork's.
pub const SYNTH_ASK: &str = "keeps the strongest parts of each";

/// The name `ocfork synth` gives the synthesized fork.
pub const SYNTH_FORK: &str = "synth";

/// The forks of the synthesis scenario, as judges rank them: `f1`..`f4`.
pub const SYNTH_SOURCES: [&str; 4] = ["f1", "f2", "f3", "f4"];

/// The model's script: every session writes two files, then replies; the synthesizing
/// session does the same; judges rank the synthesized fork first once it exists, else the
/// forks in order. Judge and synthesis prompts hold the task too, so their rules come first.
fn script() -> Script {
    let mut after: Vec<&str> = vec![SYNTH_FORK];
    after.extend(SYNTH_SOURCES);
    let mut rules = vec![
        Rule {
            when: SYNTH_ASK.to_string(),
            ..writes_both()
        },
        Rule::verdict(&format!("## Fork {SYNTH_FORK}"), &after),
        Rule::verdict("## Fork ", &SYNTH_SOURCES),
    ];
    rules.push(writes_both());
    Script {
        rules,
        default_reply: "ok".into(),
    }
}

/// The bench task's rule: write [`WRITTEN`], then reply.
fn writes_both() -> Rule {
    Rule {
        when: TASK.to_string(),
        model: None,
        steps: WRITTEN
            .iter()
            .map(|path| Step {
                tool: "write".into(),
                args: serde_json::json!({ "filePath": path, "content": format!("{path}\n") }),
            })
            .collect(),
        reply: "Done.".into(),
        fail: None,
    }
}
