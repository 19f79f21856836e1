//! `ocfork synth` end to end: one more fork of a run, written from the strongest forks' patches,
//! evidence and the judges' reasons, committed on its own branch from the run's start with the
//! check run, judged again (a synthesis that weakens tests drops like any fork), merged by
//! `merge --best`; refusals that make nothing. Real git, real OpenCode, the scripted model.

use crate::common::*;
use serde_json::Value;

/// What the synthesis prompt always asks, and no judge prompt holds.
const SYNTH_ASK: &str = "keeps the strongest parts of each";

/// The synthesizing agent: it runs `steps`, then says where the parts came from.
fn synthesizes(steps: Vec<Step>) -> Rule {
    Rule {
        when: SYNTH_ASK.into(),
        model: None,
        steps,
        reply: "Took the store from b and the helper from a.".into(),
        fail: None,
    }
}

fn write_step(path: &str, content: &str) -> Step {
    Step {
        tool: "write".into(),
        args: serde_json::json!({ "filePath": path, "content": content }),
    }
}

fn order(judge: &Value) -> Vec<String> {
    judge["ranking"]
        .as_array()
        .unwrap_or_else(|| panic!("no ranking in {judge:#}"))
        .iter()
        .map(|r| r["fork"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The main tree, its index, and every ref but the synthesized fork's branch.
fn repo_state_but(w: &World, except: &str) -> String {
    let refs: Vec<String> = w
        .git(&["for-each-ref", "--format=%(refname) %(objectname)"])
        .lines()
        .filter(|l| !l.starts_with(&format!("refs/heads/{except} ")))
        .map(str::to_string)
        .collect();
    [
        w.git(&["rev-parse", "HEAD"]),
        w.git(&["write-tree"]),
        w.git(&["status", "--porcelain", "--untracked-files=all"]),
        refs.join("\n"),
    ]
    .join("\n--\n")
}

/// The prompts the synthesizing agent got (their first request each).
fn synth_prompts(w: &World) -> Vec<String> {
    w.model
        .requests()
        .into_iter()
        .filter(|r| r.agent_turn && r.step == 0 && r.last_user.contains(SYNTH_ASK))
        .map(|r| r.last_user)
        .collect()
}

#[test]
fn synth_combines_the_chosen_forks_is_judged_again_merged_best_and_once_per_model() {
    let w = suite_world(vec![
        synthesizes(vec![write_step(
            "src/store.js",
            "export const a = 'from-a';\nexport const b = 'from-b';\n",
        )]),
        Rule::verdict(
            "## Fork synth-other",
            &["synth-other", "synth-scripted", "synth", "a", "b", "c"],
        ),
        Rule::verdict("## Fork synth", &["synth", "a", "b", "c"]),
        Rule::verdict("## Fork ", &["b", "a", "c"]),
        writes("PLAN-A", &[("src/a.js", "export const a = 'from-a';\n")]),
        writes("PLAN-B", &[("src/b.js", "export const b = 'from-b';\n")]),
        writes("PLAN-C", &[("bad.txt", "from-c\n")]),
    ]);
    ok(&w.run(&[
        "try",
        "-n",
        "syn",
        "-t",
        "Add the two constants",
        "--check",
        "test ! -f bad.txt",
        "a=PLAN-A",
        "b=PLAN-B",
        "c=PLAN-C",
    ]));
    ok(&w.run(&["judge"]));
    let start = json(&w.run(&["status", "--json"]))["start"]
        .as_str()
        .expect("start")
        .to_string();
    std::fs::write(w.repo.join("README.md"), "# mine\n").unwrap();
    let before = repo_state_but(&w, "ocfork/syn/synth");

    let run = json(&w.run(&["synth", "--json"]));

    // The prompt: the task, the chosen forks' approaches, patch lines and reasons; not c's.
    let prompts = synth_prompts(&w);
    assert_eq!(prompts.len(), 1, "{prompts:?}");
    let prompt = &prompts[0];
    for wanted in [
        "Add the two constants",
        "PLAN-A",
        "PLAN-B",
        "+export const a = 'from-a';",
        "+export const b = 'from-b';",
        "a is fine",
        "b is fine",
        "say which parts came from which fork",
    ] {
        assert!(prompt.contains(wanted), "no {wanted:?} in:\n{prompt}");
    }
    for unwanted in ["PLAN-C", "from-c", "c is fine", "Fork c"] {
        assert!(!prompt.contains(unwanted), "{unwanted:?} in:\n{prompt}");
    }

    // Its work is committed on its branch, from the run's start, and its check ran.
    let synth = fork(&run, "synth");
    assert_eq!(synth["state"], "done", "{run:#}");
    assert_eq!(synth["synth"]["from"], serde_json::json!(["b", "a"]));
    assert_eq!(synth["branch"], "ocfork/syn/synth");
    let commit = synth["commit"].as_str().expect("commit");
    assert_eq!(w.git(&["rev-parse", "ocfork/syn/synth"]).trim(), commit);
    assert_eq!(w.git(&["rev-parse", &format!("{commit}^")]).trim(), start);
    assert_eq!(
        w.git(&["show", "--name-only", "--format=", commit]).trim(),
        "src/store.js"
    );
    assert_eq!(synth["check"]["exit_code"], 0, "{synth:#}");
    assert_eq!(synth["check"]["command"], "test ! -f bad.txt");

    // Judged again: the judge ranks it first, the failed check stays last.
    assert_eq!(order(&run["judge"]), ["synth", "a", "b", "c"], "{run:#}");
    assert_eq!(repo_state_but(&w, "ocfork/syn/synth"), before);
    assert_eq!(read(w.repo.join("README.md")), "# mine\n");

    // The record is documented, and diff and report show where it came from.
    let mut status = json(&w.run(&["status", "--json"]));
    if let Some(o) = status.as_object_mut() {
        o.remove("judge");
    }
    crate::json_docs::assert_documented(
        "status --json after synth",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/state/mod.rs")),
        &status,
    );
    let diff = ok(&w.run(&["diff"]));
    assert!(diff.contains("synth ← b, a"), "{diff}");
    let report = w.path("report.html");
    ok(&w.run(&["report", "-o", report.to_str().unwrap()]));
    assert!(
        read(&report).contains("synth ← b, a"),
        "report names no sources"
    );

    let out = ok(&w.run(&["merge", "--best"]));
    assert!(out.contains("merged syn/synth"), "{out}");
    assert_eq!(
        read(w.repo.join("src/store.js")),
        "export const a = 'from-a';\nexport const b = 'from-b';\n"
    );
    assert_eq!(read(w.repo.join("README.md")), "# mine\n");

    // Several models: one synthesized fork each, all judged with the rest.
    let run = json(&w.run(&[
        "synth",
        "--from",
        "a,b",
        "-m",
        "scripted/scripted",
        "-m",
        "scripted/other",
        "--json",
    ]));
    for (name, model) in [
        ("synth-scripted", "scripted/scripted"),
        ("synth-other", "scripted/other"),
    ] {
        let f = fork(&run, name);
        assert_eq!(
            (&f["state"], &f["model"], &f["synth"]["from"]),
            (
                &"done".into(),
                &model.into(),
                &serde_json::json!(["a", "b"])
            ),
            "{run:#}"
        );
    }
    assert_eq!(synth_prompts(&w).len(), 3);
    assert_eq!(
        order(&run["judge"]),
        ["synth-other", "synth-scripted", "synth", "a", "b", "c"],
        "{run:#}"
    );
}

#[test]
fn try_synth_ranks_a_synthesis_that_deletes_a_test_below_its_sources() {
    let w = suite_world(vec![
        synthesizes(vec![
            bash("rm tests/app.test.js"),
            write_step("src/store.js", "export const store = 1;\n"),
        ]),
        Rule::verdict("## Fork synth", &["synth", "a", "b"]),
        Rule::verdict("## Fork ", &["a", "b"]),
        writes("PLAN-A", &[("src/a.js", "export const a = 1;\n")]),
        writes("PLAN-B", &[("src/b.js", "export const b = 1;\n")]),
    ]);
    std::fs::create_dir_all(w.repo.join("tests")).unwrap();
    std::fs::write(w.repo.join("tests/app.test.js"), "assert(true);\n").unwrap();
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "a test"]);

    // try judges, synthesizes, judges again; the run it prints holds the last verdict.
    let run = w.try_json(
        0,
        &[
            "-n", "ts", "--synth", "--check", "true", "a=PLAN-A", "b=PLAN-B",
        ],
    );
    let synth = fork(&run, "synth");
    assert_eq!(synth["synth"]["from"], serde_json::json!(["a", "b"]));
    assert_eq!(synth["state"], "done", "{run:#}");
    assert_eq!(order(&run["judge"]), ["a", "b", "synth"], "{run:#}");
    let ranked = &run["judge"]["ranking"][2];
    assert_eq!(ranked["group"], "weakened", "{run:#}");
    assert_eq!(synth_prompts(&w).len(), 1);
    let out = ok(&w.run(&["merge", "--best"]));
    assert!(out.contains("merged ts/a"), "{out}");
    assert!(w.repo.join("tests/app.test.js").is_file());
}

#[test]
fn synth_refuses_and_makes_nothing() {
    let mut slow = writes("SLOW", &[("src/slow.js", "export const slow = 1;\n")]);
    slow.steps.push(held());
    let w = suite_world(vec![
        writes("PLAN-A", &[("src/a.js", "export const a = 1;\n")]),
        says("PLAN-E", "Nothing to do."),
        writes("PLAN-B", &[("src/b.js", "export const b = 1;\n")]),
        slow,
    ]);
    ok(&w.run(&["try", "-n", "one", "a=PLAN-A", "e=PLAN-E"]));
    ok(&w.run(&["try", "-n", "two", "a=PLAN-A", "b=PLAN-B"]));
    ok(&w.run(&["try", "--detach", "-n", "busy", "slow=SLOW"]));
    let branches = w.git(&["branch", "--list", "ocfork/*"]);
    let worktrees = w.git(&["worktree", "list", "--porcelain"]);

    let cases: [(&[&str], &str); 6] = [
        // One finished fork changed something; the other changed nothing.
        (&["synth", "one"], "e changed nothing"),
        (&["synth", "two", "--from", "a,zz"], "zz"),
        (&["synth", "two", "--from", "a"], "at least two"),
        (&["synth", "two", "--top", "2"], "ocfork judge two"),
        (&["synth", "two", "-m", "nonsense"], "provider/model"),
        (&["synth", "busy"], "still working: slow"),
    ];
    for (args, says) in cases {
        let out = w.run(args);
        exits_with(&out, 2, says);
    }
    assert!(
        stderr(&w.run(&["synth", "one"])).contains("a"),
        "the one fork that qualifies is named"
    );
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), branches);
    assert_eq!(w.git(&["worktree", "list", "--porcelain"]), worktrees);
    assert!(synth_prompts(&w).is_empty());
    release(&[w.path("app.ocfork/busy/slow")]);
    ok(&w.run(&["wait", "busy"]));
    for run in ["one", "two", "busy"] {
        let status = json(&w.run(&["status", run, "--json"]));
        assert!(
            status["forks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["synth"].is_null()),
            "{status:#}"
        );
    }
}
