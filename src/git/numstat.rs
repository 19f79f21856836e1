//! Measuring what a fork changed: `git diff --numstat` per file, and the totals.

use std::path::Path;

use super::{Result, git};

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

#[cfg(test)]
mod tests {
    use super::*;

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
