//! Following one prompted turn of a session to its end on the event stream, reconciled with
//! `GET /session/status` and the message list whenever events may have been missed.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::Kind;
use super::server::ExitWatch;
use super::types::error_text;
use super::{Client, Event};

/// How a turn ended.
#[derive(Clone, Debug, PartialEq)]
pub enum TurnEnd {
    Done,
    Failed(String),
    Timeout,
    Cancelled,
    ServerExited(String),
}

/// What the turn follower reports while it runs.
pub enum Progress {
    ToolCalls(u64),
    Activity(Option<String>),
}

/// Everything needed to follow one turn.
pub struct TurnWatch<'a> {
    pub client: &'a Client,
    pub events: broadcast::Receiver<Event>,
    pub session: &'a str,
    pub directory: &'a Path,
    /// Messages the session held before the prompt; the answer comes after them.
    pub before: usize,
    pub deadline: tokio::time::Instant,
    pub cancel: CancellationToken,
    pub server_exit: Option<ExitWatch>,
}

/// Follows the turn until the session is idle with an answer, fails, times out, is cancelled,
/// or the server goes away. Aborts the session on timeout and cancellation.
pub async fn follow_turn(mut w: TurnWatch<'_>, mut progress: impl FnMut(Progress)) -> TurnEnd {
    let mut tools: HashSet<String> = HashSet::new();
    let mut last_error: Option<String> = None;
    let mut check = tokio::time::interval(Duration::from_secs(3));
    check.tick().await;
    let mut exit = w.server_exit.clone();
    let end = loop {
        let server_gone = async {
            match exit.as_mut() {
                Some(rx) => rx
                    .wait_for(|e| e.is_some())
                    .await
                    .ok()
                    .and_then(|e| e.clone())
                    .unwrap_or_default(),
                None => std::future::pending().await,
            }
        };
        let mut reconcile = false;
        tokio::select! {
            ev = w.events.recv() => match ev {
                Ok(Event::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => reconcile = true,
                Err(broadcast::error::RecvError::Closed) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    reconcile = true;
                }
                Ok(ev) if ev.session_id() == Some(w.session) => {
                    let p = ev.properties();
                    match ev.kind() {
                        Some(Kind::MessagePartUpdated)
                            if p.pointer("/part/type").and_then(Value::as_str) == Some("tool") =>
                        {
                            let id = p
                                .pointer("/part/callID")
                                .or_else(|| p.pointer("/part/id"))
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string();
                            if tools.insert(id) {
                                progress(Progress::ToolCalls(tools.len() as u64));
                            }
                        }
                        Some(Kind::SessionStatus) => match p.pointer("/status/type").and_then(Value::as_str) {
                            Some("retry") => {
                                let attempt = p.pointer("/status/attempt").and_then(Value::as_u64).unwrap_or(0);
                                let msg = p.pointer("/status/message").and_then(Value::as_str).unwrap_or("");
                                progress(Progress::Activity(Some(format!("retrying (attempt {attempt}): {msg}"))));
                            }
                            Some("busy") => progress(Progress::Activity(None)),
                            Some("idle") => reconcile = true,
                            _ => {}
                        },
                        Some(Kind::SessionIdle) => reconcile = true,
                        Some(Kind::SessionError) => {
                            // The first error is the cause; OpenCode may follow it with a stack trace.
                            if let Some(e) = p.get("error") && last_error.is_none() {
                                last_error = Some(error_text(e));
                            }
                            reconcile = true;
                        }
                        Some(Kind::PermissionAsked) => {
                            if let Some(id) = p.get("id").and_then(Value::as_str) {
                                // A fork works in its worktree: a tool call on a path outside
                                // it (which OpenCode asks about unless the user's config allows
                                // it) is refused; anything else the headless fork allows.
                                let outside = p.get("permission").and_then(Value::as_str) == Some("external_directory");
                                let answer = if outside { "reject" } else { "once" };
                                answer_permission(w.client, id, w.directory, answer, w.deadline);
                            }
                        }
                        _ => {}
                    }
                }
                Ok(_) => {}
            },
            _ = check.tick() => reconcile = true,
            _ = tokio::time::sleep_until(w.deadline) => break TurnEnd::Timeout,
            _ = w.cancel.cancelled() => break TurnEnd::Cancelled,
            status = server_gone => break TurnEnd::ServerExited(status),
        }
        if reconcile {
            // Asking the server can take long when it stops answering: a Ctrl-C or the
            // deadline still ends the turn meanwhile.
            let now = tokio::select! {
                now = settled(&w, last_error.as_deref()) => now,
                _ = tokio::time::sleep_until(w.deadline) => break TurnEnd::Timeout,
                _ = w.cancel.cancelled() => break TurnEnd::Cancelled,
            };
            if let Some(end) = now {
                break end;
            }
        }
    };
    // A server seen gone that was only slow would go on working after the fork's commit:
    // stopped too (at no cost when it is gone: the connection is refused at once).
    if matches!(
        end,
        TurnEnd::Timeout | TurnEnd::Cancelled | TurnEnd::ServerExited(_)
    ) {
        stop_turn(w.client, w.session, w.directory).await;
    }
    end
}

/// Answers a permission question (headless forks have nobody to ask), off the turn's way: a busy server is
/// asked again until it answers or the turn's deadline passes, never given up on early.
fn answer_permission(
    client: &Client,
    id: &str,
    directory: &Path,
    answer: &'static str,
    deadline: tokio::time::Instant,
) {
    let (client, id, directory) = (client.clone(), id.to_string(), directory.to_path_buf());
    tokio::spawn(async move {
        let reply = super::liveness::patiently(|| client.reply_permission(&id, &directory, answer));
        let _ = tokio::time::timeout_at(deadline, reply).await;
    });
}

/// Aborts a turn and gives the server a moment to finish writing files; after Ctrl-C, no
/// longer than the stop's bound (`signal::stop_deadline`).
pub async fn stop_turn(client: &Client, session: &str, directory: &Path) {
    let limits = crate::timeouts::get();
    let whole = limits.abort + limits.settle;
    let until = crate::signal::stop_deadline()
        .unwrap_or_else(|| tokio::time::Instant::now() + whole)
        .min(tokio::time::Instant::now() + whole);
    let _ = tokio::time::timeout_at(until, stop_turn_unbounded(client, session, directory)).await;
}

async fn stop_turn_unbounded(client: &Client, session: &str, directory: &Path) {
    let limits = crate::timeouts::get();
    let _ = tokio::time::timeout(limits.abort, client.abort(session, directory)).await;
    // Bounded as a whole: a server that stopped answering must not hold up a cancelled run
    // (each status request alone may wait the client's long request timeout).
    let settle = async {
        for _ in 0..10 {
            match client.status(directory).await {
                Ok(map) if map.contains_key(session) => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(limits.settle, settle).await;
}

/// Decides from the server's current view whether the turn is over.
async fn settled(w: &TurnWatch<'_>, last_error: Option<&str>) -> Option<TurnEnd> {
    let status = w.client.status(w.directory).await.ok()?;
    let busy = status
        .get(w.session)
        .and_then(|s| s.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t != "idle");
    if busy {
        return None;
    }
    let messages = w.client.messages(w.session, w.directory).await.ok()?;
    let answer = messages
        .iter()
        .skip(w.before)
        .rev()
        .find(|m| m.info.role == "assistant");
    let last_is_answer = messages
        .last()
        .is_some_and(|m| m.info.role == "assistant" && messages.len() > w.before);
    match answer {
        Some(m) if last_is_answer && m.info.error.is_some() => Some(TurnEnd::Failed(
            m.info.error.as_ref().map(error_text).unwrap_or_default(),
        )),
        Some(m) if last_is_answer && m.info.time.completed.is_some() => Some(TurnEnd::Done),
        _ => last_error.map(|e| TurnEnd::Failed(e.to_string())),
    }
}

/// What a session's assistant messages used, summed, and the model the first answered with.
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cost: f64,
    /// `provider/model`.
    pub model: Option<String>,
}

/// The [`Usage`] of a session, or None when its messages cannot be read in time
/// (`timeouts::Timeouts::usage`).
pub async fn usage(client: &Client, session: &str, dir: &Path) -> Option<Usage> {
    let messages =
        tokio::time::timeout(crate::timeouts::get().usage, client.messages(session, dir))
            .await
            .ok()?
            .ok()?;
    let mut usage = Usage {
        input: 0,
        output: 0,
        cost: 0.0,
        model: None,
    };
    for m in messages.iter().filter(|m| m.info.role == "assistant") {
        if let Some(t) = &m.info.tokens {
            usage.input += t.input as u64;
            usage.output += t.output as u64;
        }
        usage.cost += m.info.cost.unwrap_or(0.0);
        if usage.model.is_none()
            && let (Some(p), Some(id)) = (&m.info.provider_id, &m.info.model_id)
        {
            usage.model = Some(format!("{p}/{id}"));
        }
    }
    Some(usage)
}
