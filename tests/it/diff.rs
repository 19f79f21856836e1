//! `ocfork diff` end to end: the JSON comparison against `git diff --numstat`, snapshots of
//! the table, one patch and `--vs`, and fork references, on a finished run made by real git and
//! the run store (`common::finished`; no OpenCode: this is about reading a run).

use std::collections::BTreeMap;

use crate::common::*;
use serde_json::Value;

const APP_SHARED: &str = "console.log('app');\nconsole.log('shared');\n";
const APP_OTHER: &str = "console.log('other app');\n";

/// Four forks: `one` and `copy` do exactly the same; `two` changes src/app.js like them but
/// adds another file; `three` changes src/app.js differently and renames README.md. A finished
/// run made by real git and the run store (`common::finished`, no OpenCode): `diff` reads it.
fn start_run(w: &World) -> Value {
    let one: &[(&str, &str)] = &[
        ("src/app.js", APP_SHARED),
        ("src/one.js", "export const one = 1;\n"),
    ];
    let two: &[(&str, &str)] = &[
        ("src/app.js", APP_SHARED),
        (
            "src/two.js",
            "export const two = 2;\nexport const deux = 2;\n",
        ),
    ];
    let three = |wt: &std::path::Path| {
        finished::write_files(
            wt,
            &[
                ("src/app.js", APP_OTHER),
                ("src/three.js", "export const three = 3;\n"),
            ],
        );
        std::fs::rename(wt.join("README.md"), wt.join("README.txt")).expect("rename");
    };
    let forks = [
        finished::wrote("one", "PLAN-ONE", one),
        finished::wrote("copy", "PLAN-COPY", one),
        finished::wrote("two", "PLAN-TWO", two),
        finished::Done {
            name: "three",
            text: "PLAN-THREE",
            work: Box::new(three),
        },
    ];
    finished::finished_run(w, "cmp", Some("Change the app"), &forks)
}

/// `git diff --numstat` and `--name-status` of a commit against the start, by path.
fn git_files(w: &World, start: &str, commit: &str) -> BTreeMap<String, (String, u64, u64)> {
    let mut statuses = BTreeMap::new();
    for line in w
        .git(&["diff", "--name-status", "-M", start, commit])
        .lines()
    {
        let parts: Vec<&str> = line.split('\t').collect();
        let status = match &parts[0][..1] {
            "A" => "added",
            "D" => "deleted",
            "R" => "renamed",
            _ => "modified",
        };
        statuses.insert(parts.last().unwrap().to_string(), status.to_string());
    }
    let mut out = BTreeMap::new();
    for line in w.git(&["diff", "--numstat", "-M", start, commit]).lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        let path = parts[2].to_string();
        // A rename shows as `README.md => README.txt`.
        let path = match path.split_once(" => ") {
            Some((_, new)) => new.to_string(),
            None => path,
        };
        let status = statuses[&path].clone();
        out.insert(
            path,
            (status, parts[0].parse().unwrap(), parts[1].parse().unwrap()),
        );
    }
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn text(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    stdout(out)
}

#[test]
fn diff_compares_forks() {
    let w = world(vec![]);
    let run = start_run(&w);
    let start = run["base"].as_str().unwrap().to_string();

    let out = w.run(&["diff", "--json"]);
    let diff = json(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(diff["run"], "cmp");
    assert_eq!(diff["base"], start.as_str());
    let forks = diff["forks"].as_array().unwrap();
    let names: Vec<&str> = forks.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["one", "copy", "two", "three"]);
    for (fork, manifest) in forks.iter().zip(run["forks"].as_array().unwrap()) {
        let commit = fork["commit"].as_str().unwrap();
        assert_eq!(fork["commit"], manifest["commit"]);
        let want = git_files(&w, &start, commit);
        let got: BTreeMap<String, (String, u64, u64)> = fork["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_string(),
                    (
                        f["status"].as_str().unwrap().to_string(),
                        f["insertions"].as_u64().unwrap(),
                        f["deletions"].as_u64().unwrap(),
                    ),
                )
            })
            .collect();
        assert_eq!(got, want, "fork {}", fork["name"]);
    }
    let renamed = entry(&forks[3]["files"], "status", "renamed");
    assert_eq!(renamed["path"], "README.txt");
    assert_eq!(renamed["old_path"], "README.md");

    // The run's end kept each fork's comparison for `diff`: one entry per fork, named by the two
    // commits. Computed afresh, or from an entry cut short (which is refused), the answer is
    // the same.
    let kept = w.repo.join(".git/ocfork/diffs");
    let entries = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&kept)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let mut want: Vec<String> = forks
        .iter()
        .map(|f| {
            format!(
                "{}-{}",
                diff["start"].as_str().unwrap(),
                f["commit"].as_str().unwrap()
            )
        })
        .collect();
    want.sort();
    want.dedup();
    assert_eq!(entries(), want);
    std::fs::remove_dir_all(&kept).expect("remove the kept comparisons");
    assert_eq!(json(&w.run(&["diff", "--json"])), diff, "computed afresh");
    assert_eq!(entries(), want, "diff keeps what it computed");
    // And a kept entry is what `diff` reads: planted under another fork's name, it shows.
    let entry_of = |fork: &Value| {
        kept.join(format!(
            "{}-{}",
            diff["start"].as_str().unwrap(),
            fork["commit"].as_str().unwrap()
        ))
    };
    let (of_one, of_two) = (entry_of(&forks[0]), entry_of(&forks[2]));
    let saved = std::fs::read(&of_two).expect("two's entry");
    std::fs::copy(&of_one, &of_two).expect("plant one's comparison as two's");
    let planted = json(&w.run(&["diff", "--json"]));
    assert_eq!(planted["forks"][2]["name"], "two");
    assert_eq!(
        planted["forks"][2]["files"], forks[0]["files"],
        "read from the entry"
    );
    std::fs::write(&of_two, &saved).expect("put two's back");
    let one = kept.join(&want[0]);
    let bytes = std::fs::read(&one).expect("entry");
    std::fs::write(&one, &bytes[..bytes.len() / 2]).expect("cut the entry short");
    assert_eq!(
        json(&w.run(&["diff", "--json"])),
        diff,
        "a torn entry is recomputed"
    );
    assert_eq!(
        std::fs::read(&one).expect("entry"),
        bytes,
        "and written again"
    );

    let pairs = diff["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 6);
    let pair = |a: &str, b: &str| {
        pairs
            .iter()
            .find(|p| p["a"] == a && p["b"] == b)
            .unwrap_or_else(|| panic!("no pair {a}-{b}"))
            .clone()
    };
    let p = pair("one", "copy");
    assert_eq!(strings(&p["same"]), ["src/app.js", "src/one.js"]);
    assert!(strings(&p["differ"]).is_empty());
    assert!(strings(&p["only_a"]).is_empty() && strings(&p["only_b"]).is_empty());
    assert_eq!(p["similarity"].as_f64(), Some(1.0));

    let p = pair("one", "two");
    assert_eq!(strings(&p["same"]), ["src/app.js"]);
    assert!(strings(&p["differ"]).is_empty());
    assert_eq!(strings(&p["only_a"]), ["src/one.js"]);
    assert_eq!(strings(&p["only_b"]), ["src/two.js"]);
    let partly = p["similarity"].as_f64().unwrap();
    assert!(partly > 0.0 && partly < 1.0, "{partly}");

    let p = pair("one", "three");
    assert!(strings(&p["same"]).is_empty());
    assert_eq!(strings(&p["differ"]), ["src/app.js"]);
    assert_eq!(strings(&p["only_a"]), ["src/one.js"]);
    assert_eq!(
        strings(&p["only_b"]),
        ["README.md", "README.txt", "src/three.js"]
    );
    let apart = p["similarity"].as_f64().unwrap();
    assert!(apart < partly, "{apart} vs {partly}");

    // The table, with the token counts (which depend on OpenCode's system prompt) masked.
    let table = text(&w.run(&["diff"]));
    insta::with_settings!({filters => vec![
        (r"\d+(\.\d+)?[kM]? in / \d+(\.\d+)?[kM]? out", "[tokens]"),
    ]}, {
        insta::assert_snapshot!("diff_table", table);
    });
    assert_eq!(
        text(&w.run(&["diff", "cmp"])),
        table,
        "`diff RUN` is the table"
    );
    insta::assert_snapshot!(
        "diff_stat_sections",
        text(&w.run(&["diff", "--stat"]))
            .split_once("\n\n")
            .unwrap()
            .1
    );

    let patch = text(&w.run(&["diff", "three"]));
    insta::assert_snapshot!("diff_one_fork", patch);
    assert_eq!(
        text(&w.run(&["diff", "cmp/three"])),
        patch,
        "RUN/FORK names the same fork"
    );
    insta::assert_snapshot!("diff_vs", text(&w.run(&["diff", "one", "--vs", "three"])));
    assert!(text(&w.run(&["diff", "one", "--vs", "copy"])).is_empty());

    let vs = json(&w.run(&["diff", "one", "--vs", "two", "--json"]));
    assert_eq!(vs["pairs"].as_array().unwrap().len(), 1);
    assert_eq!(vs["pairs"][0], pair("one", "two"));

    // Unknown names: exit 2 and the valid names listed.
    let out = w.run(&["diff", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("`nope`") && err.contains("one, copy, two, three") && err.contains("cmp"),
        "{err}"
    );
    let out = w.run(&["diff", "cmp/nope"]);
    exits_with(
        &out,
        2,
        "no fork `nope` in run `cmp`; its forks: one, copy, two, three",
    );
    let out = w.run(&["diff", "other/one"]);
    exits_with(&out, 2, "no run named `other`; runs here: cmp");
    let out = w.run(&["diff", "one", "--vs", "zzz"]);
    exits_with(&out, 2, "its forks: one, copy, two, three");
    let out = w.run(&["merge", "zzz"]);
    exits_with(&out, 2, "its forks: one, copy, two, three");
    let out = w.run(&["diff", "--vs", "one"]);
    assert_eq!(out.status.code(), Some(2));

    // Cleaning the run away takes its kept comparisons with it.
    let out = w.run(&["clean", "cmp", "--force"]);
    assert_eq!(out.status.code(), Some(0), "clean: {}", stderr(&out));
    assert!(entries().is_empty(), "{:?}", entries());
}
