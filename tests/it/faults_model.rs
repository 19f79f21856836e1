//! The model fails: HTTP 500, 429 then success, connection refused, a call that never answers.
//! The fork's state and error say which; OpenCode's retries show live in `status`.

use std::process::Stdio;
use std::time::Duration;

use crate::common::*;
use serde_json::Value;

fn failing(when: &str, fail: Failure) -> Rule {
    Rule {
        fail: Some(fail),
        ..writes(when, &[("out.txt", "written after the failures\n")])
    }
}

fn only_fork(run: &Value) -> &Value {
    &run["forks"][0]
}

/// A model reply of HTTP `status` with `message`, asking to be retried after `retry_after_ms`.
fn http(status: u16, message: &str, retry_after_ms: u64) -> Failure {
    Failure {
        status: Some(status),
        message: Some(message.into()),
        retry_after_ms: Some(retry_after_ms),
        ..Failure::default()
    }
}

fn answers(w: &World, rule: &str) -> Vec<String> {
    w.model
        .requests()
        .iter()
        .filter(|r| r.agent_turn && r.rule.as_deref() == Some(rule))
        .map(|r| r.answer.clone())
        .collect()
}

#[test]
fn http_500_every_time_fails_the_fork_naming_the_status() {
    // OpenCode's own backoff starts at 2 s and doubles; the header keeps the five retries fast.
    let w = suite_world(vec![failing(
        "Use broken",
        http(500, "the model broke", 50),
    )]);
    let run = w.try_json(1, &["broken=Use broken"]);
    let fork = only_fork(&run);
    assert_eq!(fork["state"], "failed", "{fork:#}");
    let error = fork["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("HTTP 500") && error.contains("the model broke"),
        "{error}"
    );
    let answers = answers(&w, "Use broken");
    assert!(answers.len() > 1, "OpenCode retried a 500: {answers:?}");
    assert!(answers.iter().all(|a| a == "error:500"), "{answers:?}");
    assert!(
        fork["commit"].is_string(),
        "the fork still has a commit: {fork:#}"
    );
}

#[test]
fn http_429_is_retried_shows_as_retrying_then_succeeds() {
    let fail = Failure {
        times: Some(2),
        // Long enough between retries for `status` to see them.
        ..http(429, "rate limited", 2500)
    };
    let w = suite_world(vec![failing("Use limited", fail)]);
    let child = w.spawn(
        &["try", "--json", "-n", "rl", "limited=Use limited"],
        Stdio::piped(),
        Stdio::null(),
    );
    let seen = wait_until(Duration::from_secs(60), || {
        let out = w.run(&["status", "rl", "--json"]);
        let run: Value = serde_json::from_slice(&out.stdout).ok()?;
        let activity = only_fork(&run)["activity"].as_str()?.to_string();
        activity
            .starts_with("retrying (attempt")
            .then_some(activity)
    });
    let out = child.wait_with_output().expect("try ends");
    let activity = seen.expect("status showed the fork retrying");
    assert!(
        activity.contains("rate limited") || activity.contains("Too Many Requests"),
        "{activity}"
    );
    assert_eq!(out.status.code(), Some(0));
    let run = json(&out);
    let fork = only_fork(&run);
    assert_eq!(fork["state"], "done", "{fork:#}");
    assert_eq!(fork["activity"], Value::Null);
    assert_eq!(fork["files_changed"], 1);
    assert_eq!(
        answers(&w, "Use limited")[..3],
        ["error:429", "error:429", "tool:write"]
    );
}

#[test]
fn connection_refused_times_out_saying_opencode_was_retrying() {
    // Its own server: the model's address is in the server's inline config.
    let w = world(vec![]);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    let config = ocfork_scripted::opencode_config(&format!("http://127.0.0.1:{port}/v1"));
    w.seed_opencode_deps();
    let out = w
        .ocfork()
        .env("OPENCODE_CONFIG_CONTENT", config)
        .args([
            "try",
            "--json",
            "--timeout",
            "10s",
            "nowhere=Use the unreachable model",
        ])
        .output()
        .expect("try runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let run = json(&out);
    let fork = only_fork(&run);
    assert_eq!(fork["state"], "timeout", "{fork:#}");
    let error = fork["error"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        error.starts_with("timed out after 10.0s while opencode was retrying"),
        "{error}"
    );
    assert!(
        error.contains("refused")
            || error.contains("unable to connect")
            || error.contains("connect"),
        "{error}"
    );
}

#[test]
fn hung_model_call_times_out_and_the_session_is_stopped() {
    let fail = Failure {
        hang: true,
        ..Failure::default()
    };
    let w = suite_world(vec![failing("Use hang", fail)]);
    let run = w.try_json(1, &["--timeout", "12s", "hang=Use hang", "fine=Use fine"]);
    let hung = &run["forks"][0];
    assert_eq!(hung["state"], "timeout", "{hung:#}");
    assert_eq!(hung["error"], "timed out after 12.0s");
    assert_eq!(
        run["forks"][1]["state"], "done",
        "a hung fork does not stop the others"
    );
    assert!(answers(&w, "Use hang").contains(&"hang".to_string()));
}
