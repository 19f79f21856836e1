//! The naming rule users see: one rule for `NAME=TEXT` (said in `try --help`), letters
//! transliterated in derived names, short generated run names, commit subjects cut at a word.

use crate::common::*;

#[test]
fn names_follow_one_rule_and_read_well() {
    let help = ok(&w_help());
    assert!(help.contains("NAME=TEXT"), "{help}");
    assert!(help.contains("uber-cafe"), "{help}");

    let long = "Über Café: store the orders in a map keyed by table and then print every receipt";
    let w = suite_world(vec![writes("Über Café", &[("src/cafe.js", "// cafe\n")])]);
    let out = w.try_run(
        0,
        &[
            long,
            "ünï=Do it",
            "with space=Do it too",
            "plain=Do nothing",
        ],
    );
    let err = stderr(&out);
    let run = json(&out);
    let names: Vec<&str> = run["forks"]
        .as_array()
        .expect("forks")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "uber-cafe-store-the-orders-in-a-map",
            "uni-do-it",
            "with-space-do-it-too",
            "plain"
        ]
    );
    // Text before `=` that is no fork name is said to be prompt text, whatever it holds.
    for head in ["ünï", "with space"] {
        assert!(
            err.contains(&format!("`{head}` is not a fork name")),
            "{err}"
        );
    }
    assert_eq!(fork(&run, "uni-do-it")["prompt"], "ünï=Do it");
    let name = run["run"].as_str().expect("run");
    assert_eq!(name, "uber-cafe-and-3-more");
    // The commit subject ends at a word.
    let branch = format!("ocfork/{name}/uber-cafe-store-the-orders-in-a-map");
    let subject = w.git(&["log", "-1", "--format=%s", &branch]);
    assert!(
        subject.trim_end().ends_with("table and…"),
        "cut mid-word: {subject}"
    );
}

fn w_help() -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ocfork"))
        .args(["try", "--help"])
        .output()
        .expect("runs")
}
