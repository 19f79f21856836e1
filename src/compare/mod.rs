//! Comparing forks: what each changed against the run's start commit (statuses and counts as
//! `git diff --numstat` gives them), and, for every two forks, which files they changed alike,
//! which differently, which only one touched, and how similar their changes are overall.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::git::{self, GitError};

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
    #[serde(skip)]
    old_blob: Option<String>,
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
    /// Every path the fork touched (a rename touches two) and what it holds there now.
    touched: BTreeMap<String, Content>,
    /// The changed lines, `path\t+line` / `path\t-line`, in path order.
    lines: Vec<String>,
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

/// What each fork changed against `start`. `forks` pairs each fork's name with its commit.
pub fn changes(
    dir: &Path,
    start: &str,
    forks: &[(String, Option<String>)],
) -> Result<Vec<ForkChanges>, GitError> {
    // Each fork's file list is its own git process: run them side by side.
    let listed: Vec<Result<Vec<FileChange>, GitError>> = std::thread::scope(|scope| {
        let jobs: Vec<_> = forks
            .iter()
            .map(|(_, commit)| {
                scope.spawn(move || match commit {
                    Some(c) => file_changes(dir, start, c),
                    None => Ok(Vec::new()),
                })
            })
            .collect();
        jobs.into_iter()
            .map(|j| {
                j.join()
                    .unwrap_or_else(|_| Err(GitError::Other("a diff thread panicked".into())))
            })
            .collect()
    });
    let mut sided = Vec::new();
    for ((name, commit), files) in forks.iter().zip(listed) {
        let files = files?;
        let mut touched = BTreeMap::new();
        let mut sides: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
        for f in &files {
            let now = f.new_blob.clone().map(|b| (f.new_mode.clone(), b));
            touched.insert(f.path.clone(), now);
            match &f.old_path {
                Some(old) => {
                    touched.insert(old.clone(), None);
                    sides.insert(old.clone(), (f.old_blob.clone(), None));
                    sides.insert(f.path.clone(), (None, f.new_blob.clone()));
                }
                None => {
                    sides.insert(f.path.clone(), (f.old_blob.clone(), f.new_blob.clone()));
                }
            }
        }
        sided.push((name, commit, files, touched, sides));
    }
    // Every blob of every fork in one `git cat-file --batch`.
    let mut blobs = BlobCache::new(dir);
    let wanted: Vec<&str> = sided
        .iter()
        .flat_map(|(.., sides)| sides.values())
        .flat_map(|(old, new)| [old.as_deref(), new.as_deref()])
        .flatten()
        .collect();
    blobs.prefetch(&wanted)?;
    sided
        .into_iter()
        .map(|(name, commit, files, touched, sides)| {
            let mut lines = Vec::new();
            for (path, (old, new)) in &sides {
                changed_lines(&mut blobs, path, old.as_deref(), new.as_deref(), &mut lines)?;
            }
            Ok(ForkChanges {
                name: name.clone(),
                commit: commit.clone(),
                files,
                touched,
                lines,
            })
        })
        .collect()
}

/// Every pair of forks, in order: (0,1), (0,2), ..., (1,2), ...
pub fn pairs(forks: &[ForkChanges]) -> Vec<Pair> {
    let mut out = Vec::new();
    for (i, a) in forks.iter().enumerate() {
        for b in &forks[i + 1..] {
            out.push(pair(a, b));
        }
    }
    out
}

/// How fork `a` and fork `b` relate.
pub fn pair(a: &ForkChanges, b: &ForkChanges) -> Pair {
    let mut p = Pair {
        a: a.name.clone(),
        b: b.name.clone(),
        same: Vec::new(),
        differ: Vec::new(),
        only_a: Vec::new(),
        only_b: Vec::new(),
        similarity: similarity(&a.lines, &b.lines),
    };
    let paths: BTreeSet<&String> = a.touched.keys().chain(b.touched.keys()).collect();
    for path in paths {
        match (a.touched.get(path), b.touched.get(path)) {
            (Some(x), Some(y)) if x == y => p.same.push(path.clone()),
            (Some(_), Some(_)) => p.differ.push(path.clone()),
            (Some(_), None) => p.only_a.push(path.clone()),
            (None, _) => p.only_b.push(path.clone()),
        }
    }
    p
}

/// Files more than one fork touched, with the forks grouped by what they left there.
pub fn overlaps(forks: &[ForkChanges]) -> Vec<Overlap> {
    let mut by_path: BTreeMap<&String, Vec<(&String, &Content)>> = BTreeMap::new();
    for f in forks {
        for (path, now) in &f.touched {
            by_path.entry(path).or_default().push((&f.name, now));
        }
    }
    by_path
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(path, forks)| {
            let mut groups: Vec<(&Content, Vec<String>)> = Vec::new();
            for (name, now) in forks {
                match groups.iter_mut().find(|(n, _)| *n == now) {
                    Some((_, g)) => g.push(name.clone()),
                    None => groups.push((now, vec![name.clone()])),
                }
            }
            Overlap {
                path: path.clone(),
                groups: groups.into_iter().map(|(_, g)| g).collect(),
            }
        })
        .collect()
}

/// Ratio of matching changed lines, rounded to three decimals so it prints stably.
fn similarity(a: &[String], b: &[String]) -> f64 {
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    let ratio = f64::from(TextDiff::from_slices(&a, &b).ratio());
    (ratio * 1000.0).round() / 1000.0
}

/// Statuses, blobs and `--numstat` counts of every file that differs between two commits.
fn file_changes(dir: &Path, from: &str, to: &str) -> Result<Vec<FileChange>, GitError> {
    // One git process gives both: the raw entries (":modes blobs status", paths), then the
    // `--numstat` entries.
    let out = git::git(
        dir,
        [
            "diff",
            "--raw",
            "--numstat",
            "-z",
            "-M",
            "--no-abbrev",
            from,
            to,
            "--",
        ],
    )?;
    let bytes = out.stdout.as_slice();
    let mut raw_end = 0;
    let mut fields = bytes.split(|b| *b == 0);
    let mut raw_fields = Vec::new();
    while let Some(head) = fields.next() {
        if !head.starts_with(b":") {
            break;
        }
        let renamed = head
            .split(|b| *b == b' ')
            .nth(4)
            .is_some_and(|l| l.starts_with(b"R") || l.starts_with(b"C"));
        let paths = if renamed { 2 } else { 1 };
        raw_fields.push(head);
        raw_end += head.len() + 1;
        for _ in 0..paths {
            let Some(p) = fields.next() else { break };
            raw_fields.push(p);
            raw_end += p.len() + 1;
        }
    }
    let counts: HashMap<String, git::FileStat> =
        git::parse_numstat_z(&bytes[raw_end.min(bytes.len())..])
            .into_iter()
            .map(|s| (s.path.clone(), s))
            .collect();
    let mut out = Vec::new();
    let mut fields = raw_fields.into_iter();
    while let Some(head) = fields.next() {
        let Some(head) = head.strip_prefix(b":") else {
            continue;
        };
        let head = String::from_utf8_lossy(head);
        let parts: Vec<&str> = head.split(' ').collect();
        let [_, new_mode, old_blob, new_blob, letter] = parts[..] else {
            continue;
        };
        let first = fields
            .next()
            .map(|p| String::from_utf8_lossy(p).to_string());
        let Some(first) = first else { break };
        let (status, path, old_path) = match letter.as_bytes().first() {
            Some(b'R') => {
                let new = fields
                    .next()
                    .map(|p| String::from_utf8_lossy(p).to_string())
                    .unwrap_or_default();
                (Status::Renamed, new, Some(first))
            }
            Some(b'C') => {
                let new = fields
                    .next()
                    .map(|p| String::from_utf8_lossy(p).to_string())
                    .unwrap_or_default();
                (Status::Added, new, None)
            }
            Some(b'A') => (Status::Added, first, None),
            Some(b'D') => (Status::Deleted, first, None),
            _ => (Status::Modified, first, None),
        };
        let stat = counts.get(&path);
        let binary = stat.is_some_and(|s| s.insertions.is_none());
        let blob = |b: &str| (!b.bytes().all(|c| c == b'0')).then(|| b.to_string());
        out.push(FileChange {
            insertions: stat.and_then(|s| s.insertions).unwrap_or(0),
            deletions: stat.and_then(|s| s.deletions).unwrap_or(0),
            binary,
            old_blob: if status == Status::Added {
                None
            } else {
                blob(old_blob)
            },
            new_blob: blob(new_blob),
            new_mode: new_mode.to_string(),
            status,
            path,
            old_path,
        });
    }
    Ok(out)
}

/// Appends the lines that differ between two versions of a file as `path\t+line` and
/// `path\t-line`; a binary version counts as one line naming its blob.
fn changed_lines(
    blobs: &mut BlobCache,
    path: &str,
    old: Option<&str>,
    new: Option<&str>,
    out: &mut Vec<String>,
) -> Result<(), GitError> {
    let old_text = blobs.text(old)?;
    let new_text = blobs.text(new)?;
    let (Some(old_text), Some(new_text)) = (old_text, new_text) else {
        // A binary side: the change is the blob it became.
        out.push(format!("{path}\tbinary {}", new.unwrap_or("deleted")));
        return Ok(());
    };
    let diff = TextDiff::from_lines(old_text.as_str(), new_text.as_str());
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            ChangeTag::Insert => '+',
            ChangeTag::Delete => '-',
            ChangeTag::Equal => continue,
        };
        out.push(format!(
            "{path}\t{sign}{}",
            change.value().trim_end_matches(['\n', '\r'])
        ));
    }
    Ok(())
}

/// Blob contents read once each.
struct BlobCache<'a> {
    dir: &'a Path,
    texts: HashMap<String, Option<String>>,
}

impl<'a> BlobCache<'a> {
    fn new(dir: &'a Path) -> BlobCache<'a> {
        BlobCache {
            dir,
            texts: HashMap::new(),
        }
    }

    /// Reads every blob not cached yet with one `git cat-file --batch`, rather than one git
    /// process per blob (thousands when forks touch hundreds of files).
    fn prefetch(&mut self, blobs: &[&str]) -> Result<(), GitError> {
        let mut missing: Vec<&str> = blobs
            .iter()
            .copied()
            .filter(|b| !self.texts.contains_key(*b))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let mut input = missing.join("\n");
        input.push('\n');
        let out = git::git_input(self.dir, ["cat-file", "--batch"], input.as_bytes())?;
        let mut rest = out.stdout.as_slice();
        for blob in missing {
            // Each answer: "<oid> <type> <size>\n<content>\n", or "<name> missing\n".
            let Some(eol) = rest.iter().position(|b| *b == b'\n') else {
                break;
            };
            let header = String::from_utf8_lossy(&rest[..eol]).to_string();
            rest = &rest[eol + 1..];
            let size = header
                .split(' ')
                .nth(2)
                .and_then(|s| s.parse::<usize>().ok());
            let Some(size) = size.filter(|s| *s < rest.len()) else {
                // Missing or malformed: leave it to the one-blob path, which reports it.
                continue;
            };
            let bytes = &rest[..size];
            rest = &rest[size + 1..];
            self.texts.insert(blob.to_string(), blob_text(bytes));
        }
        Ok(())
    }

    /// The blob as text: empty for no blob, None for binary content.
    fn text(&mut self, blob: Option<&str>) -> Result<Option<String>, GitError> {
        let Some(blob) = blob else {
            return Ok(Some(String::new()));
        };
        if let Some(t) = self.texts.get(blob) {
            return Ok(t.clone());
        }
        let out = git::git(self.dir, ["cat-file", "blob", blob])?;
        let text = blob_text(&out.stdout);
        self.texts.insert(blob.to_string(), text.clone());
        Ok(text)
    }
}

/// A blob's content as text, or None when it looks binary (a NUL in its first 8000 bytes).
fn blob_text(bytes: &[u8]) -> Option<String> {
    if bytes.iter().take(8000).any(|b| *b == 0) {
        None
    } else {
        Some(String::from_utf8_lossy(bytes).to_string())
    }
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
                .map(|(p, b)| (p.to_string(), b.map(|b| ("100644".into(), b.to_string()))))
                .collect(),
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn classifies_pairs() {
        let a = fork(
            "a",
            &[
                ("x", Some("1")),
                ("y", Some("2")),
                ("gone", None),
                ("only-a", Some("3")),
            ],
            &["x\t+one", "y\t+two"],
        );
        let b = fork(
            "b",
            &[
                ("x", Some("1")),
                ("y", Some("9")),
                ("gone", None),
                ("only-b", Some("4")),
            ],
            &["x\t+one", "y\t+nine"],
        );
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
