//! `.worktreeinclude` and `try --copy`: ignored files copied into each fork, never committed.

use std::fs;

use crate::common::*;

#[test]
fn copies_exactly_the_matching_ignored_files_and_keeps_them_out_of_commits() {
    let w = suite_world(vec![
        writes("Use Redux", &[("src/store.js", "// redux\n")]),
        writes("Use MobX", &[("src/mobx.js", "// mobx\n")]),
    ]);
    let put = |rel: &str, text: &str| {
        let p = w.repo.join(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, text).expect("write");
    };
    put(".gitignore", ".env\n*.local\nbuild/\ncache/\n");
    put(
        ".worktreeinclude",
        "# what forks need\n.env\n*.local\n!skip.local\n",
    );
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "ignore rules"]);
    put(".env", "SECRET=1\n");
    put("config/app.local", "local config\n");
    put("skip.local", "negated in .worktreeinclude\n");
    put("build/out.txt", "built\n");
    put("cache/big.bin", "cache\n");
    put("notes.txt", "untracked, not ignored\n");
    // Ignored only by the main tree's uncommitted .gitignore: the fork's checkout would not
    // ignore it, so it must not be copied.
    put(".gitignore", ".env\n*.local\nbuild/\ncache/\nsecret.key\n");
    put("secret.key", "key\n");
    put(
        ".worktreeinclude",
        ".env\n*.local\n!skip.local\nsecret.key\n",
    );

    let args = [
        "-n",
        "inc",
        "--copy",
        "build/**",
        "redux=Use Redux",
        "mobx=Use MobX",
    ];
    let out = w.try_run(0, &args);
    let err = stderr(&out);
    assert!(
        err.contains("secret.key"),
        "a warning names the file left out: {err}"
    );
    let run = json(&out);
    for fork in run["forks"].as_array().expect("forks") {
        let wt = worktree_of(fork);
        assert_eq!(read(wt.join(".env")), "SECRET=1\n");
        assert_eq!(read(wt.join("config/app.local")), "local config\n");
        assert_eq!(read(wt.join("build/out.txt")), "built\n");
        for absent in ["skip.local", "cache/big.bin", "notes.txt", "secret.key"] {
            assert!(!wt.join(absent).exists(), "{absent} must not be copied");
        }
        let commit = fork["commit"].as_str().expect("commit");
        let tree = w.git(&["ls-tree", "-r", "--name-only", commit]);
        for never in [".env", "config/app.local", "build/out.txt", "secret.key"] {
            assert!(
                !tree.lines().any(|l| l == never),
                "{never} committed: {tree}"
            );
        }
        let changed = w.git(&["diff", "--name-only", &format!("{commit}^"), commit]);
        assert_eq!(fork["files_changed"], 1, "{changed}");
        assert_eq!(
            git(&wt, &["status", "--porcelain"]),
            "",
            "the worktree is clean"
        );
    }
}

#[test]
fn a_bad_copy_pattern_is_refused_before_anything_starts() {
    let w = World::new(Script::default()).on_suite_server();
    let out = w.run(&["try", "--copy", "src/{a,b", "x=do it"]);
    exits_with(&out, 2, "src/{a,b");
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");
}

#[test]
fn copied_files_stay_out_even_when_the_agent_unignores_them() {
    // The agent rewrites .gitignore so that .env would no longer be ignored.
    let w = suite_world(vec![writes(
        "Go",
        &[(".gitignore", "build/\n"), ("x.txt", "x\n")],
    )]);
    fs::write(w.repo.join(".gitignore"), ".env\nbuild/\n").expect("write");
    fs::write(w.repo.join(".worktreeinclude"), ".env\n").expect("write");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "ignore rules"]);
    fs::write(w.repo.join(".env"), "SECRET=1\n").expect("write");

    let run = w.try_json(0, &["a=Go"]);
    let fork = &run["forks"][0];
    let wt = worktree_of(fork);
    assert_eq!(read(wt.join(".env")), "SECRET=1\n");
    let commit = fork["commit"].as_str().expect("commit");
    let files = w.git(&["show", "--name-only", "--format=", commit]);
    let mut files: Vec<&str> = files.lines().collect();
    files.sort();
    assert_eq!(files, vec![".gitignore", "x.txt"]);
}
