//! A user's second day: OpenCode config that is not committed reaches every fork (and stays out
//! of its commits), a branch `clean` kept can be continued (its worktree set up again), and a
//! verdict `continue` made stale says so.

use crate::common::*;

/// An agent only the main tree's uncommitted `opencode.json` defines.
const SOLO_CONFIG: &str = r#"{"agent": {"solo": {"mode": "primary", "description": "Works alone.", "prompt": "You work alone."}}}"#;

#[test]
fn uncommitted_opencode_config_reaches_every_fork_and_stays_out_of_its_commits() {
    let w = world(vec![
        writes("Use a map", &[("src/map.js", "// map\n")]),
        writes("Use a list", &[("src/list.js", "// list\n")]),
    ]);
    std::fs::write(w.repo.join("opencode.json"), SOLO_CONFIG).expect("write");
    let out = w.try_run(0, &["-n", "mine", "-a", "solo", "map=Use a map"]);
    let err = stderr(&out);
    assert!(
        err.contains("opencode.json is not committed: each fork gets a copy"),
        "{err}"
    );
    let run = json(&out);
    let map = fork(&run, "map");
    assert_eq!(map["state"], "done", "{run:#}");
    // (OpenCode adds a `$schema` line to the file it reads.)
    assert!(read(worktree_of(map).join("opencode.json")).contains("Works alone."));
    let files = w.git(&["show", "--name-only", "--format=", "ocfork/mine/map"]);
    assert_eq!(files.trim(), "src/map.js");
    // The copy is no one's work: diff, merge and clean see none.
    let d = json(&w.run(&["diff", "mine", "--json"]));
    assert!(d["forks"][0].get("uncommitted").is_none(), "{d:#}");

    // Ignored rather than untracked: the same.
    std::fs::write(w.repo.join(".git/info/exclude"), "/opencode.json\n").expect("write");
    let run = w.try_json(0, &["-n", "ignored", "-a", "solo", "list=Use a list"]);
    let list = fork(&run, "list");
    assert_eq!(list["state"], "done", "{run:#}");
    let files = w.git(&["show", "--name-only", "--format=", "ocfork/ignored/list"]);
    assert_eq!(files.trim(), "src/list.js");
    ok(&w.run(&["merge", "ignored/list"]));
    let out = w.run(&["clean", "ignored"]);
    ok(&out);
    assert!(!worktree_of(list).exists(), "{}", stderr(&out));
    let out = w.run(&["clean", "mine"]);
    assert!(
        ok(&out).contains("kept branch ocfork/mine/map (not merged)"),
        "{}",
        stderr(&out)
    );
    assert!(!worktree_of(map).exists(), "{}", stderr(&out));
}

/// Not on the suite's server: a long-running server kept the config it read for the worktree
/// before `clean` removed it, and served the worktree made again without it (see TESTING.md).
/// A server of the world's own (the model's address in its inline config) serves the run and
/// both continues.
#[test]
fn continue_runs_setup_again_in_a_worktree_made_again_but_not_in_one_it_kept() {
    let w = world(vec![
        writes("Once more", &[("src/more.js", "// more\n")]),
        writes("Also a test", &[("src/map.test.js", "// test\n")]),
        writes("Use a map", &[("src/map.js", "// map\n")]),
    ]);
    let srv = crate::common::serve::Serve::start(&w, &[]);
    let run_ok = |args: &[&str]| {
        let out = srv.ocfork(&w, args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        out
    };
    // What setup makes is ignored by git, like node_modules: no branch keeps it.
    std::fs::write(w.repo.join(".git/info/exclude"), "deps/\n").unwrap();
    let setup = "mkdir -p deps && echo ran >> deps/runs";
    let args = [
        "try",
        "--json",
        "--server",
        &srv.url,
        "-n",
        "day",
        "--setup",
        setup,
        "--check",
        "test -f deps/runs",
        "map=Use a map",
    ];
    let run = json(&run_ok(&args));
    let wt = worktree_of(fork(&run, "map"));
    assert_eq!(read(wt.join("deps/runs")), "ran\n");
    assert!(stdout(&run_ok(&["clean", "day"])).contains("kept branch ocfork/day/map"));
    assert!(!wt.exists());

    let run = json(&run_ok(&["continue", "map", "Also a test", "--json"]));
    let map = fork(&run, "map");
    assert_eq!(map["state"], "done", "{run:#}");
    assert_eq!(map["check"]["exit_code"], 0, "{map:#}");
    assert_eq!(read(wt.join("deps/runs")), "ran\n");

    // The worktree is still there: what setup made is too, and it is not made twice.
    let out = run_ok(&["continue", "map", "Once more", "--json"]);
    assert_eq!(fork(&json(&out), "map")["state"], "done");
    assert_eq!(read(wt.join("deps/runs")), "ran\n");
}

#[test]
fn a_verdict_continue_changed_is_stale_and_merge_best_refuses_it() {
    let w = suite_world(vec![
        Rule::verdict("## Fork ", &["map", "list"]),
        writes("More map", &[("src/more.js", "// more\n")]),
        writes("Use a map", &[("src/map.js", "// map\n")]),
        writes("Use a list", &[("src/list.js", "// list\n")]),
    ]);
    w.try_json(
        0,
        &["-n", "v", "--judge", "map=Use a map", "list=Use a list"],
    );
    let status = json(&w.run(&["status", "--json"]));
    assert!(status["judge"]["stale"].is_null(), "{:#}", status["judge"]);
    ok(&w.run(&["merge", "--best", "--dry-run"]));

    let out = w.run(&["continue", "map", "More map"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status = json(&w.run(&["status", "--json"]));
    assert_eq!(status["judge"]["stale"], serde_json::json!(["map"]));
    let shown = ok(&w.run(&["status"]));
    assert!(shown.contains("stale"), "{shown}");
    let out = w.run(&["merge", "--best"]);
    exits_with(&out, 2, "stale");
    assert!(stderr(&out).contains("ocfork judge v"), "{}", stderr(&out));
    assert_eq!(w.git(&["log", "--format=%s"]).lines().count(), 1);
    // Judging again makes it current.
    ok(&w.run(&["judge"]));
    let status = json(&w.run(&["status", "--json"]));
    assert!(status["judge"]["stale"].is_null(), "{:#}", status["judge"]);
}

#[test]
fn merge_warns_about_a_fork_the_judge_found_weakening_tests() {
    let mut cheat = says("Drop the test", "Removed the failing test.");
    cheat
        .steps
        .push(bash("rm tests/app.test.js && echo ok > src/cheat.js"));
    let w = suite_world(vec![Rule::verdict("## Fork ", &["cheat"]), cheat]);
    std::fs::create_dir_all(w.repo.join("tests")).expect("mkdir");
    std::fs::write(w.repo.join("tests/app.test.js"), "assert(true);\n").expect("write");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "a test"]);
    w.try_json(0, &["-n", "c", "--judge", "cheat=Drop the test"]);
    let out = w.run(&["merge", "cheat"]);
    ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains("warning") && err.contains("weakened") && err.contains("tests/app.test.js"),
        "{err}"
    );
}
