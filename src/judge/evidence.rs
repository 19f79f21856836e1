//! The judge's evidence, computed for every finished fork without any model: its check
//! result, whether it weakened the tests, whether it changed anything, its size, and how much
//! it agrees with the other forks.

use crate::compare::{self, ForkChanges, Status};
use crate::state::Run;
pub use crate::state::verdict::Evidence;

/// The evidence groups, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// Check passed (or, without a check, changed something) and tests intact.
    Passed,
    /// Check passed (or no check) but tests were weakened.
    Weakened,
    /// Check failed or did not run.
    Failed,
    /// Changed nothing.
    Empty,
}

impl Group {
    /// The name in `judge --json`; without a check the first group is `unchecked`.
    pub fn name(self, checked: bool) -> &'static str {
        match self {
            Group::Passed if checked => "passed",
            Group::Passed => "unchecked",
            Group::Weakened => "weakened",
            Group::Failed => "failed",
            Group::Empty => "empty",
        }
    }
}

impl Evidence {
    /// Where the fork goes in the order; `checked` when the run has a `--check`.
    pub fn group(&self, checked: bool) -> Group {
        if self.empty {
            Group::Empty
        } else if checked && self.check != "passed" {
            Group::Failed
        } else if self.tests_weakened {
            Group::Weakened
        } else {
            Group::Passed
        }
    }
}

/// True when `path` is a test file: a directory on its path is `test`, `tests`, `__tests__`,
/// `spec` or `specs`, or its file name starts with `test_` or, before its extension, ends in
/// `_test`, `.test`, `_spec`, `.spec`, `Test` or `Tests` (e.g. `app.test.js`, `foo_test.go`,
/// `test_foo.py`, `FooTest.java`).
pub fn is_test_file(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    let Some(file) = parts.pop() else {
        return false;
    };
    if parts
        .iter()
        .any(|d| matches!(*d, "test" | "tests" | "__tests__" | "spec" | "specs"))
    {
        return true;
    }
    let stem = file.split_once('.').map_or(file, |(s, _)| s);
    let lower = file.to_ascii_lowercase();
    lower.starts_with("test_")
        || lower.contains(".test.")
        || lower.contains(".spec.")
        || stem.ends_with("_test")
        || stem.ends_with("_spec")
        || (stem.len() > 4 && (stem.ends_with("Test") || stem.ends_with("Tests")))
}

/// The test files a fork's changes deleted or removed lines from.
fn weakened_files(c: &ForkChanges) -> Vec<String> {
    let mut out = Vec::new();
    for f in &c.files {
        let hit = match f.status {
            Status::Deleted => is_test_file(&f.path),
            // A test moved to a name that is no test file no longer runs.
            Status::Renamed => {
                let from_test = f.old_path.as_deref().is_some_and(is_test_file);
                (from_test && !is_test_file(&f.path)) || (is_test_file(&f.path) && f.deletions > 0)
            }
            Status::Modified => is_test_file(&f.path) && f.deletions > 0,
            Status::Added => false,
        };
        if hit {
            out.push(f.old_path.clone().unwrap_or_else(|| f.path.clone()));
        }
    }
    out
}

/// The evidence for every fork in `changes` (the forks of `run` being judged, in order).
pub fn gather(run: &Run, changes: &[ForkChanges]) -> Vec<Evidence> {
    let pairs = compare::pairs(changes);
    changes
        .iter()
        .map(|c| {
            let check = match run.fork(&c.name).and_then(|f| f.check.as_ref()) {
                Some(k) if k.exit_code == Some(0) => "passed",
                Some(_) => "failed",
                None => "none",
            };
            let similar: Vec<f64> = pairs
                .iter()
                .filter(|p| p.a == c.name || p.b == c.name)
                .map(|p| p.similarity)
                .collect();
            let consensus = if similar.is_empty() {
                0.0
            } else {
                let mean = similar.iter().sum::<f64>() / similar.len() as f64;
                (mean * 1000.0).round() / 1000.0
            };
            let (files, insertions, deletions) = c.totals();
            let weakened = weakened_files(c);
            Evidence {
                fork: c.name.clone(),
                check: check.into(),
                tests_weakened: !weakened.is_empty(),
                weakened_files: weakened,
                empty: c.files.is_empty(),
                files: files as u64,
                insertions,
                deletions,
                consensus,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::is_test_file;

    #[test]
    fn recognises_test_files() {
        for p in [
            "tests/a.rs",
            "src/__tests__/x.js",
            "app.test.js",
            "src/app.spec.ts",
            "pkg/foo_test.go",
            "test_foo.py",
            "src/FooTest.java",
            "spec/models/user_spec.rb",
        ] {
            assert!(is_test_file(p), "{p}");
        }
        for p in [
            "src/app.js",
            "src/latest.js",
            "Test.java",
            "contest/a.rs",
            "README.md",
        ] {
            assert!(!is_test_file(p), "{p}");
        }
    }
}
