//! What the server offers, read as OpenCode sends it: custom agents from the user's config
//! (`opencode.json` and `.opencode/agent/*.md`) through `ocfork agents` and `ocfork session`,
//! and `try`'s up-front checks of agents and models before any worktree or branch is made.

use crate::common::serve::{Serve, describe};
use crate::common::*;

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
    let w = World::new(Script::default());
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
        let out = srv.session(&w, "message", &s, &["--agent", agent, "--json", &text]);
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

/// Asserts that nothing was made: no `ocfork/*` branch, no worktree but the main one, no run.
fn nothing_made(w: &World) {
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");
    let worktrees = w.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 1, "{worktrees}");
    let out = w.run(&["list", "--json"]);
    assert_eq!(json(&out), serde_json::json!([]), "no run is recorded");
}

#[test]
fn try_refuses_an_agent_or_model_the_server_does_not_offer() {
    let w = World::new(Script::default());
    let cases = [
        ("unknown_agent", vec!["-a", "nosuchagent"]),
        ("unknown_provider", vec!["-m", "nope/x"]),
        (
            "unknown_model",
            vec!["-m", "scripted/scripted", "-m", "scripted/nope"],
        ),
    ];
    for (name, flags) in cases {
        let mut args = vec!["try"];
        args.extend(flags);
        args.push("Add a feature");
        let out = w.run(&args);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        insta::assert_snapshot!(format!("try_refuses_{name}"), stderr(&out));
        nothing_made(&w);
    }
    assert!(w.model.requests().is_empty(), "no prompt reached the model");
}

#[test]
fn try_records_and_shows_the_model_of_every_fork() {
    let w = World::new(Script::default());
    // OpenCode's config without a `model`: the agent's own one, else OpenCode's default.
    let mut config: serde_json::Value =
        serde_json::from_str(&ocfork_scripted::opencode_config(&w.model.base_url())).unwrap();
    config.as_object_mut().unwrap().remove("model");
    config["agent"] =
        serde_json::json!({"reviewer": {"mode": "primary", "model": "scripted/other"}});
    let config = config.to_string();
    w.seed_opencode_deps();
    let try_run = |args: &[&str]| {
        w.ocfork()
            .env("OPENCODE_CONFIG_CONTENT", &config)
            .args(args)
            .output()
            .unwrap()
    };
    let models = |out: &std::process::Output| -> Vec<String> {
        json(out)["forks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["model"].as_str().unwrap_or("null").to_string())
            .collect()
    };

    let out = try_run(&["try", "--json", "-n", "fallback", "a=Do a", "b=Do b"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(models(&out), ["scripted/scripted", "scripted/scripted"]);
    let shown = stderr(&out);
    assert!(
        shown.contains(
            "ocfork: agent build, model scripted/scripted (OpenCode's default: no model is configured)"
        ),
        "{shown}"
    );
    assert!(!shown.contains("warning"), "{shown}");

    // OpenCode config that is not committed is named: each fork gets a copy of it.
    // (A project `.opencode/` would make OpenCode npm-install into it first: left out.)
    std::fs::write(w.repo.join(".gitignore"), "/opencode.json\n").unwrap();
    w.git(&["add", ".gitignore"]);
    w.git(&["commit", "-q", "-m", "ignore local config"]);
    std::fs::write(w.repo.join("opencode.json"), "{}").unwrap();
    std::fs::write(w.repo.join("opencode.jsonc"), "{}").unwrap();
    let out = try_run(&["try", "--json", "-n", "own", "-a", "reviewer", "c=Do c"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(models(&out), ["scripted/other"]);
    let lines: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| {
            l.starts_with("ocfork: warning")
                || l.starts_with("ocfork: agent")
                || l.contains("is not committed")
        })
        .map(str::to_string)
        .collect();
    insta::assert_snapshot!("try_shows_model_and_config_left_behind", lines.join("\n"));
    let requests = w.model.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.last_user.contains("Do c") && r.model == "other"),
        "{:?}",
        requests
            .iter()
            .map(|r| (&r.last_user, &r.model))
            .collect::<Vec<_>>()
    );
}
