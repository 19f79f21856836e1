//! A user's second day: OpenCode config that is not committed reaches every fork (and stays out
//! of its commits), a branch `clean` kept can be continued, and a verdict `continue` made
//! stale says so.

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
