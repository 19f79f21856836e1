//! Small truths: what `status`, `list`, `merge`, `config`, completions and the demo say is
//! what is so.

use std::time::Duration;

use crate::common::*;

/// What bash completion offers for `words` (the last being typed), asked as the script asks.
fn offered(w: &World, words: &[&str]) -> Vec<String> {
    let out = bash_completion(&mut w.ocfork(), words);
    stdout(&out).lines().map(str::to_string).collect()
}

#[test]
fn an_empty_fork_is_not_merged_and_cleaned_forks_are_not_offered() {
    let w = suite_world(vec![
        writes("Write it", &[("kept.txt", "kept\n")]),
        says("Change nothing", "Nothing to change."),
    ]);
    w.try_json(0, &["-n", "st", "keep=Write it", "empty=Change nothing"]);
    let out = w.run(&["merge", "st/empty"]);
    assert!(ok(&out).contains("empty changed nothing; nothing to merge"));
    let run = json(&w.run(&["status", "st", "--json"]));
    assert_eq!(fork(&run, "empty")["merged"], false, "{run:#}");
    let table = ok(&w.run(&["status", "st"]));
    assert!(!table.contains("merged"), "{table}");

    // clean drops the empty fork whole and keeps keep's branch: only keep is offered.
    ok(&w.run(&["clean", "st"]));
    let words = offered(&w, &["ocfork", "continue", "st/"]);
    assert_eq!(words, ["st/keep"], "{words:?}");
    let words = offered(&w, &["ocfork", "merge", ""]);
    assert!(!words.iter().any(|x| x.contains("empty")), "{words:?}");
}

#[test]
fn an_interrupted_run_says_interrupted() {
    let w = World::with_delay(
        script(vec![writes("Slow", &[("slow.txt", "slow\n")])]),
        Duration::from_secs(30),
    )
    .on_suite_server();
    w.try_json(0, &["--detach", "-n", "cut", "a=Slow"]);
    let run = json(&w.run(&["status", "cut", "--json"]));
    let pid = run["pid"].as_u64().expect("the driver's pid") as u32;
    procs::kill9(pid);
    let listed = wait_until(Duration::from_secs(30), || {
        let line = ok(&w.run(&["list"]));
        line.contains("interrupted").then_some(line)
    });
    let line = listed.unwrap_or_else(|| ok(&w.run(&["list"])));
    assert!(
        line.starts_with("cut") && line.contains("interrupted"),
        "{line}"
    );
    let table = ok(&w.run(&["status", "cut"]));
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|l| l.contains("interrupted")),
        "{table}"
    );
}

#[test]
fn a_zero_timeout_in_config_says_so() {
    let w = suite_world(vec![]);
    std::fs::write(w.repo.join(".ocfork.toml"), "timeout = \"0s\"\n").expect("write");
    let out = w.run(&["config"]);
    exits_with(&out, 2, "must be longer than zero");
    assert!(!stderr(&out).contains("not a duration"), "{}", stderr(&out));
}

#[test]
fn the_demo_says_where_it_left_its_repository() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ocfork"))
        .args(["demo", "--dir", tmp.path().to_str().expect("utf-8")])
        .env("OCFORK_OPENCODE", opencode_bin())
        .env("HOME", tmp.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    let text = ok(&out);
    let root = std::fs::read_dir(tmp.path())
        .expect("read")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("todo-app").exists())
        .expect("the demo's folder");
    assert!(
        text.contains(&format!("rm -rf {}", root.display())),
        "{text}"
    );
}

#[test]
fn diff_color_always_colours_the_table_too() {
    let w = suite_world(vec![writes("Write it", &[("a.txt", "a\n")])]);
    w.try_json(0, &["-n", "col", "a=Write it"]);
    let coloured = ok(&w.run(&["diff", "col", "--color", "always"]));
    let row = coloured
        .lines()
        .find(|l| l.starts_with("a "))
        .unwrap_or_else(|| panic!("no row for a: {coloured}"));
    assert!(row.contains("\x1b[32mdone\x1b[0m"), "{row:?}");
    let plain = ok(&w.run(&["diff", "col", "--color", "never"]));
    assert!(!plain.contains('\x1b'), "{plain:?}");
    // The columns line up the same, coloured or not.
    let strip = coloured.replace("\x1b[32m", "").replace("\x1b[0m", "");
    let strip = strip.replace("\x1b[1m", "");
    assert_eq!(strip, plain);
}

#[test]
fn a_session_fork_from_a_forks_worktree_goes_next_to_the_main_tree() {
    let w = suite_world(vec![
        writes("Write a", &[("a.txt", "a\n")]),
        writes("Go further", &[("b.txt", "b\n")]),
    ]);
    let run = w.try_json(0, &["-n", "base", "a=Write a"]);
    let session = fork(&run, "a")["session"]
        .as_str()
        .expect("session")
        .to_string();
    let srv = w.server.expect("on the suite's server");
    let out = srv.session(&w, "fork", &session, &["--json", "Go further"]);
    let made = json(&out);
    let wt = std::path::PathBuf::from(made["worktree"].as_str().expect("worktree"));
    let root = w.path("app.ocfork");
    assert_eq!(
        wt.parent().and_then(|p| p.parent()),
        Some(root.as_path()),
        "{}",
        wt.display()
    );
    assert_eq!(read(wt.join("b.txt")), "b\n");
}
