//! Agents that misbehave with git in their worktree (scripted with the `bash` tool): deleting
//! the worktree's `.git`, switching branch, committing on a detached HEAD, resetting below the
//! base. Whatever they do, the user's branch and index are untouched and the fork's real work
//! is what `status`, `diff` and `merge` show.

use crate::common::*;
use serde_json::Value;

/// A rule whose agent runs each shell command in turn, then writes `file`.
fn agent(when: &str, commands: &[&str], file: (&str, &str)) -> Rule {
    let mut steps: Vec<Step> = commands.iter().map(|c| bash(c)).collect();
    steps.push(Step {
        tool: "write".into(),
        args: serde_json::json!({ "filePath": file.0, "content": file.1 }),
    });
    Rule {
        steps,
        ..writes(when, &[])
    }
}

/// A rule whose agent writes `file`, then runs each shell command.
fn agent_then(when: &str, file: (&str, &str), commands: &[&str]) -> Rule {
    let mut steps = vec![Step {
        tool: "write".into(),
        args: serde_json::json!({ "filePath": file.0, "content": file.1 }),
    }];
    steps.extend(commands.iter().map(|c| bash(c)));
    Rule {
        steps,
        ..writes(when, &[])
    }
}

#[test]
fn an_agent_deleting_its_git_link_never_commits_to_the_users_branch() {
    let w = suite_world(vec![agent_then(
        "Use vandal",
        ("src/vandal.js", "export const v = 1;\n"),
        &["rm -f .git"],
    )]);
    // The user has staged work, and keeps the run's worktrees inside the repository.
    std::fs::write(w.repo.join("staged.txt"), "mine\n").expect("write");
    w.git(&["add", "staged.txt"]);
    let head = w.git(&["rev-parse", "HEAD"]);
    w.seed_opencode_deps();
    let out = w
        .ocfork()
        .env("OCFORK_WORKTREE_ROOT", w.repo.join(".forks"))
        .args([
            "try",
            "--json",
            "-n",
            "v",
            "-t",
            "task",
            "vandal=Use vandal",
        ])
        .output()
        .expect("ocfork runs");
    let run = json(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    assert_eq!(
        w.git(&["rev-parse", "HEAD"]),
        head,
        "the user's branch moved"
    );
    assert_eq!(w.git(&["diff", "--cached", "--name-only"]), "staged.txt\n");
    let f = fork(&run, "vandal");
    assert_eq!(f["state"], "done", "{f:#}");
    let files = files_at(&w.repo, "ocfork/v/vandal");
    assert!(files.contains(&"src/vandal.js".to_string()), "{files:?}");
    assert!(!files.contains(&"staged.txt".to_string()), "{files:?}");
    // The link is back: git in the worktree is the fork's own again.
    let wt = worktree_of(f);
    assert_eq!(
        git(&wt, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/ocfork/v/vandal"
    );
}

#[test]
fn an_agent_deleting_its_git_link_inside_a_parent_repo_leaves_the_parent_alone() {
    let w = suite_world(vec![agent_then(
        "Use vandal",
        ("src/vandal.js", "export const v = 1;\n"),
        &["rm -f .git"],
    )]);
    // The project and its worktree folder both sit inside a parent repository.
    let parent = w.tmp.path();
    std::fs::write(parent.join("parent.txt"), "parent\n").expect("write");
    git(parent, &["init", "-q", "-b", "trunk"]);
    git(parent, &["add", "parent.txt"]);
    git(parent, &["commit", "-q", "-m", "parent"]);
    let before = git(parent, &["rev-parse", "HEAD"]);

    let run = w.try_json(0, &["-n", "v", "-t", "task", "vandal=Use vandal"]);
    assert_eq!(fork(&run, "vandal")["state"], "done", "{run:#}");
    assert_eq!(
        git(parent, &["rev-parse", "HEAD"]),
        before,
        "the parent's branch moved"
    );
    assert_eq!(git(parent, &["diff", "--cached", "--name-only"]), "");
    let files = files_at(&w.repo, "ocfork/v/vandal");
    assert!(files.contains(&"src/vandal.js".to_string()), "{files:?}");
}

#[test]
fn work_an_agent_committed_elsewhere_is_the_forks_work() {
    let w = suite_world(vec![
        agent(
            "Use rogue",
            &[
                "git checkout -q -b rogue && echo a > a.txt && git add a.txt && git commit -qm 'agent commit'",
            ],
            ("b.txt", "b\n"),
        ),
        agent(
            "Use detach",
            &[
                "git checkout -q --detach && echo d > d.txt && git add d.txt && git commit -qm 'detached commit'",
            ],
            ("e.txt", "e\n"),
        ),
    ]);
    let run = w.try_json(
        0,
        &[
            "-n",
            "r",
            "-t",
            "task",
            "rogue=Use rogue",
            "detach=Use detach",
        ],
    );
    for (name, want, commit) in [
        ("rogue", ["a.txt", "b.txt"], "agent commit"),
        ("detach", ["d.txt", "e.txt"], "detached commit"),
    ] {
        let branch = format!("ocfork/r/{name}");
        let f = fork(&run, name);
        assert_eq!(f["state"], "done", "{f:#}");
        assert_eq!(f["files_changed"], 2, "{f:#}");
        assert!(
            f["moved"].as_str().is_some(),
            "no word that the agent moved: {f:#}"
        );
        let files = files_at(&w.repo, &branch);
        for file in want {
            assert!(files.contains(&file.to_string()), "{branch}: {files:?}");
        }
        let log = w.git(&["log", "--format=%s", &branch]);
        assert!(log.contains(commit), "{branch}: {log}");
        // The worktree is back on the fork's branch, holding what the branch holds.
        let wt = worktree_of(f);
        assert_eq!(
            git(&wt, &["symbolic-ref", "HEAD"]).trim(),
            format!("refs/heads/{branch}")
        );
        assert_eq!(git(&wt, &["status", "--porcelain"]), "");
    }
    assert!(w.git(&["branch", "--list", "rogue"]).contains("rogue"));

    let status = w.run(&["status", "r"]);
    assert!(stdout(&status).contains("rogue"), "{}", stdout(&status));
    let diff = json(&w.run(&["diff", "r", "--json"]));
    for (name, want) in [("rogue", "a.txt"), ("detach", "d.txt")] {
        let f = fork(&diff, name);
        let paths = paths_in(&f["files"]);
        assert!(paths.contains(&want), "{name}: {paths:?}");
    }
    ok(&w.run(&["merge", "r/rogue"]));
    assert!(files_at(&w.repo, "HEAD").contains(&"a.txt".to_string()));
    // clean keeps the agent's own branch: it is not the run's.
    ok(&w.run(&["clean", "r", "--force"]));
    assert!(w.git(&["branch", "--list", "rogue"]).contains("rogue"));
}

#[test]
fn a_fork_reset_below_its_start_is_warned_about() {
    let w = suite_world(vec![agent(
        "Use reset",
        &["git reset -q --hard HEAD~3"],
        ("r.txt", "r\n"),
    )]);
    for n in 1..=3 {
        std::fs::write(w.repo.join(format!("x{n}.txt")), "x\n").expect("write");
        w.git(&["add", "-A"]);
        w.git(&["commit", "-q", "-m", &format!("x{n}")]);
    }
    let run = w.try_json(0, &["-n", "rs", "-t", "task", "reset=Use reset"]);
    assert_eq!(fork(&run, "reset")["state"], "done", "{run:#}");
    let want = "no longer contains its start commit";
    let diff = w.run(&["diff", "rs"]);
    ok(&diff);
    assert!(stderr(&diff).contains(want), "diff: {}", stderr(&diff));
    let dry = w.run(&["merge", "rs/reset", "--dry-run"]);
    assert!(
        stderr(&dry).contains(want),
        "merge --dry-run: {}",
        stderr(&dry)
    );
}

#[test]
fn one_broken_fork_does_not_stop_the_others_being_compared_and_cleaned() {
    let w = suite_world(vec![
        writes("Use one", &[("one.txt", "1\n")]),
        agent_then(
            "Use two",
            ("two.txt", "2\n"),
            &[
                "git init -q nested && cd nested && echo n > n.txt && git add n.txt && git -c user.name=a -c user.email=a@b commit -qm n && echo more >> n.txt",
            ],
        ),
        writes("Use three", &[("three.txt", "3\n")]),
    ]);
    let run = w.try_json(
        0,
        &[
            "-n",
            "b",
            "-t",
            "task",
            "one=Use one",
            "two=Use two",
            "three=Use three",
        ],
    );
    // The first fork's link to git is gone after the run.
    let one = worktree_of(fork(&run, "one"));
    std::fs::remove_file(one.join(".git")).expect("rm .git");

    let diff = w.run(&["diff", "b", "--json"]);
    let diff: Value = json(&diff);
    for name in ["one", "two", "three"] {
        let f = fork(&diff, name);
        assert!(
            !f["files"].as_array().expect("files").is_empty(),
            "{name}: {f:#}"
        );
    }
    let table = w.run(&["diff", "b"]);
    assert!(stdout(&table).contains("one"), "{}", stderr(&table));

    // The nested repository's work exists nowhere else: its fork is kept, the others go.
    let clean = w.run(&["clean", "b", "--force"]);
    let err = stderr(&clean);
    assert_eq!(clean.status.code(), Some(1), "{err}");
    assert!(err.contains("nested"), "{err}");
    let two = worktree_of(fork(&run, "two"));
    assert!(
        two.join("nested/n.txt").exists(),
        "the nested repository went"
    );
    assert!(!one.exists(), "fork one's worktree is still there: {err}");
    assert!(!worktree_of(fork(&run, "three")).exists(), "{err}");
    let branches = w.git(&["branch", "--list", "ocfork/b/*"]);
    assert!(branches.contains("ocfork/b/two"), "{branches}");
    assert!(!branches.contains("ocfork/b/three"), "{branches}");
}
