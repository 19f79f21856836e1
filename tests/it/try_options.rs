//! `ocfork try` options: models, --include-dirty, --setup/--check, and refusals of bad input.

use std::fs;

use crate::common::*;

#[test]
fn every_approach_with_every_model() {
    let w = suite_world(vec![
        writes("Use Redux", &[("r.txt", "r")]),
        writes("Use MobX", &[("m.txt", "m")]),
    ]);
    let run = w.try_json(
        0,
        &[
            "-m",
            "scripted/scripted",
            "-m",
            "scripted/other",
            "redux=Use Redux",
            "mobx=Use MobX",
        ],
    );
    let forks = forks_of(&run, 4);
    let mut pairs: Vec<(String, String)> = forks
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap_or("").to_string(),
                f["model"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            ("mobx-other".into(), "scripted/other".into()),
            ("mobx-scripted".into(), "scripted/scripted".into()),
            ("redux-other".into(), "scripted/other".into()),
            ("redux-scripted".into(), "scripted/scripted".into()),
        ]
    );
    // Each session's prompt reached the model it was assigned.
    let reqs = w.model.requests();
    for (approach, model) in [
        ("Use Redux", "scripted"),
        ("Use Redux", "other"),
        ("Use MobX", "scripted"),
        ("Use MobX", "other"),
    ] {
        assert!(
            reqs.iter()
                .any(|r| r.agent_turn && r.model == model && r.last_user.contains(approach)),
            "no {approach} request for model {model}"
        );
    }
    for f in forks {
        assert_eq!(f["state"], "done");
    }
}

#[test]
fn include_dirty_carries_uncommitted_work() {
    let w = suite_world(vec![writes("Go", &[("out.txt", "x")])]);
    fs::write(w.repo.join("README.md"), "# app\nedited, not committed\n").expect("write");
    fs::write(w.repo.join("notes.txt"), "untracked\n").expect("write");
    let status_before = w.git(&["status", "--porcelain"]);
    let head_before = w.git(&["rev-parse", "HEAD"]);

    let out = w.run(&["try", "--json", "-n", "dirty", "--include-dirty", "a=Go"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let run = json(&out);
    let wt = worktree_of(fork(&run, "a"));
    assert_eq!(read(wt.join("README.md")), "# app\nedited, not committed\n");
    assert_eq!(read(wt.join("notes.txt")), "untracked\n");
    assert!(wt.join("out.txt").exists());
    // The fork's own change is only what its agent did.
    assert_eq!(fork(&run, "a")["files_changed"], 1);

    let run = w.try_json(0, &["-n", "clean", "a=Go"]);
    let wt = worktree_of(fork(&run, "a"));
    assert_eq!(read(wt.join("README.md")), "# app\n");
    assert!(!wt.join("notes.txt").exists());

    // The main tree keeps its edits either way, and nothing was staged or committed there.
    assert_eq!(w.git(&["status", "--porcelain"]), status_before);
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head_before);
    assert_eq!(read(w.repo.join("notes.txt")), "untracked\n");
    // --merge would record the carried-in changes as merged; squash brings just the agent's.
    let out = w.run(&["merge", "dirty/a", "--merge"]);
    exits_with(&out, 2, "--include-dirty");
    let out = w.run(&["merge", "dirty/a"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let files = w.git(&["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files.trim(), "out.txt");
    assert_eq!(
        read(w.repo.join("README.md")),
        "# app\nedited, not committed\n"
    );
}

#[test]
fn setup_and_check_run_in_each_worktree() {
    let w = suite_world(vec![
        writes("Good", &[("ok.txt", "yes")]),
        writes("Bad", &[("bad.txt", "no")]),
    ]);
    let out = w.run(&[
        "try",
        "--json",
        "--setup",
        "echo prepared > setup-ran.txt",
        "--check",
        "test -f ok.txt || exit 7",
        "good=Good",
        "bad=Bad",
    ]);
    let run = json(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a failing check is recorded, not a failed fork: {}",
        stderr(&out)
    );
    let good = fork(&run, "good");
    let bad = fork(&run, "bad");
    assert_eq!(good["check"]["exit_code"], 0);
    assert_eq!(good["check"]["command"], "test -f ok.txt || exit 7");
    assert_eq!(bad["check"]["exit_code"], 7);
    for f in [good, bad] {
        assert_eq!(f["state"], "done");
        let commit = f["commit"].as_str().expect("commit");
        // Setup ran in the worktree before the agent, so its output is part of the fork's work.
        let files = w.git(&["show", "--name-only", "--format=", commit]);
        assert!(files.contains("setup-ran.txt"), "{files}");
    }
    assert!(!w.repo.join("setup-ran.txt").exists());
}

#[test]
fn refuses_bad_input_clearly() {
    let w = World::new(Script::default());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["try", "-n", "Bad Name", "x"],
            "run name `Bad Name` is not valid",
        ),
        (vec!["try", "--base", "nope", "x"], "`nope` is not a commit"),
        (
            vec!["try", "-m", "nomodel", "x"],
            "model `nomodel` is not of the form provider/model",
        ),
        (
            vec!["try", "--timeout", "soon", "x"],
            "--timeout `soon` is not a duration",
        ),
        (vec!["try", "-j", "0", "x"], "--jobs must be at least 1"),
        (
            vec!["try", "a=one", "a=two"],
            "two approaches are named `a`",
        ),
        (
            vec!["try", "--opencode", "/nonexistent/opencode", "x"],
            "cannot find the `opencode` binary at /nonexistent/opencode",
        ),
        (vec!["status", "nosuchrun"], "no run named `nosuchrun`"),
        (vec!["try", "/=="], "no fork name can be made from `/==`"),
        (vec!["try", "!!!"], "no fork name can be made from `!!!`"),
        (vec!["try"], "required arguments were not provided"),
    ];
    for (args, msg) in cases {
        let out = w.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(msg), "{args:?}: {}", stderr(&out));
    }
    // Not a repository, a bare one, and one without commits.
    let plain = w.path("plain");
    fs::create_dir_all(&plain).expect("mkdir");
    let bare = w.path("bare.git");
    git(
        w.tmp.path(),
        &["init", "-q", "--bare", &bare.to_string_lossy()],
    );
    let empty = w.path("empty");
    git(w.tmp.path(), &["init", "-q", &empty.to_string_lossy()]);
    for (dir, says) in [
        (&plain, "not inside a git repository"),
        (&bare, "bare repository"),
        (&empty, "no commits yet"),
    ] {
        let out = w.ocfork_in(dir).args(["try", "x"]).output().expect("runs");
        exits_with(&out, 2, says);
    }
    // Without any opencode binary.
    let out = w
        .ocfork()
        .env_remove("OCFORK_OPENCODE")
        .env("PATH", "/usr/bin:/bin")
        .args(["try", "x"])
        .output()
        .expect("runs");
    exits_with(&out, 2, "cannot find the `opencode` binary");
    // Nothing was recorded by any of the refusals: no run, no branch, no worktree.
    let out = w.run(&["list", "--json"]);
    assert_eq!(json(&out), serde_json::json!([]));
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");
    assert_eq!(
        w.git(&["worktree", "list", "--porcelain"])
            .matches("worktree ")
            .count(),
        1
    );
    assert!(!w.path("app.ocfork").exists());
}

#[test]
fn a_failing_model_fails_only_its_fork() {
    let mut broken = writes("Use Broken", &[("never.txt", "x")]);
    broken.fail = Some(Failure {
        status: Some(500),
        message: Some("the scripted model is down".into()),
        // OpenCode retries a 500 five times; the header keeps its waits short.
        retry_after_ms: Some(20),
        ..Failure::default()
    });
    let w = suite_world(vec![writes("Use Fine", &[("fine.txt", "ok")]), broken]);
    let run = w.try_json(1, &["fine=Use Fine", "broken=Use Broken"]);
    assert_eq!(run["state"], "failed");
    assert_eq!(fork(&run, "fine")["state"], "done");
    let broken = fork(&run, "broken");
    assert_eq!(broken["state"], "failed");
    let error = broken["error"].as_str().expect("error text");
    assert!(error.contains("the scripted model is down"), "{error}");
    // The failure reached the model as retries, then gave up; nothing was written.
    let attempts = w
        .model
        .requests()
        .iter()
        .filter(|r| r.answer == "error:500")
        .count();
    assert!(attempts >= 2, "{attempts} failing calls");
    assert_eq!(broken["files_changed"], 0);
    // `status` shows the same record.
    let out = w.run(&["status"]);
    assert!(
        stdout(&out).contains("the scripted model is down"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_hanging_check_is_stopped_with_everything_it_started() {
    let w = suite_world(vec![writes("Go", &[("a.txt", "a")])]);
    let pid_file = w.path("bg.pid");
    try_with_a_hanging_check(&w, &pid_file, &[], |args| w.run(args));
    let pid: u32 = read(&pid_file).trim().parse().expect("a pid");
    assert!(!procs::alive(pid), "the check's background sleep survived");
}
