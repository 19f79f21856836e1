//! The `session` tool's judge and synth modes end to end: an agent forks twice, asks for the
//! verdict and a synthesis through the tool, and reads the ranking and the new fork in the
//! tool's result; a refused synthesis is the tool's error. Real OpenCode with the plugin, the
//! scripted model, real git.

use crate::common::serve::{Serve, session_calls, state, text_of};
use crate::common::session::answered_by;
use crate::common::*;
use ocfork::opencode::types::Message;
use serde_json::json;

/// What the synthesis prompt always asks, and no other prompt holds.
const SYNTH_ASK: &str = "keeps the strongest parts of each";
const REDUX: &str = "implement-using-redux";
const CONTEXT: &str = "implement-using-context-api";

/// The parent's turn for `when`: one `session` call with `args`, then `reply`.
fn asks(when: &str, args: serde_json::Value, reply: &str) -> Rule {
    Rule {
        when: when.into(),
        model: None,
        steps: vec![Step {
            tool: "session".into(),
            args,
        }],
        reply: reply.into(),
        fail: None,
    }
}

fn world_of_verdicts() -> World {
    let fork = |text: &str| Step {
        tool: "session".into(),
        args: json!({ "mode": "fork", "agent": "build", "text": text }),
    };
    world(vec![
        // Judges and the synthesizing agent come first: their prompts quote the forks' texts.
        Rule {
            when: SYNTH_ASK.into(),
            model: None,
            steps: vec![Step {
                tool: "write".into(),
                args: json!({ "filePath": "src/store.js", "content": "// redux + context\n" }),
            }],
            reply: "Took the store from redux and the provider from context.".into(),
            fail: None,
        },
        Rule::verdict("## Fork synth", &["synth", CONTEXT, REDUX]),
        Rule::verdict("## Fork ", &[CONTEXT, REDUX]),
        Rule {
            when: "Plan the todo store".into(),
            model: None,
            steps: vec![
                fork("Implement using Redux"),
                fork("Implement using Context API"),
            ],
            reply: "Forked twice.".into(),
            fail: None,
        },
        asks(
            "Judge the forks",
            json!({ "mode": "judge", "text": "the smaller change wins" }),
            "Judged.",
        ),
        asks(
            "Combine the wrong forks",
            json!({ "mode": "synth", "from": format!("nope,{REDUX}") }),
            "Could not combine.",
        ),
        asks(
            "Combine the forks",
            json!({ "mode": "synth", "from": format!("{REDUX},{CONTEXT}") }),
            "Combined.",
        ),
        writes("Implement using Redux", &[("src/redux.js", "// redux\n")]),
        writes(
            "Implement using Context API",
            &[("src/context.js", "// context\n")],
        ),
    ])
}

/// Prompts session `s` with `text` and waits for build's answer `reply`: the `session` call of
/// that turn (the last one in the history).
fn turn(srv: &Serve, w: &World, s: &str, text: &str, reply: &str) -> serde_json::Value {
    srv.prompt(s, &w.repo, "build", text);
    let messages: Vec<Message> = srv.wait_for(s, &w.repo, reply, |m| {
        m.last()
            .is_some_and(|m| answered_by(m, "build") && text_of(m).contains(reply))
    });
    session_calls(&messages)
        .last()
        .map(|c| (*c).clone())
        .unwrap_or_else(|| panic!("no session call before {reply:?}"))
}

/// What the tool returned to the model in the turn for `text` (the scripted model's log).
fn tool_result_seen(w: &World, text: &str) -> String {
    w.model
        .requests()
        .into_iter()
        .filter(|r| r.last_user.contains(text) && r.step == 1)
        .flat_map(|r| r.tool_results)
        .next()
        .unwrap_or_else(|| panic!("the model never got the tool's result for {text:?}"))
}

#[test]
fn the_tool_judges_the_sessions_forks_and_synthesizes_the_best_of_them() {
    let w = world_of_verdicts();
    let (srv, s) = Serve::prompted(&w, &[], "Plan the todo store");
    let (run, _) = crate::session_fork::forked_twice(&srv, &w, &s);
    let head = w.git(&["rev-parse", "HEAD"]);
    let index = w.git(&["write-tree"]);

    // judge: the ranking is the tool's result, and the run holds the verdict.
    let call = turn(&srv, &w, &s, "Judge the forks", "Judged.");
    assert_eq!(state(&call, "status"), "completed", "{call:#}");
    let seen = tool_result_seen(&w, "Judge the forks");
    let judged = format!("Run {run} judged");
    for wanted in [judged.as_str(), CONTEXT, REDUX, "is fine"] {
        assert!(seen.contains(wanted), "no {wanted:?} in:\n{seen}");
    }
    assert!(
        seen.find(CONTEXT) < seen.find(REDUX),
        "context ranks first:\n{seen}"
    );
    let judges: Vec<_> = w
        .model
        .requests()
        .into_iter()
        .filter(|r| r.last_user.contains("## Fork ") && r.step == 0)
        .collect();
    assert!(
        judges
            .iter()
            .any(|r| r.last_user.contains("the smaller change wins")),
        "the tool's text reached the judges as what matters most"
    );
    let status = json(&srv.ocfork(&w, &["status", &run, "--json"]));
    assert_eq!(status["judge"]["ranking"][0]["fork"], CONTEXT, "{status:#}");

    // synth with an unknown fork: the tool's error names it, and nothing is made.
    let call = turn(&srv, &w, &s, "Combine the wrong forks", "Could not");
    assert_eq!(state(&call, "status"), "error", "{call:#}");
    assert!(state(&call, "error").contains("nope"), "{call:#}");
    assert!(w.git(&["branch", "--list", "*synth*"]).trim().is_empty());

    // synth: the new fork's work is on its branch, the run judged again, and the agent reads
    // both in the tool's result.
    let call = turn(&srv, &w, &s, "Combine the forks", "Combined.");
    assert_eq!(state(&call, "status"), "completed", "{call:#}");
    let seen = tool_result_seen(&w, "Combine the forks");
    let branch = format!("ocfork/{run}/synth");
    for wanted in [
        "Synthesized fork",
        branch.as_str(),
        "judged again",
        "synth is fine",
    ] {
        assert!(seen.contains(wanted), "no {wanted:?} in:\n{seen}");
    }
    let prompt = w
        .model
        .requests()
        .into_iter()
        .find(|r| r.agent_turn && r.step == 0 && r.last_user.contains(SYNTH_ASK))
        .expect("the synthesizing agent was prompted")
        .last_user;
    for wanted in ["+// redux", "+// context", "is fine"] {
        assert!(prompt.contains(wanted), "no {wanted:?} in:\n{prompt}");
    }
    assert_eq!(
        w.git(&["show", "--name-only", "--format=", &branch]).trim(),
        "src/store.js"
    );
    let status = json(&srv.ocfork(&w, &["status", &run, "--json"]));
    let synth = fork(&status, "synth");
    assert_eq!(synth["state"], "done", "{synth:#}");
    assert_eq!(synth["synth"]["from"], json!([REDUX, CONTEXT]));
    assert_eq!(status["judge"]["ranking"][0]["fork"], "synth", "{status:#}");

    // The user's branch and index never moved.
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(w.git(&["write-tree"]), index);
}
