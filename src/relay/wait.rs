//! Waiting on a session: for the end of the turn that queued a relay (dropping the relay when
//! that turn was aborted or failed), and for a compaction to finish.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::{Job, RelayError, last_model};
use crate::opencode::Kind;
use crate::opencode::liveness::{Liveness, patiently};
use crate::opencode::types::error_text;
use crate::opencode::{Client, EventHub};

/// Status checks that may find the server gone (refusing connections) in a row before ocfork
/// gives up on it; a busy server is waited for (the deadline bounds that).
const UNREACHABLE_LIMIT: u32 = 30;

/// Waits until the calling session is idle. Fails with [`RelayError::Dropped`] when its turn
/// was aborted or ended in an error, or when the deadline passes first.
pub async fn idle(
    client: &Client,
    hub: &EventHub,
    job: &Job,
    deadline: tokio::time::Instant,
) -> Result<(), RelayError> {
    let session = job.outcome.from_session.as_str();
    let dir = job.directory.as_path();
    let dropped = |reason: String| RelayError::Dropped {
        session: session.to_string(),
        agent: job.outcome.agent.clone(),
        reason,
    };
    let mut events = hub.subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut saw_busy = false;
    let mut error: Option<String> = None;
    let mut failures = 0;
    loop {
        match client.status(dir).await {
            Ok(map) => {
                failures = 0;
                let busy = map
                    .get(session)
                    .and_then(|s| s.get("type"))
                    .and_then(Value::as_str)
                    .is_some_and(|t| t != "idle");
                if busy {
                    saw_busy = true;
                } else {
                    if let Some(e) = error {
                        return Err(dropped(e));
                    }
                    if !(job.from_turn || saw_busy) {
                        return Ok(());
                    }
                    // The status can turn idle before an aborted message records its error:
                    // decide only on a last message that completed or failed.
                    for _ in 0..25 {
                        while let Ok(ev) = events.try_recv() {
                            if ev.session_id() == Some(session)
                                && ev.is(&Kind::SessionError)
                                && let Some(e) = ev.properties().get("error")
                            {
                                return Err(dropped(describe(e)));
                            }
                        }
                        let messages = patiently(|| client.messages(session, dir)).await?;
                        let last = messages.iter().rev().find(|m| m.info.role == "assistant");
                        match last {
                            Some(m) if m.info.error.is_some() => {
                                return Err(dropped(describe(
                                    m.info.error.as_ref().unwrap_or(&Value::Null),
                                )));
                            }
                            Some(m) if m.info.time.completed.is_none() => {
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                            _ => return Ok(()),
                        }
                    }
                    return Err(dropped("the session's turn did not finish".into()));
                }
            }
            Err(e) if Liveness::of_error(&e) == Liveness::Gone => {
                failures += 1;
                if failures >= UNREACHABLE_LIMIT {
                    return Err(dropped(e.to_string()));
                }
            }
            Err(_) => {}
        }
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) if ev.session_id() == Some(session) && ev.is(&Kind::SessionError) => {
                    if let Some(e) = ev.properties().get("error") {
                        error = Some(describe(e));
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => tokio::time::sleep(Duration::from_millis(500)).await,
            },
            _ = tick.tick() => {}
            _ = tokio::time::sleep_until(deadline) => {
                return Err(dropped("timed out waiting for the session to be idle".into()));
            }
        }
    }
}

/// Why a turn ended badly, in words.
fn describe(err: &Value) -> String {
    if err.get("name").and_then(Value::as_str) == Some("MessageAbortedError") {
        "the session was aborted".to_string()
    } else {
        format!("the session's turn failed: {}", error_text(err))
    }
}

/// Summarizes the session with the model of its last assistant message and waits for the
/// compaction to finish. Returns whether `session.compacted` was seen (else the summary was
/// found in the history).
pub async fn compact(
    client: &Client,
    hub: &EventHub,
    session: &str,
    dir: &Path,
    deadline: tokio::time::Instant,
) -> Result<bool, RelayError> {
    let messages = client.messages(session, dir).await?;
    let Some(model) = last_model(&messages) else {
        return Err(RelayError::Dropped {
            session: session.to_string(),
            agent: "compaction".into(),
            reason: "the session has no assistant message to take the model from".into(),
        });
    };
    let mut events = hub.subscribe();
    // The call returns when the summary is written and the event follows at once; a long
    // compaction may outlast the client's request timeout, then the event is what counts.
    let grace = match client
        .summarize(session, dir, &model.provider_id, &model.model_id)
        .await
    {
        Ok(()) => tokio::time::Instant::now() + crate::timeouts::get().compacted,
        Err(crate::opencode::ApiError::Connect { source, .. }) if source.is_timeout() => deadline,
        Err(e) => return Err(e.into()),
    };
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) if ev.session_id() == Some(session) && ev.is(&Kind::SessionCompacted) => return Ok(true),
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            _ = tokio::time::sleep_until(grace.min(deadline)) => break,
        }
    }
    let messages = client.messages(session, dir).await?;
    let summarized = messages.iter().any(|m| {
        m.info.role == "assistant"
            && m.info
                .summary
                .as_ref()
                .is_some_and(|s| s == &Value::Bool(true))
            && m.info.time.completed.is_some()
    });
    if summarized {
        Ok(false)
    } else {
        Err(RelayError::Dropped {
            session: session.to_string(),
            agent: "compaction".into(),
            reason: "the compaction did not finish".into(),
        })
    }
}
