//! Scripted OpenAI-compatible model server that lets tests, the demo and benchmarks drive the real `opencode` binary offline.
//!
//! OpenCode (through `@ai-sdk/openai-compatible`) sends `POST /v1/chat/completions`. Requests that
//! carry `tools` are agent turns: the last `user` message selects a [`Rule`] by substring, the number
//! of `tool` messages after it is the step index, and the server answers with the next scripted tool
//! call or, once the steps are used up, with the rule's final text. Requests without `tools`
//! (titles, summaries) get a short plain-text answer. Every request is logged in memory and,
//! optionally, as JSON lines in a file.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Text answered to requests without `tools` (session titles, summaries).
pub const AUX_REPLY: &str = "Scripted session";

/// Model ids served by the scripted provider.
pub const MODELS: [&str; 2] = ["scripted", "other"];

/// How much of the concatenated system messages a [`LoggedRequest`] keeps.
const SYSTEM_LOG_CHARS: usize = 2000;

/// A model script: rules tried in order against the last user message.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Script {
    pub rules: Vec<Rule>,
    /// Text answered to agent turns that no rule matches.
    #[serde(default)]
    pub default_reply: String,
}

impl Script {
    /// Reads a script from a JSON file.
    pub fn from_json_file(path: impl AsRef<Path>) -> anyhow::Result<Script> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading script {}: {e}", path.display()))?;
        Script::from_json_str(&text)
            .map_err(|e| anyhow::anyhow!("parsing script {}: {e}", path.display()))
    }

    /// Parses a script from JSON text.
    pub fn from_json_str(text: &str) -> anyhow::Result<Script> {
        Ok(serde_json::from_str(text)?)
    }

    /// Index of the first rule matching `last_user` and `model`.
    fn find_rule(&self, last_user: &str, model: &str) -> Option<usize> {
        self.rules.iter().position(|r| {
            last_user.contains(r.when.as_str()) && r.model.as_deref().is_none_or(|m| m == model)
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rule {
    /// Substring of the last user message.
    pub when: String,
    /// Only requests whose `model` equals this.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Final text, once all steps are done.
    #[serde(default)]
    pub reply: String,
    #[serde(default)]
    pub fail: Option<Failure>,
}

/// One tool call, e.g. tool `write`, args `{"filePath":"src/a.js","content":"..."}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Step {
    pub tool: String,
    pub args: Value,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Failure {
    /// Answer this HTTP status (default 500) with an OpenAI-style error body.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub message: Option<String>,
    /// Never answer; the connection stays open until the server stops.
    #[serde(default)]
    pub hang: bool,
    /// Fail only the first N matching agent requests, then behave normally; `None` = always.
    #[serde(default)]
    pub times: Option<u32>,
    /// Sent as a `retry-after-ms` header with the error, as real providers do; OpenCode then
    /// waits that long before retrying instead of its own backoff of 2 s and more.
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Waited before every answer.
    pub delay: Duration,
    /// 0 = any free port.
    pub port: u16,
    /// Append one JSON line per request.
    pub log_path: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoggedRequest {
    /// Arrival order, from 0.
    pub seq: u64,
    pub model: String,
    /// The request had `tools`.
    pub agent_turn: bool,
    pub last_user: String,
    pub step: usize,
    /// The `when` of the matched rule.
    pub rule: Option<String>,
    /// `tool:<name>` | `text` | `error:<status>` | `hang` | `aborted` (client went away first).
    pub answer: String,
    /// Milliseconds since server start.
    pub started_ms: u64,
    pub ended_ms: u64,
    /// Concatenated system messages (first 2000 chars).
    pub system: String,
    /// OpenCode's session id, from the `x-session-id` request header.
    #[serde(default)]
    pub session: Option<String>,
}

struct Shared {
    script: Mutex<Script>,
    /// Failures served so far, by rule index; reset with the script.
    failures: Mutex<HashMap<usize, u32>>,
    log: Mutex<Vec<LoggedRequest>>,
    log_path: Option<PathBuf>,
    delay: Duration,
    started: Instant,
    seq: AtomicU64,
    calls: AtomicU64,
    shutdown: CancellationToken,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn record(&self, entry: LoggedRequest) {
        if let Some(path) = &self.log_path
            && let Ok(line) = serde_json::to_string(&entry)
        {
            let mut log = lock(&self.log);
            // Written under the log lock so lines never interleave.
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(f, "{line}");
            }
            log.push(entry);
            return;
        }
        lock(&self.log).push(entry);
    }
}

/// Logs the request when dropped, so requests whose client hung up are still recorded.
struct Pending {
    shared: Arc<Shared>,
    entry: Option<LoggedRequest>,
}

impl Pending {
    fn finish(mut self, answer: String) {
        if let Some(mut e) = self.entry.take() {
            e.answer = answer;
            e.ended_ms = self.shared.now_ms();
            self.shared.record(e);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut e) = self.entry.take() {
            e.answer = "aborted".into();
            e.ended_ms = self.shared.now_ms();
            self.shared.record(e);
        }
    }
}

/// The scripted model server, on the current tokio runtime.
pub struct ModelServer {
    shared: Arc<Shared>,
    port: u16,
    task: JoinHandle<()>,
}

impl ModelServer {
    /// Binds 127.0.0.1 (`opts.port`, 0 = any free) and starts serving.
    pub async fn start(script: Script, opts: Options) -> std::io::Result<ModelServer> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, opts.port)))
                .await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            script: Mutex::new(script),
            failures: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            log_path: opts.log_path,
            delay: opts.delay,
            started: Instant::now(),
            seq: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            shutdown: CancellationToken::new(),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/chat/completions", post(chat_completions))
            .route("/v1/models", get(list_models))
            .route("/models", get(list_models))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(256 * 1024 * 1024))
            .with_state(shared.clone());
        let token = shared.shutdown.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await;
        });
        Ok(ModelServer { shared, port, task })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        base_url(self.port)
    }

    /// The requests logged so far, in completion order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Replaces the script; failure counters start over.
    pub fn set_script(&self, script: Script) {
        set_script(&self.shared, script);
    }

    /// Stops serving; hanging requests are released with a 503.
    pub async fn stop(self) {
        self.shared.shutdown.cancel();
        let abort = self.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

fn base_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/v1")
}

fn set_script(shared: &Shared, script: Script) {
    let mut s = lock(&shared.script);
    *s = script;
    lock(&shared.failures).clear();
}

/// Runs the server on its own thread with its own tokio runtime, for synchronous tests.
/// Stops on drop.
pub struct BlockingModelServer {
    shared: Arc<Shared>,
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BlockingModelServer {
    pub fn start(script: Script, opts: Options) -> std::io::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("scripted-model".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match ModelServer::start(script, opts).await {
                        Ok(server) => {
                            let _ = ready_tx.send(Ok((server.shared.clone(), server.port)));
                            let _ = stop_rx.await;
                            server.stop().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        match ready_rx.recv() {
            Ok(Ok((shared, port))) => Ok(BlockingModelServer {
                shared,
                port,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(std::io::Error::other("scripted model thread died"))
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        base_url(self.port)
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    pub fn set_script(&self, s: Script) {
        set_script(&self.shared, s);
    }
}

impl Drop for BlockingModelServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The environment that runs a real OpenCode offline on this model: its config, data, cache
/// and state under `root` (so nothing of the machine's own OpenCode leaks in, and runs can
/// sit side by side), no model list or update fetched, and [`opencode_config`] inline.
pub fn offline_env(root: &Path, base_url: &str) -> Vec<(&'static str, std::ffi::OsString)> {
    vec![
        ("XDG_CONFIG_HOME", root.join("config").into()),
        ("XDG_DATA_HOME", root.join("data").into()),
        ("XDG_CACHE_HOME", root.join("cache").into()),
        ("XDG_STATE_HOME", root.join("state").into()),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1".into()),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1".into()),
        ("OPENCODE_CONFIG_CONTENT", opencode_config(base_url).into()),
    ]
}

/// OpenCode config JSON for a provider `scripted` (models `scripted` and `other`) at `base_url`.
///
/// Besides the model, it allows edit/bash, denies questions, turns off autoupdate, sharing, LSP
/// and formatters (both would try to download tools), and pins `small_model` and
/// `enabled_providers` so no other provider is ever asked for titles.
pub fn opencode_config(base_url: &str) -> String {
    let models: serde_json::Map<String, Value> = [("scripted", "Scripted"), ("other", "Other")]
        .into_iter()
        .map(|(id, name)| (id.to_string(), json!({ "name": name })))
        .collect();
    let cfg = json!({
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            "scripted": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Scripted",
                "options": { "baseURL": base_url, "apiKey": "unused" },
                "models": models,
            }
        },
        "enabled_providers": ["scripted"],
        "model": "scripted/scripted",
        "small_model": "scripted/scripted",
        "permission": { "edit": "allow", "bash": "allow", "question": "deny" },
        "autoupdate": false,
        "share": "disabled",
        "lsp": false,
        "formatter": false,
    });
    serde_json::to_string_pretty(&cfg).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Request handling

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

fn truncate_chars(s: &str, max: usize) -> String {
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
    let step = messages
        .iter()
        .skip(last_user_idx.map_or(0, |i| i + 1))
        .filter(|m| role(m) == "tool")
        .count();
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

async fn not_found() -> Response {
    error_response(
        404,
        "not found (scripted model serves /v1/chat/completions)",
    )
}

async fn list_models() -> Response {
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

async fn chat_completions(
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
    if !p.stream {
        let body = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": p.model,
            "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
            "usage": usage,
        });
        return axum::Json(body).into_response();
    }
    let first = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": p.model,
        "choices": [{ "index": 0, "delta": message, "finish_reason": null }],
    });
    let last = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": p.model,
        "choices": [{ "index": 0, "delta": {}, "finish_reason": finish }],
        "usage": usage,
    });
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

#[cfg(test)]
mod tests;
