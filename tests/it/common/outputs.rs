//! Reading what commands print and leave: exit codes, stdout and stderr, a command that must
//! succeed, a backgrounded `ocfork` that must end with a given code, bash's completion request,
//! the forks and lists of `--json` answers, files, and the password scrubbed from a fork's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use serde_json::Value;

use super::git;

/// The exit code is 0; returns stdout. Panics showing stdout and stderr otherwise.
pub fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// The exit code is 0; returns stdout as JSON. Panics showing stdout and stderr otherwise.
pub fn ok_json(out: &Output) -> Value {
    ok(out);
    json(out)
}

/// The exit code is `code` and stderr says `says`; panics showing stderr otherwise.
pub fn exits_with(out: &Output, code: i32, says: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(says), "wanted {says:?} in:\n{err}");
}

/// Parses stdout as JSON, with the whole output in the panic message when it is not.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The fork `name` of a run's JSON (`status --json`, `try --json`); panics showing the run.
pub fn fork<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["forks"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("no fork {name} in {run:#}"))
}

/// The text of a file; panics naming it when it cannot be read.
pub fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A fork's worktree, from its JSON.
pub fn worktree_of(fork: &Value) -> PathBuf {
    PathBuf::from(fork["worktree"].as_str().expect("worktree"))
}

/// An agent's `env` dump as ocfork committed it: its one `OPENCODE_SERVER_PASSWORD=` line has
/// the password replaced, and ocfork said so in `out`'s stderr.
pub fn assert_password_scrubbed(dumped: &str, out: &Output) {
    let lines: Vec<&str> = dumped
        .lines()
        .filter(|l| l.starts_with("OPENCODE_SERVER_PASSWORD="))
        .collect();
    assert_eq!(
        lines,
        ["OPENCODE_SERVER_PASSWORD=[server password removed by ocfork]"],
        "the password is committed: {dumped}"
    );
    assert!(
        stderr(out).contains("envdump.txt: the OpenCode server's password was in it"),
        "{}",
        stderr(out)
    );
}

/// Runs `cmd` and returns its stdout; panics with its stderr when it fails (`what failed: …`).
pub fn stdout_of(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} does not run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Waits for a backgrounded ocfork (stdout piped) to end, asserts it exits `code`, and returns
/// the JSON it printed.
pub fn json_at_exit(child: Child, code: i32) -> Value {
    let out = child.wait_with_output().expect("try ends");
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    json(&out)
}

/// What ocfork (`cmd`) answers when bash asks for completions of `words` (the last one being
/// typed), asked as the registered script asks it.
pub fn bash_completion(cmd: &mut Command, words: &[&str]) -> Output {
    cmd.env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_IFS", "\n")
        .arg("--")
        .args(words)
        .output()
        .expect("ocfork runs")
}

/// The `path` of each entry of a `files` list of `diff --json`.
pub fn paths_in(files: &Value) -> Vec<&str> {
    files
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect()
}

/// The entry of the JSON array `list` whose `key` is `value`; panics showing the list.
pub fn entry<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|e| e[key] == value))
        .unwrap_or_else(|| panic!("no {key} {value} in {list:#}"))
}

/// The files of the tree of `rev` in the repository at `dir`.
pub fn files_at(dir: &Path, rev: &str) -> Vec<String> {
    git(dir, &["ls-tree", "-r", "--name-only", rev])
        .lines()
        .map(str::to_string)
        .collect()
}

/// The forks of a run's JSON (`try --json`, `status --json`); asserts there are `n`.
pub fn forks_of(run: &Value, n: usize) -> &Vec<Value> {
    let forks = run["forks"].as_array().expect("forks");
    assert_eq!(forks.len(), n, "{run}");
    forks
}

/// Runs (with `run`) `try --json -n hang --timeout 10s`, `more` options and one fork `a` (the
/// rule "Go") whose check starts `sleep 600` in the background (its pid written to `pid_file`)
/// and waits for it: it hangs until ocfork stops it. Asserts the fork ended `done` with the
/// error that its check timed out after 10 s (and no exit code), and that the check's output is
/// in its log in the run's state here.
pub fn try_with_a_hanging_check(
    w: &super::World,
    pid_file: &Path,
    more: &[&str],
    run: impl FnOnce(&[&str]) -> Output,
) {
    let check = format!(
        "sleep 600 & echo $! > '{}'; echo checking; wait",
        pid_file.display()
    );
    let head = ["try", "--json", "-n", "hang", "--timeout", "10s"];
    let out = run(&[&head[..], more, &["--check", &check, "a=Go"]].concat());
    let run = json(&out);
    let f = super::fork(&run, "a");
    assert_eq!(f["state"], "done", "{run:#}");
    assert!(f["check"]["exit_code"].is_null(), "{run:#}");
    assert_eq!(f["error"], format!("check `{check}` timed out after 10.0s"));
    let log = w.repo.join(".git/ocfork/runs/hang.logs/a.check.log");
    assert_eq!(super::read(&log), "checking\n");
}
