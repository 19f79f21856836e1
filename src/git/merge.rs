//! Bringing a fork's commit into the main tree: a conflict check that touches nothing
//! (`git merge-tree --write-tree`), what the merge would write and which of those paths hold
//! the user's uncommitted work, and the update itself, done with git plumbing that refuses to
//! overwrite anything it was not told about.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use super::{GitError, Repo, Result, git, stdout_line};

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

fn nul_fields(raw: &[u8]) -> impl Iterator<Item = String> + '_ {
    raw.split(|b| *b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| String::from_utf8_lossy(f).to_string())
}

impl Repo {
    /// Merges `theirs` into `ours` as if both started from `base`, without touching the
    /// working tree, the index or any ref.
    pub fn merge_tree(&self, base: &str, ours: &str, theirs: &str) -> Result<MergeTree> {
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

    /// Paths that differ between two trees (or commits), renames seen as a delete and an add.
    pub fn changed_paths(&self, from: &str, to: &str) -> Result<Vec<String>> {
        let out = self.git([
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            "--name-only",
            from,
            to,
        ])?;
        Ok(nul_fields(&out.stdout).collect())
    }

    /// Paths in the working tree or index that differ from HEAD, untracked files included
    /// (ignored ones are not).
    pub fn dirty_paths(&self) -> Result<Vec<String>> {
        dirty_paths(&self.workdir)
    }

    /// True when `path` is tracked in `commit`.
    pub fn tracked_in(&self, commit: &str, path: &str) -> bool {
        self.git(["cat-file", "-e", &format!("{commit}:{path}")])
            .is_ok()
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
        for (name, what) in checks {
            let path = self.git(["rev-parse", "--path-format=absolute", "--git-path", name])?;
            if Path::new(&stdout_line(&path)).exists() {
                return Ok(Some(what));
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

    /// Makes a commit of `tree` with the given parents; author and committer come from git's
    /// configuration and environment as for `git commit`.
    pub fn commit_tree(&self, tree: &str, parents: &[&str], message: &str) -> Result<String> {
        let mut args: Vec<&str> = vec!["commit-tree", tree];
        for p in parents {
            args.extend(["-p", p]);
        }
        args.extend(["-m", message]);
        self.git(args).map(|o| stdout_line(&o))
    }

    /// Moves HEAD (and the branch it is on) from `old` to `new`, updating the index and the
    /// working tree the way `git checkout` does: only paths that differ between the two
    /// commits are written, and git refuses, changing nothing, when one of them holds local
    /// changes or an untracked file. Unrelated local changes, staged or not, stay as they are.
    pub fn advance_head(&self, old: &str, new: &str, reflog: &str) -> Result<()> {
        // Stale stat data would make git see changes where there are none.
        let _ = self.git(["update-index", "-q", "--refresh"]);
        self.git(["read-tree", "-m", "-u", old, new])?;
        if let Err(e) = self.git(["update-ref", "-m", reflog, "HEAD", new, old]) {
            // HEAD moved under us: put the tree back where HEAD still points.
            let _ = self.git(["read-tree", "-m", "-u", new, old]);
            return Err(e);
        }
        Ok(())
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
/// included (ignored ones are not); both sides of a rename.
pub fn dirty_paths(dir: &Path) -> Result<Vec<String>> {
    let out = git(
        dir,
        ["status", "--porcelain=v1", "-z", "--untracked-files=all"],
    )?;
    let mut paths = Vec::new();
    let mut fields = out.stdout.split(|b| *b == 0);
    while let Some(entry) = fields.next() {
        if entry.len() < 4 {
            continue;
        }
        let (xy, path) = entry.split_at(3);
        paths.push(String::from_utf8_lossy(path).to_string());
        // A rename or copy carries its source as the next field.
        if (xy[0] == b'R' || xy[0] == b'C')
            && let Some(src) = fields.next()
        {
            paths.push(String::from_utf8_lossy(src).to_string());
        }
    }
    Ok(paths)
}
