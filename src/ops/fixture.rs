//! For the ops layer's tests: a real git repository in a temp dir (its own identity in its
//! config), and a finished run in it made the way `try` leaves one: each fork's branch and
//! worktree made by git, its work committed, the manifest written by the library's own
//! [`Store`] from its [`Run`] and [`Fork`] types.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::git::Repo;
use crate::state::{EndReason, Fork, ForkState, Run, RunState, Store};

pub struct Fixture {
    /// Holds the repository and the worktrees; removed when dropped.
    pub tmp: tempfile::TempDir,
    pub main: PathBuf,
    pub repo: Repo,
    pub store: Store,
}

/// Runs git in `dir`; its stdout, trimmed. Panics (the test fails) when git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes `files` (path, content) below `dir`.
pub fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, content).expect("write");
    }
}

impl Fixture {
    /// A repository on branch `main` with one commit holding `a.txt`.
    pub fn new() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let main = tmp.path().join("app");
        std::fs::create_dir_all(&main).expect("mkdir");
        git(&main, &["init", "-q", "-b", "main"]);
        git(&main, &["config", "user.name", "Test"]);
        git(&main, &["config", "user.email", "test@example.com"]);
        git(&main, &["config", "commit.gpgsign", "false"]);
        write(&main, &[("a.txt", "a\n")]);
        git(&main, &["add", "-A"]);
        git(&main, &["commit", "-q", "-m", "start"]);
        let repo = Repo::discover(&main).expect("repo");
        let store = Store::new(&repo.common_dir);
        Fixture {
            tmp,
            main,
            repo,
            store,
        }
    }

    /// Commits `files` on the main tree's branch.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) {
        write(&self.main, files);
        git(&self.main, &["add", "-A"]);
        git(&self.main, &["commit", "-q", "-m", message]);
    }

    /// Records run `name` as `try` leaves it with every fork `done`: for each (fork, files it
    /// wrote), a branch `ocfork/NAME/FORK` from HEAD, a worktree in `app.ocfork/NAME/FORK`,
    /// and one commit when it wrote something.
    pub fn finished_run(&self, name: &str, forks: &[(&str, &[(&str, &str)])]) -> Run {
        let base = git(&self.main, &["rev-parse", "HEAD"]);
        let root = self.tmp.path().join("app.ocfork").join(name);
        let forks = forks
            .iter()
            .map(|(fork, files)| {
                let prompt = format!("Do it the {fork} way");
                let mut f = Fork::pending(name, fork.to_string(), &root, prompt, "build".into());
                let wt = f.worktree.to_string_lossy().to_string();
                git(
                    &self.main,
                    &["worktree", "add", "-q", "-b", &f.branch, &wt, &base],
                );
                write(&f.worktree, files);
                if !files.is_empty() {
                    git(&f.worktree, &["add", "-A"]);
                    git(&f.worktree, &["commit", "-q", "--no-verify", "-m", "work"]);
                }
                f.state = ForkState::Done;
                f.end = Some(EndReason::Done);
                f.session = Some(format!("ses_{fork}"));
                f.commit = Some(git(&f.worktree, &["rev-parse", "HEAD"]));
                f
            })
            .collect();
        let run = Run {
            state: RunState::Done,
            forks,
            dispatched: true,
            ..Run::new(name.to_string(), self.main.clone(), base.clone(), base)
        };
        self.store.create(&run).expect("run recorded");
        run
    }

    /// Changes what the run records, as the driver would.
    pub fn update(&self, run: &str, f: impl FnOnce(&mut Run)) {
        self.store.update(run, || None, f).expect("run updated");
    }

    /// A run `name` still running, driven by this process (alive, so no one reads it as
    /// interrupted), with its one fork `fork` running after it committed `b.txt`.
    pub fn running(&self, name: &str, fork: &str) {
        self.finished_run(name, &[(fork, &[("b.txt", "b\n")])]);
        let pid = std::process::id();
        self.update(name, |run| {
            run.state = RunState::Running;
            run.pid = Some(pid);
            run.pid_start = crate::procfs::start_time(pid);
            if let Some(f) = run.fork_mut(fork) {
                f.state = ForkState::Running;
                f.end = None;
            }
        });
    }
}
