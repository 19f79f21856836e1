//! The `session` tool end to end: real OpenCode with ocfork's plugin installed, the scripted
//! model calling the tool, and the same requests through `ocfork session`. Tests that are not
//! about the server share one (`common::shared`), each with sessions of its own; the hop limit
//! and an unreachable server need a server started with their own environment.

use std::sync::OnceLock;

use crate::common::serve::{Serve, describe, session_calls, state, text_of};
use crate::common::session::{answered_by, free_port, is_user_text, relayed_to, session_call};
use crate::common::shared::{Shared, shared};
use crate::common::*;
use ocfork::opencode::types::Message;
use serde_json::{Value, json};

/// The rules of every test on the shared server; no `when` is in another test's prompts.
fn rules() -> Vec<Rule> {
    vec![
        session_call(
            "Ask plan to review",
            &[("message", Some("plan"), "Plan: review the change")],
        ),
        says("Plan: review the change", "Reviewed by plan."),
        says("Plan: look again", "Looked again."),
        session_call(
            "Start research",
            &[("new", Some("plan"), "Research phase: collect facts")],
        ),
        says("Research phase", "Facts collected."),
        session_call(
            "Wrap up",
            &[("compact", Some("plan"), "Continue the architecture review")],
        ),
        says(
            "Continue the architecture review",
            "Reviewing the compacted work.",
        ),
        says("Review once more", "Reviewed once more."),
        ask_nobody(),
        relay_then_stall(),
    ]
}

/// The module's shared world and server.
fn on_shared() -> (&'static World, &'static Serve) {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    let s = shared(&SHARED, "session_tool", rules);
    (&s.w, &s.srv)
}

/// A new session on the shared server, in its world's repo, prompted with `text` for build.
fn prompted(text: &str) -> (&'static World, &'static Serve, String) {
    let (w, srv) = on_shared();
    let session = srv.create_session(&w.repo);
    srv.prompt(&session, &w.repo, "build", text);
    (w, srv, session)
}

/// A session [`prompted`] with `text`, once plan has answered the `relayed` text build's tool
/// call relayed: the world, server, session and its history.
fn prompted_until_plan_answers(
    text: &str,
    relayed: &str,
) -> (&'static World, &'static Serve, String, Vec<Message>) {
    let (w, srv, s) = prompted(text);
    let what = format!("plan's answer to {relayed:?}");
    let messages = srv.wait_for(&s, &w.repo, &what, |m| relayed_to(m, relayed, "plan"));
    (w, srv, s, messages)
}

/// `ocfork session MODE --agent plan --json TEXT` on session `s` exits 0, and the session's
/// history then holds TEXT answered by plan: the outcome it printed.
fn relay_to_plan_by_cli(w: &World, srv: &Serve, s: &str, mode: &str, text: &str) -> Value {
    let out = srv.session(w, mode, s, &["--agent", "plan", "--json", text]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let messages = srv.messages(s, &w.repo);
    assert!(
        relayed_to(&messages, text, "plan"),
        "{}",
        describe(&messages)
    );
    json(&out)
}

fn ask_nobody() -> Rule {
    session_call("Ask nobody", &[("message", Some("nope"), "hello?")])
}

fn relay_then_stall() -> Rule {
    Rule {
        when: "Relay then stall".into(),
        model: None,
        steps: vec![
            Step {
                tool: "session".into(),
                args: json!({ "mode": "message", "agent": "plan", "text": "This must never arrive" }),
            },
            Step {
                tool: "bash".into(),
                args: json!({ "command": "touch stalled && sleep 60", "description": "stall" }),
            },
        ],
        reply: "not reached".into(),
        fail: None,
    }
}

#[test]
fn message_to_plan_through_the_tool_and_the_cli() {
    let (w, srv, s, messages) =
        prompted_until_plan_answers("Ask plan to review the store", "Plan: review the change");
    let i = messages
        .iter()
        .position(|m| is_user_text(m, "Plan: review the change"))
        .unwrap();
    // The relay came after build's turn ended: build answered first.
    assert!(
        messages[..i]
            .iter()
            .any(|m| answered_by(m, "build") && text_of(m).contains("Handed over")),
        "{}",
        describe(&messages)
    );
    assert_eq!(messages[i].info.agent.as_deref(), Some("plan"));
    let relays = w
        .model
        .requests()
        .iter()
        .filter(|r| r.last_user.contains("Plan: review the change"))
        .count();
    assert_eq!(relays, 1, "plan was asked once");

    // Same through the CLI: waits for the idle point, prints the session it acted on.
    let outcome = relay_to_plan_by_cli(w, srv, &s, "message", "Plan: look again");
    assert_eq!(outcome["session"], s.as_str());
    assert_eq!(outcome["mode"], "message");
    assert_eq!(outcome["state"], "done");
    assert_eq!(outcome["hop"], 0);
    let out = srv.session(w, "message", &s, &["Plan: look again"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), s, "plain output is the session id");
}

#[test]
fn new_hands_off_to_a_fresh_session() {
    let (w, srv, s) = prompted("Start research now");
    let messages = srv.wait_for(&s, &w.repo, "build's turn", |m| {
        m.last()
            .is_some_and(|m| answered_by(m, "build") && text_of(m).contains("Handed over"))
    });
    let call = *session_calls(&messages).first().expect("tool call");
    assert_eq!(state(call, "status"), "completed", "{call}");
    let output = state(call, "output");
    let new = output
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|t| t.starts_with("ses_") && *t != s)
        .unwrap_or_else(|| panic!("no session id in the tool output: {output}"));
    let fresh = srv.wait_for(new, &w.repo, "the new session's answer", |m| {
        m.len() >= 2 && answered_by(&m[m.len() - 1], "plan")
    });
    assert_eq!(
        fresh.len(),
        2,
        "only the new prompt and its answer: {}",
        describe(&fresh)
    );
    assert!(is_user_text(&fresh[0], "Research phase: collect facts"));
    assert_eq!(fresh[0].info.agent.as_deref(), Some("plan"));
    assert!(!text_of(&fresh[0]).contains("Start research now"));
    // The calling session got nothing relayed.
    let after = srv.messages(&s, &w.repo);
    assert!(
        !after.iter().any(|m| is_user_text(m, "Research phase")),
        "{}",
        describe(&after)
    );
}

#[test]
fn compact_summarizes_then_hands_off() {
    let (w, srv, s, messages) = prompted_until_plan_answers(
        "Wrap up the implementation",
        "Continue the architecture review",
    );
    let summary = messages
        .iter()
        .position(|m| m.info.role == "assistant" && m.info.summary == Some(json!(true)))
        .unwrap_or_else(|| panic!("no summary: {}", describe(&messages)));
    assert_eq!(messages[summary].info.agent.as_deref(), Some("compaction"));
    let marker = messages
        .iter()
        .position(|m| {
            is_user_text(
                m,
                "[Compacting session - plan agent will respond after completion]",
            )
        })
        .unwrap_or_else(|| panic!("no marker: {}", describe(&messages)));
    let text = messages
        .iter()
        .position(|m| is_user_text(m, "Continue the architecture review"))
        .unwrap();
    assert!(summary < marker && marker < text, "{}", describe(&messages));
    assert!(answered_by(&messages[text + 1], "plan"));

    // Through the CLI the outcome says session.compacted was seen.
    let outcome = relay_to_plan_by_cli(w, srv, &s, "compact", "Review once more");
    assert_eq!(outcome["compacted"], true, "{outcome}");
    assert_eq!(outcome["state"], "done");
}

#[test]
fn bad_requests_are_refused_clearly() {
    let (w, srv, s) = prompted("Ask nobody at all");
    let messages = srv.wait_for(&s, &w.repo, "build's turn", |m| {
        m.len() > 2 && m.last().is_some_and(|m| answered_by(m, "build"))
    });
    let call = *session_calls(&messages).first().expect("tool call");
    assert_eq!(state(call, "status"), "error", "{call}");
    let error = state(call, "error");
    assert!(
        error.contains("unknown agent `nope`") && error.contains("build") && error.contains("plan"),
        "{error}"
    );

    let out = srv.session(w, "message", &s, &["--agent", "nope", "hi"]);
    exits_with(&out, 2, "unknown agent `nope`; agents here: build");
    let out = srv.session(w, "new", "ses_doesnotexist", &["hi"]);
    exits_with(
        &out,
        2,
        "no OpenCode session ses_doesnotexist on http://127.0.0.1",
    );
    let out = srv.session(w, "fork", "bogus", &["hi"]);
    exits_with(&out, 2, "no OpenCode session bogus");
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = srv.ocfork(
        w,
        &[
            "session",
            "message",
            "--session",
            &s,
            "--server",
            &dead,
            "hi",
        ],
    );
    exits_with(
        &out,
        1,
        &format!("cannot reach the OpenCode server at {dead}"),
    );

    // The tool reports a server it cannot reach as its result too (a server of its own: the
    // plugin reads the URL from the server's environment).
    let w = world(vec![ask_nobody()]);
    let (srv, s) = Serve::prompted(&w, &[("OCFORK_SERVER_URL", &dead)], "Ask nobody at all");
    let messages = srv.wait_for(&s, &w.repo, "build's turn", |m| {
        m.len() > 2 && m.last().is_some_and(|m| answered_by(m, "build"))
    });
    let call = *session_calls(&messages).first().expect("tool call");
    let error = state(call, "error");
    assert!(error.contains("cannot reach the OpenCode server"), "{call}");
}

#[test]
fn agents_relaying_to_each_other_stop_at_the_hop_limit() {
    let w = world(vec![
        session_call("ping", &[("message", Some("plan"), "pong")]),
        session_call("pong", &[("message", Some("build"), "ping")]),
    ]);
    let (srv, s) = Serve::prompted(&w, &[("OCFORK_MAX_HOPS", "3")], "ping");
    let messages = srv.wait_for(&s, &w.repo, "the hop-limit notice", |m| {
        m.iter().any(|m| is_user_text(m, "hop limit"))
    });
    let relays: Vec<&Message> = messages
        .iter()
        .filter(|m| {
            m.info.role == "user"
                && m.parts
                    .iter()
                    .any(|p| p.pointer("/metadata/ocfork/relay").is_some())
        })
        .collect();
    assert_eq!(relays.len(), 3, "{}", describe(&messages));
    let hops: Vec<u64> = relays
        .iter()
        .filter_map(|m| {
            m.parts
                .iter()
                .find_map(|p| p.pointer("/metadata/ocfork/relay").and_then(|v| v.as_u64()))
        })
        .collect();
    assert_eq!(hops, [1, 2, 3]);
    let refused = *session_calls(&messages).last().expect("tool call");
    assert_eq!(state(refused, "status"), "error");
    assert!(state(refused, "error").contains("hop limit"));
    let notice = messages.last().unwrap();
    assert!(
        is_user_text(notice, "relay to build not sent: 3 relays in a row"),
        "{}",
        describe(&messages)
    );
}

#[test]
fn a_relay_queued_by_an_aborted_turn_is_dropped() {
    let (w, srv, s) = prompted("Relay then stall");
    assert!(
        wait_until(std::time::Duration::from_secs(120), || w
            .repo
            .join("stalled")
            .exists())
        .is_some(),
        "the turn never reached its bash step"
    );
    srv.block(srv.client().abort(&s, &w.repo)).expect("abort");
    let messages = srv.wait_for(&s, &w.repo, "the drop notice", |m| {
        m.iter().any(|m| is_user_text(m, "dropped"))
    });
    let notice = messages
        .iter()
        .find(|m| is_user_text(m, "dropped"))
        .unwrap();
    assert!(
        text_of(notice).contains("relay to plan"),
        "{}",
        describe(&messages)
    );
    assert!(
        text_of(notice).contains("aborted"),
        "{}",
        describe(&messages)
    );
    assert!(
        !messages
            .iter()
            .any(|m| is_user_text(m, "This must never arrive")),
        "{}",
        describe(&messages)
    );
    assert!(
        !w.model
            .requests()
            .iter()
            .any(|r| r.last_user.contains("This must never arrive"))
    );
}

#[test]
fn agents_are_listed_from_the_server() {
    let (w, srv) = on_shared();
    let out = srv.ocfork(w, &["agents", "--json", "--server", &srv.url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let agents = json(&out);
    let names: Vec<&str> = agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"build") && names.contains(&"plan"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"compaction"),
        "hidden agents are left out: {names:?}"
    );
    let build = entry(&agents, "name", "build");
    assert_eq!(build["mode"], "primary");
    assert!(build["description"].as_str().is_some_and(|d| !d.is_empty()));
    let out = srv.ocfork(w, &["agents", "--server", &srv.url]);
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("plan ") && l.contains("primary")),
        "{}",
        stdout(&out)
    );
}

/// Without --server, ocfork starts an OpenCode of its own: an unknown session is the user's
/// session id at fault, not a server the user never named.
#[test]
fn an_unknown_session_without_server_blames_the_session() {
    let w = world(vec![]);
    let out = w.run(&["session", "message", "--session", "ses_nosuch", "hi"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    insta::assert_snapshot!("session_unknown_without_server", stderr(&out));
}
