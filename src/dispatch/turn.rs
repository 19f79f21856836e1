//! One fork's agent turn: its session created or continued, its prompt sent once, the turn
//! followed to its end, and the tokens and cost it used recorded.

use std::path::Path;

use super::fork::Shared;
use super::opening::Turn;
use super::pool::Member;
use crate::opencode::turn::{Progress, TurnEnd, TurnWatch, follow_turn};
use crate::opencode::types::{ModelRef, PromptBody};
use crate::opencode::{ApiError, liveness};
use crate::state::Tokens;

/// The prompt a resumed fork's session gets: its history already holds the task.
pub const CONTINUE_PROMPT: &str = "Continue the task; the previous run was interrupted.";

/// Creates the session if needed, sends the prompt and follows the turn.
pub(super) async fn agent_turn(
    shared: &Shared,
    on: &Member,
    name: &str,
    dir: &Path,
    deadline: tokio::time::Instant,
) -> TurnEnd {
    let Some(fork) = shared.handle.snapshot().fork(name).cloned() else {
        return TurnEnd::Failed("fork vanished from the run".into());
    };
    // Getting the prompt in may itself hang on a sick server: Ctrl-C and the time limit
    // apply from the start, and a prompt that got through is aborted.
    let send = send_prompt(shared, on, &fork, dir);
    let (session, before, events) = tokio::select! {
        sent = send => match sent {
            Ok(s) => s,
            Err(end) => return end,
        },
        _ = shared.cancel.cancelled() => return stop_early(shared, on, name, dir, TurnEnd::Cancelled).await,
        _ = tokio::time::sleep_until(deadline) => return stop_early(shared, on, name, dir, TurnEnd::Timeout).await,
    };
    let watch = TurnWatch {
        client: &on.client,
        events,
        session: &session,
        directory: dir,
        before,
        deadline,
        cancel: shared.cancel.clone(),
        server_exit: on.exit.clone(),
    };
    let end = follow_turn(watch, |p| match p {
        Progress::ToolCalls(n) => shared.handle.update(name, |f| f.tool_calls = n),
        Progress::Activity(a) => shared.handle.update(name, |f| f.activity = a),
    })
    .await;
    if let Some(gate) = &shared.opening {
        gate.open();
    }
    end
}

/// A prompt sent: the session, its message count before, events subscribed before sending.
type Sent = (
    String,
    usize,
    tokio::sync::broadcast::Receiver<crate::opencode::Event>,
);

/// Creates or reuses the fork's session and sends its prompt; returns the session, how many
/// messages it held before, and an event subscription made before the prompt went out.
async fn send_prompt(
    shared: &Shared,
    on: &Member,
    fork: &crate::state::Fork,
    dir: &Path,
) -> Result<Sent, TurnEnd> {
    // A fresh fork's first prompt may have to let the run's pioneer go first.
    let pioneer = match (&shared.opening, &fork.session) {
        (Some(gate), None) => matches!(gate.pass().await, Turn::Pioneer),
        _ => false,
    };
    // A pioneer that fails, or is stopped, before its prompt is in lets the others go.
    let mut guard = super::opening::OpenOnDrop(shared.opening.clone().filter(|_| pioneer));
    let sent = create_and_send(shared, on, fork, dir, pioneer).await;
    if sent.is_ok() {
        guard.0 = None;
    }
    sent
}

async fn create_and_send(
    shared: &Shared,
    on: &Member,
    fork: &crate::state::Fork,
    dir: &Path,
    pioneer: bool,
) -> Result<Sent, TurnEnd> {
    // A fork that already has a session (a resumed run: OpenCode keeps sessions on disk) is
    // asked to continue it; one whose session never got the prompt, or is gone, starts over.
    let earlier = match &fork.session {
        // A slow server is asked again (the caller's deadline and Ctrl-C bound it).
        Some(id) => match liveness::patiently(|| on.client.messages(id, dir)).await {
            Ok(m) => Some((id.clone(), m)),
            Err(ApiError::Status { .. }) => None,
            Err(e) => return Err(TurnEnd::Failed(e.to_string())),
        },
        None => None,
    };
    let current = current_prompt(fork).to_string();
    let (session, before, prompt) = match earlier {
        Some((id, messages)) => {
            let prompt = if delivered(fork, &messages) {
                CONTINUE_PROMPT.to_string()
            } else {
                current
            };
            (id, messages.len(), prompt)
        }
        None => match on
            .client
            .create_session(
                dir,
                &format!(
                    "ocfork {run}/{name}",
                    run = shared.handle.snapshot().run,
                    name = fork.name
                ),
            )
            .await
        {
            Ok(s) => {
                shared
                    .handle
                    .update(&fork.name, |f| f.session = Some(s.id.clone()));
                (s.id, 0, current)
            }
            Err(e) => return Err(TurnEnd::Failed(e.to_string())),
        },
    };
    let events = on.hub.subscribe();
    on.hub
        .wait_connected(crate::timeouts::get().hub_connect)
        .await;
    let model = fork.model.as_deref().and_then(ModelRef::parse);
    let body = PromptBody::text(Some(&fork.agent), model, &prompt)
        .with_metadata(shared.prompt_metadata.clone());
    let refresh = pioneer.then(|| on.hub.subscribe());
    if let Err(e) = on.client.prompt_async(&session, dir, &body).await {
        return Err(TurnEnd::Failed(e.to_string()));
    }
    if let (Some(gate), Some(refresh)) = (&shared.opening, refresh) {
        gate.open_after(refresh, super::opening::bound());
    }
    Ok((session, before, events))
}

/// Ends a turn stopped before it could be followed, aborting a prompt that got through.
async fn stop_early(shared: &Shared, on: &Member, name: &str, dir: &Path, end: TurnEnd) -> TurnEnd {
    if let Some(session) = shared
        .handle
        .snapshot()
        .fork(name)
        .and_then(|f| f.session.clone())
    {
        crate::opencode::turn::stop_turn(&on.client, &session, dir).await;
    }
    end
}

/// Records tokens and cost from the session's assistant messages.
pub(super) async fn record_usage(shared: &Shared, on: &Member, name: &str, dir: &Path) {
    let Some(session) = shared
        .handle
        .snapshot()
        .fork(name)
        .and_then(|f| f.session.clone())
    else {
        return;
    };
    let Some(used) = crate::opencode::turn::usage(&on.client, &session, dir).await else {
        return;
    };
    shared.handle.update(name, |f| {
        f.tokens = Some(Tokens {
            input: used.input,
            output: used.output,
        });
        f.cost = Some(used.cost);
    });
}

/// Whether the session already got the fork's current prompt (then a crash cut its turn
/// short): it holds that text in as many user messages as the fork has sent it.
fn delivered(fork: &crate::state::Fork, messages: &[crate::opencode::types::Message]) -> bool {
    let current = current_prompt(fork);
    let sent = std::iter::once(&fork.prompt)
        .chain(&fork.follow_ups)
        .filter(|p| p.as_str() == current)
        .count();
    let received = messages
        .iter()
        .filter(|m| m.info.role == "user")
        .filter(|m| {
            m.parts.iter().any(|p| {
                p.get("type").and_then(serde_json::Value::as_str) == Some("text")
                    && p.get("text").and_then(serde_json::Value::as_str) == Some(current)
            })
        })
        .count();
    received >= sent
}

/// The prompt of the fork's current turn: its latest follow-up, else its first prompt.
pub(super) fn current_prompt(fork: &crate::state::Fork) -> &str {
    fork.follow_ups.last().unwrap_or(&fork.prompt)
}
