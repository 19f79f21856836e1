//! Helpers the `session` tool's tests share: scripted `session` calls, message checks, waiting for a run.

use super::serve::{Serve, text_of};
use super::*;
use ocfork::opencode::types::Message;
use serde_json::json;

pub fn session_call(when: &str, calls: &[(&str, Option<&str>, &str)]) -> Rule {
    Rule {
        when: when.to_string(),
        model: None,
        steps: calls
            .iter()
            .map(|(mode, agent, text)| Step {
                tool: "session".into(),
                args: match agent {
                    Some(a) => json!({ "mode": mode, "agent": a, "text": text }),
                    None => json!({ "mode": mode, "text": text }),
                },
            })
            .collect(),
        reply: format!("Handed over ({when})."),
        fail: None,
    }
}

pub fn is_user_text(m: &Message, text: &str) -> bool {
    m.info.role == "user" && text_of(m).contains(text)
}

pub fn answered_by(m: &Message, agent: &str) -> bool {
    m.info.role == "assistant"
        && m.info.agent.as_deref() == Some(agent)
        && m.info.time.completed.is_some()
}

/// The relayed user message exists and the message after it is the target agent's answer.
pub fn relayed_to(messages: &[Message], text: &str, agent: &str) -> bool {
    messages
        .iter()
        .position(|m| is_user_text(m, text))
        .is_some_and(|i| messages.get(i + 1).is_some_and(|m| answered_by(m, agent)))
}

/// Polls `ocfork status RUN --json` until the run is no longer running.
pub fn wait_run(srv: &Serve, w: &World, run: &str) -> serde_json::Value {
    let mut last = String::new();
    wait_until(std::time::Duration::from_secs(120), || {
        let out = srv.ocfork(w, &["status", run, "--json"]);
        last = stdout(&out);
        let v = (out.status.code() == Some(0)).then(|| json(&out))?;
        (v["state"] != "running" && v["forks"].as_array().is_some_and(|f| f.len() == 2))
            .then_some(v)
    })
    .unwrap_or_else(|| panic!("run {run} did not finish: {last}"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
