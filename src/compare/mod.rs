//! Comparing forks: what each changed against the run's start commit (statuses and counts as
//! `git diff --numstat` gives them), and, for every two forks, which files they changed alike,
//! which differently, which only one touched, and how similar their changes are overall.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::git::{self, GitError, Repo};

mod tips;
pub use tips::{fork_tip, fork_tips, lost_start};

mod cache;
mod pairs;
mod patch;

pub use cache::forget;
pub use pairs::{overlaps, pair, pairs};

/// How a file changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Added,
    Modified,
    Deleted,
    Renamed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Modified => "modified",
            Status::Deleted => "deleted",
            Status::Renamed => "renamed",
        }
    }
}

/// One file a fork changed.
#[derive(Clone, Debug, Serialize)]
pub struct FileChange {
    pub path: String,
    pub status: Status,
    /// Lines added, as `git diff --numstat` counts them (0 for binary files).
    pub insertions: u64,
    pub deletions: u64,
    /// Set for binary files, which have no line counts.
    pub binary: bool,
    /// Where a renamed file came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// The bytes of `path` and `old_path` as git has them (`path` is for showing).
    #[serde(skip)]
    raw_path: Vec<u8>,
    #[serde(skip)]
    raw_old_path: Option<Vec<u8>>,
    #[serde(skip)]
    new_blob: Option<String>,
    #[serde(skip)]
    new_mode: String,
}

/// What a fork left at a path: `(mode, blob)`, or None when it deleted the file.
type Content = Option<(String, String)>;

/// What one fork changed.
#[derive(Clone, Debug)]
pub struct ForkChanges {
    pub name: String,
    /// The commit compared; None when the fork has none yet.
    pub commit: Option<String>,
    pub files: Vec<FileChange>,
    /// Every path the fork touched (a rename touches two), as git has its bytes, and what it
    /// holds there now.
    touched: BTreeMap<Vec<u8>, Content>,
    /// The changed lines, `path\t+line` / `path\t-line`, in path order.
    lines: Vec<String>,
    /// Paths whose work sits uncommitted in the fork's worktree (its commit failed): what
    /// the fork did is more than `files` shows. Set by the caller that looked.
    pub uncommitted: Vec<String>,
}

impl ForkChanges {
    pub fn totals(&self) -> (usize, u64, u64) {
        self.files.iter().fold((0, 0, 0), |(f, i, d), c| {
            (f + 1, i + c.insertions, d + c.deletions)
        })
    }
}

/// How two forks relate, file by file.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Pair {
    pub a: String,
    pub b: String,
    /// Files both changed to the same result.
    pub same: Vec<String>,
    /// Files both changed, to different results.
    pub differ: Vec<String>,
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    /// How alike the two sets of changed lines are: 1.0 for identical changes, 0.0 for
    /// nothing in common.
    pub similarity: f64,
}

/// A file several forks touched, with the forks grouped by the result they left there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlap {
    pub path: String,
    /// Each group holds forks that agree; one group means every fork agrees.
    pub groups: Vec<Vec<String>>,
}

/// One fork's changed files and its changed lines.
type Listed = (Vec<FileChange>, Vec<String>);

/// What each fork changed against `start`. `forks` pairs each fork's name with its commit.
pub fn changes(
    repo: &Repo,
    start: &str,
    forks: &[(String, Option<String>)],
) -> Result<Vec<ForkChanges>, GitError> {
    let (dir, common) = (repo.workdir.as_path(), repo.common_dir.as_path());
    // Each fork is one git process: run them side by side.
    let listed: Vec<Result<Listed, GitError>> = std::thread::scope(|scope| {
        let jobs: Vec<_> = forks
            .iter()
            .map(|(_, commit)| {
                scope.spawn(move || match commit {
                    Some(c) => fork_changes(dir, common, start, c),
                    None => Ok((Vec::new(), Vec::new())),
                })
            })
            .collect();
        jobs.into_iter()
            .map(|j| {
                j.join()
                    .unwrap_or_else(|_| Err(GitError::Lost("a diff thread panicked".into())))
            })
            .collect()
    });
    forks
        .iter()
        .zip(listed)
        .map(|((name, commit), listed)| {
            let (files, lines) = listed?;
            let mut touched = BTreeMap::new();
            for f in &files {
                let now = f.new_blob.clone().map(|b| (f.new_mode.clone(), b));
                touched.insert(f.raw_path.clone(), now);
                if let Some(old) = &f.raw_old_path {
                    touched.insert(old.clone(), None);
                }
            }
            Ok(ForkChanges {
                name: name.clone(),
                commit: commit.clone(),
                files,
                touched,
                lines,
                uncommitted: Vec::new(),
            })
        })
        .collect()
}

/// What a fork changed, in `git diff --numstat` terms, as `ocfork try` records it when the
/// fork ends; the comparison is kept for `ocfork diff` at the same time.
pub fn fork_stats(
    dir: &Path,
    common_dir: &Path,
    from: &str,
    to: &str,
) -> Result<Vec<git::FileStat>, GitError> {
    let (files, _) = fork_changes(dir, common_dir, from, to)?;
    Ok(files
        .into_iter()
        .map(|f| git::FileStat {
            insertions: (!f.binary).then_some(f.insertions),
            deletions: (!f.binary).then_some(f.deletions),
            path: f.path,
        })
        .collect())
}

/// Statuses, blobs and `--numstat` counts of every file that differs between two commits,
/// and the changed lines (`path\t+line` / `path\t-line`, in git's order); from the cache
/// when it has them.
fn fork_changes(dir: &Path, common_dir: &Path, from: &str, to: &str) -> Result<Listed, GitError> {
    let output = match cache::load(common_dir, from, to) {
        Some(kept) => kept,
        None => {
            let output = diff_output(dir, from, to)?;
            cache::store(common_dir, from, to, &output);
            output
        }
    };
    parse(dir, from, to, &output)
}

/// The one `git diff` a fork's comparison is read from: raw entries, then the patch.
fn diff_output(dir: &Path, from: &str, to: &str) -> Result<Vec<u8>, GitError> {
    // The options that would change the patch's shape (colour, external diff tools,
    // textconv, submodule logs) are set here so no configuration can.
    let out = git::git(
        dir,
        [
            "diff",
            "--raw",
            "--patch",
            "--unified=0",
            "-z",
            "-M",
            "--no-abbrev",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--submodule=short",
            from,
            to,
            "--",
        ],
    )?;
    Ok(out.stdout)
}

/// Reads [`diff_output`] into files and changed lines.
fn parse(dir: &Path, from: &str, to: &str, output: &[u8]) -> Result<Listed, GitError> {
    let (entries, patch) = patch::split(output);
    let hunks = match patch::assign(&entries, patch::hunks(patch)) {
        // Where the patch does not show what `--numstat` counts, the counts come from it:
        // a type change is patched as a deletion plus an addition, while `--numstat` diffs
        // the two blobs; a file whose content did not change (a pure rename, a mode change)
        // has no patch to tell a binary file by.
        Some(h) if needs_numstat(&entries) => {
            let counted = numstat_only(dir, from, to, &entries)?;
            h.into_iter()
                .zip(counted)
                .map(|(h, c)| patch::Hunks {
                    lines: h.lines,
                    ..c
                })
                .collect()
        }
        Some(h) => h,
        // A patch of a shape we did not foresee: take the counts from `--numstat` and leave
        // the lines out of the similarity rather than pin them on the wrong files.
        None => numstat_only(dir, from, to, &entries)?,
    };
    let mut files = Vec::with_capacity(entries.len());
    let mut lines = Vec::new();
    for (e, h) in entries.into_iter().zip(hunks) {
        let blob = |b: &str| (!b.bytes().all(|c| c == b'0')).then(|| b.to_string());
        let status = match e.letter {
            b'R' => Status::Renamed,
            b'A' | b'C' => Status::Added,
            b'D' => Status::Deleted,
            _ => Status::Modified,
        };
        let key = patch::distinct(&e.path);
        if h.binary {
            let now = blob(&e.new_blob).unwrap_or_else(|| "deleted".into());
            lines.push(format!("{key}\tbinary {now}"));
        }
        lines.extend(h.lines.iter().map(|l| format!("{key}\t{l}")));
        files.push(FileChange {
            insertions: h.insertions,
            deletions: h.deletions,
            binary: h.binary,
            new_blob: blob(&e.new_blob),
            new_mode: e.new_mode,
            status,
            old_path: e
                .from
                .as_deref()
                .filter(|_| status == Status::Renamed)
                .map(patch::shown),
            raw_old_path: e.from.filter(|_| status == Status::Renamed),
            path: patch::shown(&e.path),
            raw_path: e.path,
        });
    }
    Ok((files, lines))
}

/// True when some entry's counts cannot be read off the patch (see [`parse`]).
fn needs_numstat(entries: &[patch::Entry]) -> bool {
    entries
        .iter()
        .any(|e| e.letter == b'T' || e.old_blob == e.new_blob)
}

/// Counts for `entries` from `git diff --numstat`, without changed lines.
fn numstat_only(
    dir: &Path,
    from: &str,
    to: &str,
    entries: &[patch::Entry],
) -> Result<Vec<patch::Hunks>, GitError> {
    let counts: HashMap<String, git::FileStat> = git::numstat(dir, from, to)?
        .into_iter()
        .map(|s| (s.path.clone(), s))
        .collect();
    Ok(entries
        .iter()
        .map(|e| {
            let stat = counts.get(&patch::shown(&e.path));
            patch::Hunks {
                insertions: stat.and_then(|s| s.insertions).unwrap_or(0),
                deletions: stat.and_then(|s| s.deletions).unwrap_or(0),
                binary: stat.is_some_and(|s| s.insertions.is_none()),
                lines: Vec::new(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fork(name: &str, touched: &[(&str, Option<&str>)], lines: &[&str]) -> ForkChanges {
        ForkChanges {
            name: name.into(),
            commit: None,
            files: Vec::new(),
            touched: touched
                .iter()
                .map(|(p, b)| {
                    (
                        p.as_bytes().to_vec(),
                        b.map(|b| ("100644".into(), b.to_string())),
                    )
                })
                .collect(),
            lines: lines.iter().map(|l| l.to_string()).collect(),
            uncommitted: Vec::new(),
        }
    }

    #[test]
    fn classifies_pairs() {
        // Both change x alike and y differently and delete gone; each adds a file of its own.
        let side = |name: &str, y: &str, own: &str, y_line: &str| {
            let only = format!("only-{name}");
            let touched = [
                ("x", Some("1")),
                ("y", Some(y)),
                ("gone", None),
                (only.as_str(), Some(own)),
            ];
            fork(name, &touched, &["x\t+one", y_line])
        };
        let a = side("a", "2", "3", "y\t+two");
        let b = side("b", "9", "4", "y\t+nine");
        let p = pair(&a, &b);
        assert_eq!(p.same, ["gone", "x"]);
        assert_eq!(p.differ, ["y"]);
        assert_eq!(p.only_a, ["only-a"]);
        assert_eq!(p.only_b, ["only-b"]);
        assert_eq!(p.similarity, 0.5);
        assert_eq!(pair(&a, &a).similarity, 1.0);
    }

    #[test]
    fn groups_overlaps() {
        let a = fork("a", &[("x", Some("1"))], &[]);
        let b = fork("b", &[("x", Some("1")), ("y", Some("2"))], &[]);
        let c = fork("c", &[("x", Some("3"))], &[]);
        let o = overlaps(&[a, b, c]);
        assert_eq!(
            o,
            [Overlap {
                path: "x".into(),
                groups: vec![vec!["a".into(), "b".into()], vec!["c".into()]],
            }]
        );
    }
}
