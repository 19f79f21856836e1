//! Scripted rules several test files share: forks that each export a numbered constant, and
//! turns that write many small files one step at a time.

use super::{Rule, writes};

/// One rule per text of `whens`, the i-th (from 0) writing `src/<letter>.js` that exports its
/// letter (`a`, `b`, `c`, …) as `i + 1`: `export const a = 1;`.
pub fn numbered_exports(whens: &[&str]) -> Vec<Rule> {
    whens
        .iter()
        .zip('a'..='z')
        .enumerate()
        .map(|(i, (when, letter))| {
            let file = format!("src/{letter}.js");
            let text = format!("export const {letter} = {};\n", i + 1);
            writes(when, &[(file.as_str(), text.as_str())])
        })
        .collect()
}

/// A rule writing the files `file(1)` to `file(n)` (each a path and its text), one a step.
pub fn writes_numbered(when: &str, n: usize, file: impl Fn(usize) -> (String, String)) -> Rule {
    let files: Vec<(String, String)> = (1..=n).map(file).collect();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    writes(when, &files)
}
