//! Tests of the scripted model server over real HTTP.

use super::*;
use crate::chat::truncate_chars;
use serde_json::json;
use std::time::Instant;

fn redux_script() -> Script {
    Script {
        rules: vec![
            Rule {
                when: "Redux".into(),
                model: None,
                steps: vec![
                    Step {
                        tool: "write".into(),
                        args: json!({ "filePath": "src/store.js", "content": "export {}\n" }),
                    },
                    Step {
                        tool: "bash".into(),
                        args: json!({ "command": "ls", "description": "list" }),
                    },
                ],
                reply: "Done with Redux.".into(),
                fail: None,
            },
            Rule {
                when: "Zustand".into(),
                model: Some("other".into()),
                steps: vec![],
                reply: "Zustand on other.".into(),
                fail: None,
            },
            Rule {
                when: "flaky".into(),
                model: None,
                steps: vec![Step {
                    tool: "write".into(),
                    args: json!({ "filePath": "a.txt", "content": "a" }),
                }],
                reply: "ok".into(),
                fail: Some(Failure {
                    status: Some(500),
                    message: Some("boom".into()),
                    hang: false,
                    times: Some(1),
                    retry_after_ms: None,
                }),
            },
            Rule {
                when: "stuck".into(),
                model: None,
                steps: vec![],
                reply: String::new(),
                fail: Some(Failure {
                    status: None,
                    message: None,
                    hang: true,
                    times: None,
                    retry_after_ms: None,
                }),
            },
        ],
        default_reply: "I have no script for that.".into(),
    }
}

fn tools() -> Value {
    json!([{ "type": "function", "function": { "name": "write", "parameters": { "type": "object" } } }])
}

fn agent_body(model: &str, messages: Value) -> Value {
    json!({ "model": model, "stream": true, "stream_options": { "include_usage": true }, "tools": tools(), "messages": messages })
}

async fn post(server: &ModelServer, body: &Value) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{}/chat/completions", server.base_url()))
        .json(body)
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// The JSON chunks of an SSE body, checking it ends with `[DONE]`.
fn chunks(sse: &str) -> Vec<Value> {
    let datas: Vec<&str> = sse
        .split("\n\n")
        .filter_map(|ev| ev.trim().strip_prefix("data: "))
        .collect();
    assert_eq!(datas.last(), Some(&"[DONE]"), "{sse}");
    datas[..datas.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).expect("chunk json"))
        .collect()
}

fn finish_reason(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect()
}

fn text_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

async fn start(script: Script) -> ModelServer {
    ModelServer::start(script, Options::default())
        .await
        .expect("start")
}

#[tokio::test]
async fn first_agent_turn_gets_step_zero_tool_call() {
    let server = start(redux_script()).await;
    let body = agent_body(
        "scripted",
        json!([
            { "role": "system", "content": "You are OpenCode." },
            { "role": "user", "content": "Please use Redux for state" },
        ]),
    );
    let (status, sse) = post(&server, &body).await;
    assert_eq!(status, 200);
    let chunks = chunks(&sse);
    assert_eq!(finish_reason(&chunks), "tool_calls");
    let call = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert_eq!(call["type"], "function");
    assert!(
        call["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("call_"))
    );
    assert_eq!(call["function"]["name"], "write");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().expect("string args"))
            .expect("args json");
    assert_eq!(args["filePath"], "src/store.js");
    let usage = &chunks.last().expect("chunk")["usage"];
    assert!(usage["total_tokens"].as_u64().is_some_and(|t| t > 0));

    let resp = reqwest::Client::new()
        .post(format!("{}/chat/completions", server.base_url()))
        .header("x-session-id", "ses_abc")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].session, None);
    assert_eq!(log[1].session.as_deref(), Some("ses_abc"));
    assert_eq!(log[0].system, "You are OpenCode.");
    assert_eq!(log[0].rule.as_deref(), Some("Redux"));
    assert_eq!(log[0].answer, "tool:write");
    server.stop().await;
}

#[tokio::test]
async fn tool_messages_after_last_user_advance_steps() {
    let server = start(redux_script()).await;
    let user = json!({ "role": "user", "content": [{ "type": "text", "text": "Use " }, { "type": "text", "text": "Redux" }] });
    let assistant = json!({ "role": "assistant", "content": null, "tool_calls": [] });
    let tool = json!({ "role": "tool", "tool_call_id": "call_1", "content": "ok" });

    // A tool message before the last user message does not count.
    let body = agent_body(
        "scripted",
        json!([user, assistant, tool, { "role": "user", "content": "Redux again" }, assistant, tool]),
    );
    let chunks1 = chunks(&post(&server, &body).await.1);
    assert_eq!(
        chunks1[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "bash"
    );

    let body = agent_body("scripted", json!([user, assistant, tool, assistant, tool]));
    let chunks2 = chunks(&post(&server, &body).await.1);
    assert_eq!(finish_reason(&chunks2), "stop");
    assert_eq!(text_of(&chunks2), "Done with Redux.");

    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert!(log.iter().any(|r| r.step == 1 && r.answer == "tool:bash"));
    assert!(
        log.iter()
            .any(|r| r.step == 2 && r.answer == "text" && r.last_user == "Use Redux")
    );
    server.stop().await;
}

#[tokio::test]
async fn requests_without_tools_get_plain_text() {
    let server = start(redux_script()).await;
    let messages = json!([
        { "role": "system", "content": "You are a title generator." },
        { "role": "user", "content": "Use Redux" },
    ]);
    let (status, body) = post(
        &server,
        &json!({ "model": "scripted", "messages": messages }),
    )
    .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], AUX_REPLY);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().is_some());

    let (_, sse) = post(
        &server,
        &json!({ "model": "scripted", "stream": true, "messages": messages }),
    )
    .await;
    let chunks = chunks(&sse);
    assert_eq!(text_of(&chunks), AUX_REPLY);
    assert_eq!(finish_reason(&chunks), "stop");

    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|r| !r.agent_turn && r.rule.is_none()));
    assert_eq!(log[0].system, "You are a title generator.");
    server.stop().await;
}

#[tokio::test]
async fn failure_rule_fails_given_times_then_works() {
    let server = start(redux_script()).await;
    let body = agent_body(
        "scripted",
        json!([{ "role": "user", "content": "be flaky" }]),
    );
    let (status, text) = post(&server, &body).await;
    assert_eq!(status, 500);
    let err: Value = serde_json::from_str(&text).expect("error json");
    assert_eq!(err["error"]["message"], "boom");
    assert!(err["error"]["type"].is_string());

    let (status, sse) = post(&server, &body).await;
    assert_eq!(status, 200);
    assert_eq!(finish_reason(&chunks(&sse)), "tool_calls");

    // A new script resets the failure counters.
    server.set_script(redux_script());
    assert_eq!(post(&server, &body).await.0, 500);

    let answers: Vec<String> = server.requests().into_iter().map(|r| r.answer).collect();
    assert_eq!(answers, ["error:500", "tool:write", "error:500"]);
    server.stop().await;
}

#[tokio::test]
async fn model_filter_and_default_reply() {
    let server = start(redux_script()).await;
    let msgs = json!([{ "role": "user", "content": "Use Zustand" }]);
    let on_other = chunks(&post(&server, &agent_body("other", msgs.clone())).await.1);
    assert_eq!(text_of(&on_other), "Zustand on other.");
    let on_default = chunks(&post(&server, &agent_body("scripted", msgs)).await.1);
    assert_eq!(text_of(&on_default), "I have no script for that.");
    let log = server.requests();
    assert_eq!(log[0].rule.as_deref(), Some("Zustand"));
    assert_eq!(log[1].rule, None);
    server.stop().await;
}

#[tokio::test]
async fn non_streaming_agent_turn_gets_tool_call_message() {
    let server = start(redux_script()).await;
    let mut body = agent_body("scripted", json!([{ "role": "user", "content": "Redux" }]));
    body["stream"] = json!(false);
    let v: Value = serde_json::from_str(&post(&server, &body).await.1).expect("json");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "write"
    );
    server.stop().await;
}

#[path = "tests_server.rs"]
mod server;

#[test]
fn a_script_may_leave_out_all_but_when() {
    let script =
        Script::from_json_str(r#"{"rules":[{"when":"x"},{"when":"y","fail":{"hang":true}}]}"#)
            .expect("a script");
    let [x, y] = &script.rules[..] else {
        panic!("two rules: {script:?}");
    };
    assert!(x.model.is_none() && x.steps.is_empty() && x.reply.is_empty() && x.fail.is_none());
    let fail = y.fail.as_ref().expect("fail");
    assert!(fail.hang && fail.status.is_none() && fail.times.is_none());
    assert!(fail.message.is_none() && fail.retry_after_ms.is_none());
    assert_eq!(script.default_reply, "");
    assert!(
        Script::from_json_str(r#"{"rules":[{"reply":"r"}]}"#).is_err(),
        "when is needed"
    );
}
