//! The git layer: finding the repository, snapshotting uncommitted work, fork worktrees and
//! branches, committing a fork's work and measuring what it changed. Reads that git protects
//! nothing by go through the git CLI too, so results match what users see from `git`.

mod commit;
mod merge;
mod show;
mod version;
mod worktree;

use commit::bookkeeping_identity;
pub use commit::uncommitted_work;
pub use merge::{HeadCommit, MergeTree, dirty_paths};
pub use show::{DiffView, show_diff};
pub use worktree::{nested_repo_problem, nested_repos, snapshot_worktree, worktree_branch};
pub mod include;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("not inside a git repository ({0})")]
    NotARepo(PathBuf),
    #[error("{0} is a bare repository; ocfork needs a working tree")]
    Bare(PathBuf),
    #[error("the current branch has no commits yet; commit something before forking")]
    UnbornHead,
    #[error("`{rev}` is not a commit in this repository")]
    BadRevision { rev: String },
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("`git {args}` failed in {dir}: {stderr}")]
    Failed {
        args: String,
        dir: PathBuf,
        stderr: String,
    },
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, GitError>;

/// Runs git in `dir` and returns its output when it exits 0.
pub fn git<I, S>(dir: &Path, args: I) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    git_env(dir, args, &[])
}

/// Like [`git`], with extra environment variables.
pub fn git_env<I, S>(dir: &Path, args: I, env: &[(&str, &OsStr)]) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_checked(dir, args, env)
}

/// Runs git in `dir` with extra environment; its output when it exits 0.
fn run_checked<I, S>(dir: &Path, args: I, env: &[(&str, &OsStr)]) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let mut cmd = command(dir);
    cmd.args(&args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    checked(run(cmd, None)?, &args, dir)
}

/// `git` in `dir` as every call of ocfork's makes it: no prompts, no optional locks (reads
/// such as `git status` must not rewrite the user's index behind their back), and none of the
/// caller's `GIT_DIR`, `GIT_WORK_TREE` or `GIT_INDEX_FILE`.
pub(crate) fn command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    cmd
}

/// Runs a git command to its end, feeding `input` on stdin; its output whatever its status.
pub(crate) fn run(mut cmd: Command, input: Option<&[u8]>) -> Result<Output> {
    let Some(input) = input else {
        return cmd.output().map_err(GitError::Spawn);
    };
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(GitError::Spawn)?;
    // Written from a thread: git answers while it reads, and both pipes must keep moving.
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        std::thread::spawn(move || stdin.write_all(&input))
    });
    let out = child.wait_with_output().map_err(GitError::Spawn)?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    Ok(out)
}

/// The output of a git command that exited 0, else its failure with the command and stderr.
fn checked(out: Output, args: &[std::ffi::OsString], dir: &Path) -> Result<Output> {
    if out.status.success() {
        return Ok(out);
    }
    Err(GitError::Failed {
        args: args
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        dir: dir.to_path_buf(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

fn stdout_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository as seen from the working tree the user is in.
#[derive(Clone, Debug)]
pub struct Repo {
    /// Top of the working tree ocfork was started in.
    pub workdir: PathBuf,
    /// The common git dir shared by all worktrees (holds refs and `ocfork/`).
    pub common_dir: PathBuf,
}

impl Repo {
    /// Finds the repository containing `cwd`; refuses bare repositories.
    pub fn discover(cwd: &Path) -> Result<Repo> {
        // The common case in one git process; a failure (not a repository, a bare one, or
        // inside `.git`) is told apart by the two-step path below.
        if let Ok(out) = git(
            cwd,
            [
                "rev-parse",
                "--path-format=absolute",
                "--is-bare-repository",
                "--git-common-dir",
                "--show-toplevel",
            ],
        ) {
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            if let [bare, common, top] = text.lines().collect::<Vec<_>>()[..]
                && bare == "false"
                && !top.is_empty()
            {
                return Ok(Repo {
                    workdir: PathBuf::from(top),
                    common_dir: PathBuf::from(common),
                });
            }
        }
        let out = git(
            cwd,
            [
                "rev-parse",
                "--path-format=absolute",
                "--is-bare-repository",
                "--git-common-dir",
            ],
        )
        .map_err(|e| match e {
            GitError::Failed { .. } => GitError::NotARepo(cwd.to_path_buf()),
            other => other,
        })?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        let bare = lines.next() == Some("true");
        let common_dir = PathBuf::from(lines.next().unwrap_or_default());
        if bare {
            return Err(GitError::Bare(common_dir));
        }
        let top = git(cwd, ["rev-parse", "--show-toplevel"])
            .map_err(|_| GitError::Bare(common_dir.clone()))?;
        let workdir = PathBuf::from(stdout_line(&top));
        if workdir.as_os_str().is_empty() {
            return Err(GitError::Bare(common_dir));
        }
        Ok(Repo {
            workdir,
            common_dir,
        })
    }

    /// Runs git at the top of the working tree.
    pub fn git<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        git(&self.workdir, args)
    }

    /// The full id of the commit `rev` names.
    pub fn resolve_commit(&self, rev: &str) -> Result<String> {
        if rev.starts_with('-') {
            return Err(GitError::BadRevision {
                rev: rev.to_string(),
            });
        }
        self.git([
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ])
        .map(|o| stdout_line(&o))
        .map_err(|_| GitError::BadRevision {
            rev: rev.to_string(),
        })
    }

    /// The commit HEAD points at; an error on an unborn branch.
    pub fn head(&self) -> Result<String> {
        self.git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
            .map(|o| stdout_line(&o))
            .map_err(|_| GitError::UnbornHead)
    }

    /// A commit on top of `base` holding the working tree as it is now (tracked changes,
    /// staged or not, and untracked files git does not ignore), or None when the tree is
    /// clean. Neither the index nor the working tree is touched: git works on a copy of the
    /// index.
    pub fn snapshot_dirty(&self, base: &str) -> Result<Option<String>> {
        let status = self.git(["status", "--porcelain", "-z", "--untracked-files=all"])?;
        if status.stdout.is_empty() {
            return Ok(None);
        }
        let index = tempfile::NamedTempFile::new().map_err(|e| GitError::Other(e.to_string()))?;
        let real_index =
            self.git(["rev-parse", "--path-format=absolute", "--git-path", "index"])?;
        let real_index = PathBuf::from(stdout_line(&real_index));
        if real_index.exists() {
            std::fs::copy(&real_index, index.path()).map_err(|e| {
                GitError::Other(format!("cannot copy index {}: {e}", real_index.display()))
            })?;
        }
        let env = [("GIT_INDEX_FILE", index.path().as_os_str())];
        git_env(&self.workdir, ["add", "-A", "--", "."], &env)?;
        let tree = stdout_line(&git_env(&self.workdir, ["write-tree"], &env)?);
        let head = self.head()?;
        // The dirty tree is relative to HEAD; carry the same change onto the base.
        let tree = if head == base {
            tree
        } else {
            version::require_merge_tree()?;
            let out = self.git([
                "merge-tree",
                "--write-tree",
                "--merge-base",
                &head,
                base,
                &tree,
            ]);
            match out {
                Ok(o) => stdout_line(&o)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                Err(_) => {
                    return Err(GitError::Other(format!(
                        "the uncommitted changes do not apply cleanly to the base {}",
                        &base[..base.len().min(12)]
                    )));
                }
            }
        };
        let mut args = bookkeeping_identity(&self.workdir);
        args.push("commit-tree");
        let commit = self.git(args.into_iter().chain([
            tree.as_str(),
            "-p",
            base,
            "-m",
            "ocfork: uncommitted changes carried from the main working tree",
        ]))?;
        Ok(Some(stdout_line(&commit)))
    }

    /// True when `refs/heads/<branch>` exists.
    pub fn branch_exists(&self, branch: &str) -> bool {
        self.git([
            "show-ref",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ])
        .is_ok()
    }

    /// Creates `branch` at `start` and a linked worktree for it at `path`, with the base's
    /// submodules checked out. When `branch` exists already (a resumed run whose worktree went
    /// away) the worktree is made for it instead. On failure nothing stays registered: no new
    /// branch, no worktree entry.
    pub fn add_worktree(&self, path: &Path, branch: &str, start: &str) -> Result<()> {
        let made = self.register_worktree(path, branch, start)?;
        self.populate_worktree(path, branch, made)
    }

    /// The first half of [`Repo::add_worktree`]: creates `branch` at `start` (or takes it as
    /// it is) and registers a worktree for it at `path` without writing its files
    /// (`git worktree add --no-checkout`). Cheap, but it changes the shared worktree list, so
    /// callers register one at a time: concurrent `git worktree add` runs were seen failing
    /// on each other's half-made entries. On failure nothing stays registered.
    pub fn register_worktree(&self, path: &Path, branch: &str, start: &str) -> Result<NewWorktree> {
        if let Some(parent) = path.parent() {
            crate::private_fs::create_dir_all(parent)
                .map_err(|e| GitError::Other(format!("cannot create {}: {e}", parent.display())))?;
        }
        let made = NewWorktree {
            branch_existed: self.branch_exists(branch),
            path_existed: path.symlink_metadata().is_ok(),
        };
        let mut args = vec![
            OsStr::new("worktree"),
            OsStr::new("add"),
            OsStr::new("--quiet"),
            OsStr::new("--no-checkout"),
        ];
        if made.branch_existed {
            args.extend([path.as_os_str(), OsStr::new(branch)]);
        } else {
            args.extend([
                OsStr::new("-b"),
                OsStr::new(branch),
                path.as_os_str(),
                OsStr::new(start),
            ]);
        }
        let res = self.git(&args);
        if res.is_err() {
            self.undo_worktree(path, branch, made);
        }
        res.map(|_| made)
    }

    /// The second half of [`Repo::add_worktree`]: writes the files, index and submodules of a
    /// worktree [`Repo::register_worktree`] made. Only that worktree changes, so several can be
    /// populated at once. On failure the worktree (and a branch made for it) is removed again,
    /// so no half-written tree is taken for a ready one.
    pub fn populate_worktree(&self, path: &Path, branch: &str, made: NewWorktree) -> Result<()> {
        let res = git(
            path,
            ["reset", "--hard", "--quiet", "--no-recurse-submodules"],
        )
        .and_then(|_| init_submodules(path));
        if res.is_err() {
            self.undo_worktree(path, branch, made);
        }
        res.map(|_| ())
    }

    /// Best-effort removal of what a failed [`Repo::add_worktree`] left, under the repository
    /// lock like every other change to refs and the worktree list.
    fn undo_worktree(&self, path: &Path, branch: &str, made: NewWorktree) {
        let locked = with_repo_lock(&self.common_dir, || {
            self.undo_worktree_locked(path, branch, made);
            Ok(())
        });
        if locked.is_err() {
            // No lock to be had (an unwritable git dir): what was made must go all the same.
            self.undo_worktree_locked(path, branch, made);
        }
    }

    fn undo_worktree_locked(&self, path: &Path, branch: &str, made: NewWorktree) {
        let _ = self.git([
            OsStr::new("worktree"),
            OsStr::new("remove"),
            OsStr::new("--force"),
            path.as_os_str(),
        ]);
        if !made.path_existed {
            // A half-written checkout git left behind; never anything that was there before.
            let _ = std::fs::remove_dir_all(path);
        }
        if self.worktree_registered(path) {
            // Only then: a global prune would also drop the user's own entries for
            // worktrees that are merely absent (an unmounted disk).
            let _ = self.git(["worktree", "prune"]);
        }
        if !made.branch_existed && self.branch_exists(branch) {
            let _ = self.git(["branch", "-D", "--", branch]);
        }
    }

    /// True when `git worktree list` has an entry for `path`.
    fn worktree_registered(&self, path: &Path) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let Ok(out) = self.git(["worktree", "list", "--porcelain", "-z"]) else {
            return false;
        };
        let want = [b"worktree ".as_slice(), path.as_os_str().as_bytes()].concat();
        out.stdout
            .split(|b| *b == 0)
            .any(|field| field == want.as_slice())
    }

    /// `git diff --numstat` between two commits, one entry per file.
    pub fn numstat(&self, from: &str, to: &str) -> Result<Vec<FileStat>> {
        numstat(&self.workdir, from, to)
    }
}

/// What [`Repo::register_worktree`] found before it ran, so that undoing a failed worktree
/// removes only what ocfork made.
#[derive(Clone, Copy, Debug)]
pub struct NewWorktree {
    branch_existed: bool,
    path_existed: bool,
}

/// `git worktree add` leaves submodules empty; a fork needs them as the main tree has them.
fn init_submodules(worktree: &Path) -> Result<()> {
    if !worktree.join(".gitmodules").exists() {
        return Ok(());
    }
    git(
        worktree,
        ["submodule", "update", "--init", "--recursive", "--quiet"],
    )
    .map(|_| ())
}

/// Changes of one file between two commits, as `git diff --numstat` counts them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStat {
    pub path: String,
    /// None for binary files.
    pub insertions: Option<u64>,
    pub deletions: Option<u64>,
}

/// Totals of a list of file changes: (files, insertions, deletions).
pub fn totals(stats: &[FileStat]) -> (u64, u64, u64) {
    stats.iter().fold((0, 0, 0), |(f, i, d), s| {
        (
            f + 1,
            i + s.insertions.unwrap_or(0),
            d + s.deletions.unwrap_or(0),
        )
    })
}

/// `git diff --numstat -z from to`, parsed.
pub fn numstat(dir: &Path, from: &str, to: &str) -> Result<Vec<FileStat>> {
    let out = git(dir, ["diff", "--numstat", "-z", "-M", from, to, "--"])?;
    Ok(parse_numstat_z(&out.stdout))
}

/// Parses the output of `git diff --numstat -z`.
pub fn parse_numstat_z(raw: &[u8]) -> Vec<FileStat> {
    let mut out = Vec::new();
    let mut fields = raw.split(|b| *b == 0).peekable();
    while let Some(head) = fields.next() {
        if head.is_empty() {
            continue;
        }
        let head = String::from_utf8_lossy(head);
        let mut parts = head.splitn(3, '\t');
        let ins = parts.next().and_then(|s| s.parse().ok());
        let del = parts.next().and_then(|s| s.parse().ok());
        let path = parts.next().unwrap_or_default();
        let path = if path.is_empty() {
            // A rename: the old and new paths follow as their own fields.
            let _old = fields.next();
            fields
                .next()
                .map(|p| String::from_utf8_lossy(p).to_string())
                .unwrap_or_default()
        } else {
            path.to_string()
        };
        out.push(FileStat {
            path,
            insertions: ins,
            deletions: del,
        });
    }
    out
}

/// Commits everything in a fork's worktree (new, changed and deleted files) to its branch.
/// Returns the new commit, or None when there was nothing to commit.
pub fn commit_all(worktree: &Path, message: &str) -> Result<Option<String>> {
    if let Err(e) = git(worktree, ["add", "-A", "--", "."]) {
        return Err(worktree::empty_nested_repo(worktree).unwrap_or(e));
    }
    // Ignored files copied in for the fork (.worktreeinclude, --copy) stay out even when the
    // agent changed .gitignore so that git would take them.
    let list = copied_list(worktree)?;
    if list.exists() {
        let from = format!("--pathspec-from-file={}", list.display());
        git(worktree, ["reset", "-q", &from, "--pathspec-file-nul"])?;
    }
    let staged = git(worktree, ["diff", "--cached", "--quiet"]);
    if staged.is_ok() {
        return Ok(None);
    }
    // ocfork's own bookkeeping: the user's signing and hooks (which `--no-verify` only
    // partly skips) must not stop it, and the message goes on stdin so that an error names
    // git's reason rather than the whole command line.
    let mut cmd = command(worktree);
    cmd.args(bookkeeping_identity(worktree)).args([
        "-c",
        "commit.gpgsign=false",
        "-c",
        "core.hooksPath=/dev/null",
        "commit",
        "--quiet",
        "--no-verify",
        "--cleanup=whitespace",
        "-F",
        "-",
    ]);
    let out = run(cmd, Some(message.as_bytes()))?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: "commit".into(),
            dir: worktree.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(Some(stdout_line(&git(worktree, ["rev-parse", "HEAD"])?)))
}

/// What [`hide_secret`] puts where the secret was.
pub const SECRET_MARK: &str = "[server password removed by ocfork]";

/// Replaces `secret` (the OpenCode server's password, which agents' shell commands may see)
/// in the worktree's new and changed files, so [`commit_all`] never commits it. Returns the
/// files changed.
pub fn hide_secret(worktree: &Path, secret: &str) -> Result<Vec<PathBuf>> {
    if secret.len() < 8 {
        return Ok(Vec::new());
    }
    let out = git(
        worktree,
        [
            "ls-files",
            "-z",
            "--modified",
            "--others",
            "--exclude-standard",
        ],
    )?;
    let mut changed = Vec::new();
    for rel in out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        use std::os::unix::ffi::OsStrExt;
        let path = worktree.join(OsStr::from_bytes(rel));
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let needle = secret.as_bytes();
        if !bytes.windows(needle.len()).any(|w| w == needle) {
            continue;
        }
        let mut clean = Vec::with_capacity(bytes.len());
        let mut rest = bytes.as_slice();
        while let Some(i) = rest.windows(needle.len()).position(|w| w == needle) {
            clean.extend_from_slice(&rest[..i]);
            clean.extend_from_slice(SECRET_MARK.as_bytes());
            rest = &rest[i + needle.len()..];
        }
        clean.extend_from_slice(rest);
        std::fs::write(&path, clean)
            .map_err(|e| GitError::Other(format!("cannot write {}: {e}", path.display())))?;
        changed.push(path);
    }
    Ok(changed)
}

/// The file in a worktree's private git dir listing the ignored files ocfork copied into it.
pub fn copied_list(worktree: &Path) -> Result<PathBuf> {
    let out = git(
        worktree,
        ["rev-parse", "--path-format=absolute", "--git-dir"],
    )?;
    Ok(PathBuf::from(stdout_line(&out)).join("ocfork-copied"))
}

/// The commit a worktree's HEAD points at.
pub fn worktree_head(worktree: &Path) -> Result<String> {
    Ok(stdout_line(&git(worktree, ["rev-parse", "HEAD"])?))
}

/// The default folder for a run's worktrees: `$OCFORK_WORKTREE_ROOT/<run>` or
/// `<repo-parent>/<repo-name>.ocfork/<run>`.
pub fn worktree_root(repo: &Repo, run: &str) -> PathBuf {
    if let Some(root) = std::env::var_os("OCFORK_WORKTREE_ROOT").filter(|r| !r.is_empty()) {
        let root = PathBuf::from(root);
        let root = if root.is_absolute() {
            root
        } else {
            repo.workdir.join(root)
        };
        return root.join(run);
    }
    let name = repo
        .workdir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "repo".into());
    let parent = repo.workdir.parent().unwrap_or(&repo.workdir);
    parent.join(format!("{name}.ocfork")).join(run)
}

/// Holds an exclusive lock on `<common dir>/ocfork/git.lock` while `f` runs, so ocfork
/// processes sharing a repository change its refs and worktree list one at a time. A thread
/// that holds it already (cleanup inside a locked change) just runs `f`.
pub fn with_repo_lock<T>(common_dir: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    thread_local! {
        static HELD: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if HELD.with(|h| h.borrow().iter().any(|p| p == common_dir)) {
        return f();
    }
    let dir = common_dir.join("ocfork");
    crate::private_fs::own_dir(&dir)
        .map_err(|e| GitError::Other(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join("git.lock");
    let file = crate::private_fs::lock_file(&path)
        .map_err(|e| GitError::Other(format!("cannot open {}: {e}", path.display())))?;
    let mut lock = fd_lock::RwLock::new(file);
    let _guard = lock
        .write()
        .map_err(|e| GitError::Other(format!("cannot lock {}: {e}", path.display())))?;
    HELD.with(|h| h.borrow_mut().push(common_dir.to_path_buf()));
    let res = f();
    HELD.with(|h| h.borrow_mut().retain(|p| p != common_dir));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cleanup of a worktree whose checkout failed waits for the repository lock that
    /// another ocfork holds, like every change to refs and the worktree list.
    #[test]
    fn a_failed_worktree_is_undone_under_the_repository_lock() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let main = tmp.path().join("main");
        std::fs::create_dir_all(&main).expect("mkdir");
        let run = |args: &[&str]| {
            let ok = Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .current_dir(&main)
                .output()
                .expect("git runs")
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        run(&["init", "-q", "-b", "main"]);
        std::fs::write(main.join("a.txt"), "a\n").expect("write");
        run(&["add", "-A"]);
        run(&["commit", "-q", "-m", "one"]);
        let repo = Repo::discover(&main).expect("repo");
        let path = tmp.path().join("wt");
        let made = repo
            .register_worktree(&path, "ocfork/r/a", "HEAD")
            .expect("registered");
        // The checkout fails: its index is locked.
        let gitdir = git(&path, ["rev-parse", "--absolute-git-dir"]).expect("git dir");
        std::fs::write(PathBuf::from(stdout_line(&gitdir)).join("index.lock"), "").expect("lock");

        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let common = repo.common_dir.clone();
        let probe = Repo::discover(&main).expect("repo");
        let holder = std::thread::spawn(move || {
            with_repo_lock(&common, || {
                held_tx.send(()).expect("send");
                std::thread::sleep(std::time::Duration::from_millis(1500));
                Ok(probe.branch_exists("ocfork/r/a"))
            })
        });
        held_rx.recv().expect("the other process holds the lock");
        assert!(repo.populate_worktree(&path, "ocfork/r/a", made).is_err());
        let kept_while_locked = holder.join().expect("holder").expect("lock");
        assert!(
            kept_while_locked,
            "the cleanup ran while another held the lock"
        );
        assert!(!repo.branch_exists("ocfork/r/a"));
        assert!(!repo.worktree_registered(&path));
    }

    #[test]
    fn parses_numstat() {
        let raw = b"3\t1\tsrc/a.rs\0-\t-\tlogo.png\x000\t0\t\0old.txt\0new.txt\0";
        let stats = parse_numstat_z(raw);
        assert_eq!(stats.len(), 3);
        assert_eq!(stats[0].insertions, Some(3));
        assert_eq!(stats[1].insertions, None);
        assert_eq!(stats[2].path, "new.txt");
    }
}
