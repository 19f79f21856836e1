//! Answering `POST /v1/chat/completions`: reading the request, picking the rule and step,
//! and the scripted answer as one JSON body or an SSE stream, like OpenAI's API.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::server::{Pending, Shared, lock};
use crate::{AUX_REPLY, LoggedRequest, MODELS, SYSTEM_LOG_CHARS, TOOL_RESULT_LOG_CHARS};

/// Text of a message's `content`: a string, or an array of parts whose `text`s are concatenated.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                _ => p.get("text").and_then(Value::as_str),
            })
            .collect(),
        _ => String::new(),
    }
}

pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

struct Parsed {
    model: String,
    stream: bool,
    agent_turn: bool,
    last_user: String,
    step: usize,
    tool_results: Vec<String>,
    system: String,
    prompt_chars: usize,
}

fn parse_request(body: &Value) -> Parsed {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let agent_turn = body
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    let messages: &[Value] = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    fn role(m: &Value) -> &str {
        m.get("role").and_then(Value::as_str).unwrap_or_default()
    }
    let last_user_idx = messages.iter().rposition(|m| role(m) == "user");
    let last_user = last_user_idx
        .map(|i| content_text(messages[i].get("content")))
        .unwrap_or_default();
    let tool_results: Vec<String> = messages
        .iter()
        .skip(last_user_idx.map_or(0, |i| i + 1))
        .filter(|m| role(m) == "tool")
        .map(|m| truncate_chars(&content_text(m.get("content")), TOOL_RESULT_LOG_CHARS))
        .collect();
    let step = tool_results.len();
    let system: String = messages
        .iter()
        .filter(|m| role(m) == "system")
        .map(|m| content_text(m.get("content")))
        .collect::<Vec<_>>()
        .join("\n");
    let prompt_chars = messages
        .iter()
        .map(|m| content_text(m.get("content")).len())
        .sum();
    Parsed {
        model,
        stream,
        agent_turn,
        last_user,
        step,
        tool_results,
        system: truncate_chars(&system, SYSTEM_LOG_CHARS),
        prompt_chars,
    }
}

enum Plan {
    Tool {
        name: String,
        arguments: String,
    },
    Text(String),
    Error {
        status: u16,
        message: String,
        retry_after_ms: Option<u64>,
    },
    Hang,
}

impl Plan {
    fn label(&self) -> String {
        match self {
            Plan::Tool { name, .. } => format!("tool:{name}"),
            Plan::Text(_) => "text".into(),
            Plan::Error { status, .. } => format!("error:{status}"),
            Plan::Hang => "hang".into(),
        }
    }
}

/// Decides the answer; consumes one failure of the matched rule if it fails.
fn plan(shared: &Shared, p: &Parsed) -> (Option<String>, Plan) {
    if !p.agent_turn {
        return (None, Plan::Text(AUX_REPLY.into()));
    }
    let script = lock(&shared.script);
    let Some(idx) = script.find_rule(&p.last_user, &p.model) else {
        return (None, Plan::Text(script.default_reply.clone()));
    };
    let rule = &script.rules[idx];
    let when = Some(rule.when.clone());
    if let Some(fail) = &rule.fail {
        let mut failures = lock(&shared.failures);
        let served = failures.entry(idx).or_insert(0);
        if fail.times.is_none_or(|n| *served < n) {
            *served = served.saturating_add(1);
            if fail.hang {
                return (when, Plan::Hang);
            }
            let status = fail.status.unwrap_or(500);
            let message = fail
                .message
                .clone()
                .unwrap_or_else(|| format!("scripted failure ({status})"));
            let retry_after_ms = fail.retry_after_ms;
            return (
                when,
                Plan::Error {
                    status,
                    message,
                    retry_after_ms,
                },
            );
        }
    }
    let plan = match rule.steps.get(p.step) {
        Some(step) => Plan::Tool {
            name: step.tool.clone(),
            arguments: match &step.args {
                // A string is taken as already-encoded arguments.
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        },
        None => Plan::Text(rule.reply.clone()),
    };
    (when, plan)
}

fn error_response(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = if code.is_client_error() {
        "invalid_request_error"
    } else {
        "server_error"
    };
    let body = json!({ "error": { "message": message, "type": kind, "code": status } });
    (code, axum::Json(body)).into_response()
}

pub(crate) async fn not_found() -> Response {
    error_response(
        404,
        "not found (scripted model serves /v1/chat/completions)",
    )
}

pub(crate) async fn list_models() -> Response {
    let data: Vec<Value> = MODELS
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 0, "owned_by": "scripted" }))
        .collect();
    axum::Json(json!({ "object": "list", "data": data })).into_response()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started_ms = shared.now_ms();
    let seq = shared.seq.fetch_add(1, Ordering::SeqCst);
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            tokio::time::sleep(shared.delay).await;
            return error_response(400, &format!("invalid JSON body: {e}"));
        }
    };
    let parsed = parse_request(&value);
    let (rule, plan) = plan(&shared, &parsed);
    let pending = Pending {
        shared: shared.clone(),
        entry: Some(LoggedRequest {
            seq,
            model: parsed.model.clone(),
            agent_turn: parsed.agent_turn,
            last_user: parsed.last_user.clone(),
            step: parsed.step,
            tool_results: parsed.tool_results.clone(),
            rule,
            answer: String::new(),
            started_ms,
            ended_ms: started_ms,
            system: parsed.system.clone(),
            session: headers
                .get("x-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }),
    };

    if let Plan::Hang = plan {
        // Logged at once so tests can see the request arrived.
        pending.finish(plan.label());
        shared.shutdown.cancelled().await;
        return error_response(503, "scripted model server stopped");
    }

    tokio::time::sleep(shared.delay).await;

    let label = plan.label();
    let response = match plan {
        Plan::Error {
            status,
            message,
            retry_after_ms,
        } => {
            let mut resp = error_response(status, &message);
            if let Some(ms) = retry_after_ms
                && let Ok(v) = axum::http::HeaderValue::from_str(&ms.to_string())
            {
                resp.headers_mut().insert("retry-after-ms", v);
            }
            resp
        }
        Plan::Tool { name, arguments } => {
            let call_id = format!(
                "call_{}_{}",
                seq,
                shared.calls.fetch_add(1, Ordering::SeqCst)
            );
            let completion_chars = name.len() + arguments.len();
            let tool_calls = json!([{
                "index": 0,
                "id": call_id,
                "type": "function",
                "function": { "name": name, "arguments": arguments },
            }]);
            answer(
                &parsed,
                seq,
                json!({ "role": "assistant", "content": null, "tool_calls": tool_calls }),
                "tool_calls",
                completion_chars,
            )
        }
        Plan::Text(text) => {
            let completion_chars = text.len();
            answer(
                &parsed,
                seq,
                json!({ "role": "assistant", "content": text }),
                "stop",
                completion_chars,
            )
        }
        Plan::Hang => error_response(503, "unreachable"),
    };
    pending.finish(label);
    response
}

fn tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(4)).unwrap_or(u64::MAX).max(1)
}

/// A streamed (SSE) or plain chat completion carrying `message` (a delta when streamed).
fn answer(p: &Parsed, seq: u64, message: Value, finish: &str, completion_chars: usize) -> Response {
    let id = format!("chatcmpl-scripted-{seq}");
    let created = unix_now();
    let prompt_tokens = tokens(p.prompt_chars);
    let completion_tokens = tokens(completion_chars);
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    // The fields every completion and chunk carry, around its one choice.
    let envelope = |object: &str, choice: Value| {
        json!({
            "id": id,
            "object": object,
            "created": created,
            "model": p.model,
            "choices": [choice],
        })
    };
    if !p.stream {
        let choice = json!({ "index": 0, "message": message, "finish_reason": finish });
        let mut body = envelope("chat.completion", choice);
        body["usage"] = usage;
        return axum::Json(body).into_response();
    }
    let chunk = "chat.completion.chunk";
    let first = envelope(
        chunk,
        json!({ "index": 0, "delta": message, "finish_reason": null }),
    );
    let mut last = envelope(
        chunk,
        json!({ "index": 0, "delta": {}, "finish_reason": finish }),
    );
    last["usage"] = usage;
    let sse = format!("data: {first}\n\ndata: {last}\n\ndata: [DONE]\n\n");
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from(sse),
    )
        .into_response()
}
