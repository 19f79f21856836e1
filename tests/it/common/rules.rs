//! What the scripted model is told to do: scripts, rules that reply or write files, bash
//! steps, turns held until the test releases them, and the rules several test files share
//! (forks that each export a numbered constant, turns that write many small files one step at a
//! time).

use std::path::{Path, PathBuf};

use super::{Rule, Script, Step};

/// A script of `rules`; turns no rule matches are answered "ok".
pub fn script(rules: Vec<Rule>) -> Script {
    Script {
        rules,
        default_reply: "ok".into(),
    }
}

/// A rule that answers `reply` with no tool steps.
pub fn says(when: &str, reply: &str) -> Rule {
    Rule {
        when: when.to_string(),
        model: None,
        steps: vec![],
        reply: reply.to_string(),
        fail: None,
    }
}

/// A step that runs `command` with the bash tool.
pub fn bash(command: &str) -> Step {
    Step {
        tool: "bash".into(),
        args: serde_json::json!({ "command": command, "description": "scripted shell step" }),
    }
}

/// A rule that writes one file per step and then replies.
pub fn writes(when: &str, files: &[(&str, &str)]) -> Rule {
    Rule {
        when: when.to_string(),
        model: None,
        steps: files
            .iter()
            .map(|(path, content)| Step {
                tool: "write".into(),
                args: serde_json::json!({ "filePath": path, "content": content }),
            })
            .collect(),
        reply: format!("Done with {when}."),
        fail: None,
    }
}

/// [`writes`] for one file, then `then` (e.g. [`held`]).
pub fn writes_then(when: &str, file: (&str, &str), then: Step) -> Rule {
    let mut rule = writes(when, &[file]);
    rule.steps.push(then);
    rule
}

/// A bash step that marks its worktree `.started` and holds the agent's turn until the test
/// puts `.go` there ([`release`]), at most 2 minutes: for a turn that must still be working
/// when something else happens, in place of a fixed sleep.
pub fn held() -> Step {
    bash(
        "touch .started; for i in $(seq 1200); do [ -e .go ] && break; sleep 0.1; done; \
         rm -f .started .go",
    )
}

/// The folders right below `dir` (a run's worktrees below `app.ocfork/RUN`), none when it is
/// not there yet.
pub fn folders_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

/// Lets the [`held`] turns in `worktrees` go on.
pub fn release(worktrees: &[PathBuf]) {
    for wt in worktrees {
        std::fs::write(wt.join(".go"), "").expect("write .go");
    }
}

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
