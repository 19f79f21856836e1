//! `ocfork demo` runs the whole flow offline and leaves a repo the user can continue in.

use crate::common::*;

#[test]
fn demo_runs_two_forks_and_prints_next_steps() {
    let opencode = opencode_bin();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = hermetic(&mut std::process::Command::new(env!(
        "CARGO_BIN_EXE_ocfork"
    )))
    .args(["demo", "--dir", tmp.path().to_str().expect("utf-8")])
    .env("OCFORK_OPENCODE", &opencode)
    .env("HOME", tmp.path())
    .env("NO_COLOR", "1")
    .output()
    .expect("runs");
    let text = ok(&out);
    let table: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("redux") || l.starts_with("context"))
        .collect();
    assert_eq!(table.len(), 4, "try's table and status's table: {text}");
    for line in table {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[1], "done", "{line}");
        assert_eq!(cells[6], "pass", "the check passed: {line}");
    }
    assert!(text.contains("ocfork merge redux"), "{text}");
    // The repo it made is there to continue in, with both fork branches.
    let repo = std::fs::read_dir(tmp.path())
        .expect("read")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("todo-app"))
        .find(|p| p.exists())
        .expect("demo repo");
    let branches = git(&repo, &["branch", "--list", "ocfork/*"]);
    assert!(
        branches.contains("ocfork/redux-vs-context/redux"),
        "{branches}"
    );
    assert!(
        branches.contains("ocfork/redux-vs-context/context"),
        "{branches}"
    );
}

#[test]
fn demo_without_opencode_says_where_to_get_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = hermetic(&mut std::process::Command::new(env!(
        "CARGO_BIN_EXE_ocfork"
    )))
    .args(["demo", "--dir", tmp.path().to_str().expect("utf-8")])
    .env_remove("OCFORK_OPENCODE")
    .env("PATH", tmp.path())
    .env("HOME", tmp.path())
    .output()
    .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    insta::assert_snapshot!("demo_without_opencode", stderr(&out));
    assert_eq!(
        std::fs::read_dir(tmp.path()).expect("read").count(),
        0,
        "nothing was made"
    );
}
