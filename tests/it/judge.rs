//! `ocfork judge` end to end: the evidence groups come before the judges' order, judges are
//! combined by Borda count, an unusable reply gets one follow-up, and judging changes nothing
//! in the repository. Real git, real OpenCode, the scripted model answering the judge prompt.

use crate::common::*;
use serde_json::{Value, json};

/// A rule answering the judge prompt (every fork section starts `## Fork `) with a ranking.
fn judge_says(model: Option<&str>, ranking: &[&str]) -> Rule {
    Rule {
        model: model.map(str::to_string),
        ..Rule::verdict("## Fork ", ranking)
    }
}

fn order(v: &Value) -> Vec<String> {
    v["ranking"]
        .as_array()
        .expect("ranking")
        .iter()
        .map(|r| r["fork"].as_str().unwrap().to_string())
        .collect()
}

fn entry<'a>(v: &'a Value, fork: &str) -> &'a Value {
    v["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["fork"] == fork)
        .unwrap()
}

/// Everything judging must leave alone: HEAD, index, status, branches, worktrees.
fn repo_state(w: &World) -> String {
    [
        w.git(&["rev-parse", "HEAD"]),
        w.git(&["write-tree"]),
        w.git(&["status", "--porcelain", "--untracked-files=all"]),
        w.git(&["for-each-ref", "--format=%(refname) %(objectname)"]),
        w.git(&["worktree", "list", "--porcelain"]),
    ]
    .join("\n--\n")
}

#[test]
fn evidence_groups_come_before_the_judge_and_nothing_changes() {
    let mut cheat = says("PLAN-CHEAT", "Removed the failing test.");
    cheat.steps.push(Step {
        tool: "bash".into(),
        args: json!({"command": "rm tests/app.test.js && echo ok > src/cheat.js", "description": "Drop the test"}),
    });
    let w = suite_world(vec![
        // The judge likes them worst first.
        judge_says(None, &["empty", "failing", "cheat", "good"]),
        writes("PLAN-GOOD", &[("src/good.js", "export const good = 1;\n")]),
        writes("PLAN-FAILING", &[("bad.txt", "oops\n")]),
        cheat,
        says("PLAN-EMPTY", "Nothing to do."),
    ]);
    std::fs::create_dir_all(w.repo.join("tests")).unwrap();
    std::fs::write(w.repo.join("tests/app.test.js"), "assert(true);\n").unwrap();
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "a test"]);
    ok(&w.run(&[
        "try",
        "-n",
        "grp",
        "--check",
        "test ! -f bad.txt",
        "good=PLAN-GOOD",
        "failing=PLAN-FAILING",
        "cheat=PLAN-CHEAT",
        "empty=PLAN-EMPTY",
    ]));

    // No verdict yet: merge --best refuses and says what to run.
    let out = w.run(&["merge", "--best"]);
    exits_with(&out, 2, "ocfork judge");

    // An uncommitted edit in the main tree must survive judging too.
    std::fs::write(w.repo.join("README.md"), "# mine\n").unwrap();
    let before = repo_state(&w);
    let out = w.run(&["judge", "--json"]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["run"], "grp");
    assert_eq!(order(&v), ["good", "cheat", "failing", "empty"], "{v}");
    let cheat = entry(&v, "cheat");
    assert_eq!(cheat["tests_weakened"], true, "{v}");
    assert_eq!(cheat["check"], "passed");
    assert_eq!(cheat["group"], "weakened");
    let good = entry(&v, "good");
    assert_eq!(
        (good["rank"].as_u64(), good["group"].as_str()),
        (Some(1), Some("passed"))
    );
    assert_eq!(good["tests_weakened"], false);
    assert_eq!(entry(&v, "failing")["check"], "failed");
    assert_eq!(entry(&v, "empty")["empty"], true);
    let judges = v["judges"].as_array().unwrap();
    assert_eq!(judges.len(), 1);
    assert_eq!(judges[0]["agent"], "plan");
    assert!(
        judges[0]["session"].as_str().unwrap().starts_with("ses"),
        "{v}"
    );
    assert_eq!(repo_state(&w), before, "judging changed the repository");
    assert_eq!(read(w.repo.join("README.md")), "# mine\n");

    // The run keeps the verdict; status, diff and report show it.
    let run = json(&w.run(&["status", "--json"]));
    assert_eq!(run["judge"]["ranking"][0]["fork"], "good", "{run}");
    assert!(run["judge"]["judges"][0]["tokens"].is_object(), "{run}");
    assert!(ok(&w.run(&["status"])).contains("verdict: best good"));
    let diff = ok(&w.run(&["diff"]));
    assert!(diff.contains("RANK"), "{diff}");
    assert!(diff.contains("verdict: best good: good is fine"), "{diff}");
    let report = w.path("report.html");
    ok(&w.run(&["report", "-o", report.to_str().unwrap()]));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("Verdict"), "report has no verdict");

    // merge --best merges the fork ranked first.
    w.git(&["checkout", "-q", "--", "README.md"]);
    let out = ok(&w.run(&["merge", "--best"]));
    assert!(out.contains("merged grp/good"), "{out}");
    assert!(w.repo.join("src/good.js").is_file());
    assert!(w.repo.join("tests/app.test.js").is_file());
}

#[test]
fn the_judges_order_holds_in_a_group_and_two_judges_combine() {
    let w = suite_world(vec![
        judge_says(Some("other"), &["c", "b", "a"]),
        judge_says(None, &["b", "a", "c"]),
        writes("PLAN-A", &[("src/a.js", "export const a = 1;\n")]),
        writes("PLAN-B", &[("src/b.js", "export const b = 1;\n")]),
        writes("PLAN-C", &[("src/c.js", "export const c = 1;\n")]),
    ]);
    ok(&w.run(&["try", "-n", "two", "a=PLAN-A", "b=PLAN-B", "c=PLAN-C"]));
    let v: Value =
        serde_json::from_str(&ok(&w.run(&["judge", "-m", "scripted/scripted", "--json"]))).unwrap();
    assert_eq!(order(&v), ["b", "a", "c"], "{v}");
    assert_eq!(entry(&v, "a")["group"], "unchecked");
    assert_eq!(v["judges"][0]["model"], "scripted/scripted");

    // Borda: b 2+1, c 0+2, a 1+0.
    let out = w.run(&[
        "judge",
        "-m",
        "scripted/scripted",
        "-m",
        "scripted/other",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(order(&v), ["b", "c", "a"], "{v}");
    let rankings: Vec<&Value> = v["judges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["ranking"])
        .collect();
    assert_eq!(rankings, [&json!(["b", "a", "c"]), &json!(["c", "b", "a"])]);
    let text = ok(&w.run(&["judge", "-m", "scripted/scripted", "-m", "scripted/other"]));
    assert!(text.contains("disagree"), "{text}");
}

#[test]
fn a_bad_reply_gets_one_follow_up() {
    let mut good = judge_says(None, &["y", "x"]);
    good.when = "Your reply could not be used".into();
    let w = suite_world(vec![
        good,
        says("## Fork ", "They both look nice to me."),
        writes("PLAN-X", &[("src/x.js", "x\n")]),
        writes("PLAN-Y", &[("src/y.js", "y\n")]),
    ]);
    // The real opencode behind a script that logs each start, to count the servers.
    let (log, wrapper) = w.counting_opencode();
    // try --judge judges once the forks are done; the run it prints holds the verdict.
    w.seed_opencode_deps();
    let out = w
        .ocfork()
        .env("OCFORK_OPENCODE", &wrapper)
        .args([
            "try", "--judge", "--json", "-n", "fup", "x=PLAN-X", "y=PLAN-Y",
        ])
        .output()
        .unwrap();
    let run: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(order(&run["judge"]), ["y", "x"], "{run}");
    assert_eq!(run["judge"]["judges"][0]["ranking"], json!(["y", "x"]));
    // The judge ran on the run's own server: one start for the checks, the forks and it.
    let starts = std::fs::read_to_string(&log).unwrap();
    assert_eq!(starts.matches("serve").count(), 1, "{starts}");
}

#[test]
fn two_bad_replies_exit_1_naming_the_session() {
    let w = suite_world(vec![
        says("Your reply could not be used", "Still no ranking, sorry."),
        says("## Fork ", "They both look nice to me."),
        writes("PLAN-X", &[("src/x.js", "x\n")]),
        writes("PLAN-Y", &[("src/y.js", "y\n")]),
    ]);
    // `judge = true` in the config: try judges, and fails when the judge does.
    std::fs::write(w.repo.join(".ocfork.toml"), "judge = true\n").unwrap();
    let out = w.run(&["try", "-n", "bad", "x=PLAN-X", "y=PLAN-Y"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    let run = json(&w.run(&["status", "--json"]));
    let session = run["judge"]["judges"][0]["session"].as_str().unwrap();
    assert!(err.contains(session), "{err}");
    assert!(err.contains("Still no ranking"), "{err}");
    // The evidence is kept, the ranking is not.
    assert!(run["judge"]["ranking"].is_null(), "{run}");
    assert_eq!(run["judge"]["evidence"].as_array().unwrap().len(), 2);
    let out = w.run(&["merge", "--best"]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
}
