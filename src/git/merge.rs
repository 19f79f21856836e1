//! Bringing a fork's commit into the main tree: a conflict check that touches nothing
//! (`git merge-tree --write-tree`), what the merge would write and which of those paths hold
//! the user's uncommitted work, and the update itself, done with git plumbing that refuses to
//! overwrite anything it was not told about.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use super::forktree::{GitAt, git_at};
use super::{GitError, Repo, Result, stdout_line};

/// A commit [`Repo::commit_on_head`] makes.
pub struct HeadCommit<'a> {
    pub tree: &'a str,
    /// The commit HEAD points at now, the first parent.
    pub head: &'a str,
    /// The second parent of a merge commit.
    pub merged: Option<&'a str>,
    pub message: &'a str,
    /// Skip the pre-commit and commit-msg hooks.
    pub no_verify: bool,
    /// What the reflog says did it.
    pub reflog: &'a str,
}

/// The result of merging two commits in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeTree {
    /// The merge is clean; the tree it produces.
    Clean(String),
    /// Paths git could not merge by itself.
    Conflicts(Vec<String>),
}

/// Runs git in `dir` and returns its output whatever its exit status (for commands whose
/// exit code carries an answer, like `merge-tree`).
fn git_any<I, S>(dir: &Path, args: I) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = super::command(dir);
    cmd.args(args);
    super::run(cmd, None)
}

fn raw_fields(raw: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    raw.split(|b| *b == 0).filter(|f| !f.is_empty())
}

fn nul_fields(raw: &[u8]) -> impl Iterator<Item = String> + '_ {
    raw_fields(raw).map(|f| String::from_utf8_lossy(f).to_string())
}

fn path_of(raw: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(raw))
}

impl Repo {
    /// Merges `theirs` into `ours` as if both started from `base`, without touching the
    /// working tree, the index or any ref.
    pub fn merge_tree(&self, base: &str, ours: &str, theirs: &str) -> Result<MergeTree> {
        super::version::require_merge_tree()?;
        let args = [
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            "-z",
            "--merge-base",
            base,
            ours,
            theirs,
        ];
        let out = git_any(&self.workdir, args)?;
        let mut fields = nul_fields(&out.stdout);
        let tree = fields.next().unwrap_or_default();
        match out.status.code() {
            Some(0) if !tree.is_empty() => Ok(MergeTree::Clean(tree)),
            Some(1) => {
                let mut paths: Vec<String> = fields.collect();
                paths.dedup();
                Ok(MergeTree::Conflicts(paths))
            }
            _ => Err(GitError::Failed {
                args: args.join(" "),
                dir: self.workdir.clone(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            }),
        }
    }

    /// True when `ours` already has every change `theirs` made since `base`: merging it would
    /// leave the tree of `ours` as it is. `merge` then has nothing to merge and `clean` deletes
    /// the branch; one test for both.
    pub fn has_every_change(&self, base: &str, ours: &str, theirs: &str) -> Result<bool> {
        match self.merge_tree(base, ours, theirs)? {
            MergeTree::Clean(tree) => Ok(tree == self.tree_of(ours)?),
            MergeTree::Conflicts(_) => Ok(false),
        }
    }

    /// The tree a commit points at.
    pub fn tree_of(&self, commit: &str) -> Result<String> {
        self.git(["rev-parse", "--verify", &format!("{commit}^{{tree}}")])
            .map(|o| stdout_line(&o))
    }

    /// Paths that differ between two trees (or commits), renames seen as a delete and an add;
    /// git's bytes, not always UTF-8.
    pub fn changed_paths(&self, from: &str, to: &str) -> Result<Vec<PathBuf>> {
        let out = self.git([
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            "--name-only",
            from,
            to,
        ])?;
        Ok(raw_fields(&out.stdout).map(path_of).collect())
    }

    /// Paths in the working tree or index that differ from HEAD, untracked files included
    /// (ignored ones are not); git's bytes, not always UTF-8.
    pub fn dirty_paths(&self) -> Result<Vec<PathBuf>> {
        dirty_raw(&self.workdir).map(|d| d.into_iter().map(|p| path_of(&p)).collect())
    }

    /// For each path, whether it is tracked in `commit` (one git process for all).
    pub fn tracked_in(&self, commit: &str, paths: &[&Path]) -> Result<Vec<bool>> {
        let names: Vec<Vec<u8>> = paths
            .iter()
            .map(|p| [format!("{commit}:").as_bytes(), p.as_os_str().as_bytes()].concat())
            .collect();
        super::objects_exist(&self.workdir, &names)
    }

    /// A merge, rebase, cherry-pick or revert the user has not finished, if any.
    pub fn operation_in_progress(&self) -> Result<Option<&'static str>> {
        let checks = [
            ("MERGE_HEAD", "a merge"),
            ("CHERRY_PICK_HEAD", "a cherry-pick"),
            ("REVERT_HEAD", "a revert"),
            ("rebase-merge", "a rebase"),
            ("rebase-apply", "a rebase or `git am`"),
        ];
        let mut args = vec!["rev-parse", "--path-format=absolute"];
        for (name, _) in checks {
            args.extend(["--git-path", name]);
        }
        let out = self.git(args)?;
        let paths = String::from_utf8_lossy(&out.stdout).into_owned();
        // One path a line, in the order asked.
        for ((_, what), path) in checks.iter().zip(paths.lines()) {
            if Path::new(path).exists() {
                return Ok(Some(*what));
            }
        }
        let unmerged = self.git(["ls-files", "-u", "-z"])?;
        if !unmerged.stdout.is_empty() {
            return Ok(Some("a merge (the index has unmerged paths)"));
        }
        Ok(None)
    }

    /// The branch HEAD is on (`main`), or None on a detached HEAD.
    pub fn current_branch(&self) -> Option<String> {
        self.git(["symbolic-ref", "--quiet", "--short", "HEAD"])
            .ok()
            .map(|o| stdout_line(&o))
    }

    /// Commits `tree` on top of HEAD (`head`, plus `merged` as a second parent) with the
    /// real `git commit`, so the user's hooks, signing and identity apply as they would to
    /// their own commit (`no_verify` skips the hooks as `git commit --no-verify` does), then
    /// brings the index and working tree along the way `git checkout` does: only paths that
    /// differ between the two commits are written, unrelated local changes, staged or not,
    /// stay. On failure HEAD, the index and the working tree are as they were, and the
    /// error is git's own words (the hook's output, gpg's message).
    pub fn commit_on_head(&self, c: &HeadCommit) -> Result<String> {
        let index = tempfile::NamedTempFile::new().map_err(GitError::Scratch)?;
        let env = [("GIT_INDEX_FILE", index.path().as_os_str())];
        super::git_env(&self.workdir, ["read-tree", c.tree], &env)?;
        let merge_head = match c.merged {
            Some(theirs) => {
                let path = self.git([
                    "rev-parse",
                    "--path-format=absolute",
                    "--git-path",
                    "MERGE_HEAD",
                ])?;
                let path = std::path::PathBuf::from(stdout_line(&path));
                std::fs::write(&path, format!("{theirs}\n")).map_err(|error| GitError::Io {
                    what: "write",
                    path: path.clone(),
                    error,
                })?;
                Some(path)
            }
            None => None,
        };
        let mut cmd = super::command(&self.workdir);
        cmd.env("GIT_INDEX_FILE", index.path())
            .env("GIT_REFLOG_ACTION", c.reflog)
            .env("GIT_EDITOR", ":")
            .args(["commit", "--quiet", "--cleanup=whitespace", "-F", "-"]);
        if c.no_verify {
            cmd.arg("--no-verify");
        }
        let out = super::run(cmd, Some(c.message.as_bytes()));
        if let Some(path) = &merge_head {
            // git removes it after a commit; after a failure it is ours to remove.
            let _ = std::fs::remove_file(path);
        }
        let out = out?;
        if !out.status.success() {
            // git refuses to move a HEAD that moved since it read it, in words about locks.
            if let Ok(now) = self.head()
                && now != c.head
            {
                return Err(GitError::HeadMoved { now });
            }
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(GitError::CommitRefused { stderr });
        }
        let new = self.head()?;
        let parent = self.resolve_commit(&format!("{new}^1"))?;
        if parent != c.head {
            // HEAD moved between the checks and the commit: leave it where it was moved to.
            let _ = self.git(["update-ref", "HEAD", &parent, &new]);
            return Err(GitError::HeadMoved { now: parent });
        }
        // Stale stat data would make git see changes where there are none.
        let _ = self.git(["update-index", "-q", "--refresh"]);
        if let Err(e) = self.git(["read-tree", "-m", "-u", c.head, &new]) {
            let _ = self.git(["update-ref", "HEAD", c.head, &new]);
            return Err(e);
        }
        Ok(new)
    }

    /// True when the repository has a hook `git commit --no-verify` skips (`pre-commit`,
    /// `commit-msg`), wherever `core.hooksPath` puts them.
    pub fn has_commit_hooks(&self) -> bool {
        use std::os::unix::fs::PermissionsExt;
        ["hooks/pre-commit", "hooks/commit-msg"].iter().any(|hook| {
            self.git(["rev-parse", "--path-format=absolute", "--git-path", hook])
                .ok()
                .map(|o| std::path::PathBuf::from(stdout_line(&o)))
                .and_then(|p| p.metadata().ok())
                .is_some_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    }

    /// True when `ancestor` is reachable from `descendant`.
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        self.git(["merge-base", "--is-ancestor", ancestor, descendant])
            .is_ok()
    }

    /// True when `commit` is reachable from HEAD or from a local branch outside `refs/heads/ocfork/`.
    pub fn reachable_outside_ocfork(&self, commit: &str) -> Result<bool> {
        if self.is_ancestor(commit, "HEAD") {
            return Ok(true);
        }
        let out = self.git([
            "for-each-ref",
            "--format=%(refname)",
            "--contains",
            commit,
            "refs/heads/",
        ])?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|r| !r.starts_with("refs/heads/ocfork/")))
    }

    /// The commit a branch points at, or None when there is no such branch.
    pub fn branch_tip(&self, branch: &str) -> Option<String> {
        self.git([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}^{{commit}}"),
        ])
        .ok()
        .map(|o| stdout_line(&o))
    }

    /// The commits several branches point at, read with one git process; branches that do
    /// not exist are left out.
    pub fn branch_tips(&self, branches: &[&str]) -> Result<HashMap<String, String>> {
        if branches.is_empty() {
            return Ok(HashMap::new());
        }
        let wanted: HashSet<String> = branches.iter().map(|b| format!("refs/heads/{b}")).collect();
        let mut args = vec![
            "for-each-ref".to_string(),
            "--format=%(objectname) %(refname)".to_string(),
        ];
        args.extend(wanted.iter().cloned());
        let out = self.git(&args)?;
        // A pattern also matches the refs below it (`a` matches `a/b`): keep exact names.
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, name)| wanted.contains(*name))
            .map(|(id, name)| (name["refs/heads/".len()..].to_string(), id.to_string()))
            .collect())
    }
}

/// Paths in the working tree at `dir` or its index that differ from HEAD, untracked files
/// included (ignored ones are not); both sides of a rename. Shown as text: a name that is not
/// UTF-8 has U+FFFD for the bytes that are not.
pub fn dirty_paths<W: GitAt + ?Sized>(dir: &W) -> Result<Vec<String>> {
    Ok(dirty_raw(dir)?
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// [`dirty_paths`] as git's bytes.
fn dirty_raw<W: GitAt + ?Sized>(dir: &W) -> Result<Vec<Vec<u8>>> {
    let mut paths = Vec::new();
    for (_, path, source) in status_entries(dir, &[])? {
        paths.push(path);
        paths.extend(source);
    }
    Ok(paths)
}

/// One path of `git status`: its two status letters, its path, and a rename's or copy's source.
pub(super) type StatusEntry = ([u8; 2], Vec<u8>, Option<Vec<u8>>);

/// `git status --porcelain=v1 -z --untracked-files=all` (plus `extra` options), one entry
/// per changed path.
pub(super) fn status_entries<W: GitAt + ?Sized>(
    dir: &W,
    extra: &[&str],
) -> Result<Vec<StatusEntry>> {
    let mut args = vec!["status", "--porcelain=v1", "-z", "--untracked-files=all"];
    args.extend(extra);
    let out = git_at(dir, args, &[])?;
    let mut entries = Vec::new();
    let mut fields = out.stdout.split(|b| *b == 0);
    while let Some(entry) = fields.next() {
        if entry.len() < 4 {
            continue;
        }
        let (xy, path) = entry.split_at(3);
        // A rename or copy carries its source as the next field.
        let source = if xy[0] == b'R' || xy[0] == b'C' {
            fields.next().map(<[u8]>::to_vec)
        } else {
            None
        };
        entries.push(([xy[0], xy[1]], path.to_vec(), source));
    }
    Ok(entries)
}
