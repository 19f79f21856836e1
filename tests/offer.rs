//! What the server offers, read as OpenCode sends it: custom agents from the user's config
//! (`opencode.json` and `.opencode/agent/*.md`) through `ocfork agents` and `ocfork session`,
//! and `try`'s up-front checks of agents and models before any worktree or branch is made.

mod common;

use common::serve::{Serve, describe};
use common::*;

/// `researcher` in the repo's `opencode.json` (committed; its optional fields come back
/// `null`) and `reviewer` in a markdown agent file naming its own model. The file is in the
/// world's OpenCode config dir (`agent/*.md`, read as `.opencode/agent/*.md` is): a project
/// `.opencode/` makes OpenCode npm-install into it before its first answer (~1-2 min here).
fn with_custom_agents(w: &World) {
    std::fs::write(
        w.repo.join("opencode.json"),
        r#"{"agent": {"researcher": {"mode": "primary", "description": "Researches things.", "prompt": "You research."}}}"#,
    )
    .expect("write opencode.json");
    let agents = w.path("xdg/config/opencode/agent");
    std::fs::create_dir_all(&agents).expect("mkdir");
    std::fs::write(
        agents.join("reviewer.md"),
        "---\ndescription: Reviews code.\nmode: primary\nmodel: scripted/other\n---\nYou review code.\n",
    )
    .expect("write reviewer.md");
    w.git(&["add", "opencode.json"]);
    w.git(&["commit", "-q", "-m", "custom agents"]);
}

#[test]
fn custom_agents_are_listed_and_take_session_calls() {
    let Some(w) = World::new(Script::default()) else {
        return;
    };
    with_custom_agents(&w);
    let srv = Serve::start(&w, &[]);
    let out = srv.ocfork(&w, &["agents", "--json", "--server", &srv.url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let agents = json(&out);
    let find = |name: &str| {
        agents
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no agent {name} in {agents}"))
    };
    assert_eq!(find("researcher")["description"], "Researches things.");
    assert_eq!(find("researcher")["mode"], "primary");
    assert_eq!(find("researcher")["model"], serde_json::Value::Null);
    assert_eq!(find("reviewer")["model"], "scripted/other");
    assert_eq!(find("build")["mode"], "primary");

    for agent in ["researcher", "reviewer"] {
        let s = srv.create_session(&w.repo);
        let text = format!("Over to {agent}");
        let out = srv.ocfork(
            &w,
            &[
                "session", "message", "--session", &s, "--agent", agent, "--server", &srv.url,
                "--json", &text,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(json(&out)["state"], "done", "{}", stdout(&out));
        let messages = srv.messages(&s, &w.repo);
        assert!(
            messages
                .iter()
                .any(|m| m.info.role == "assistant" && m.info.agent.as_deref() == Some(agent)),
            "{}",
            describe(&messages)
        );
    }
}
