//! Reading the calling session: which hop of a relay chain its turn is, the agent and model it
//! works with, and the mark a relayed message carries.

use serde_json::{Value, json};

use super::Mode;
use crate::opencode::types::{Message, ModelRef};

/// The mark ocfork puts on the text part of a relayed message.
pub(super) fn relay_mark(hop: u32, mode: Mode, from: &str) -> Value {
    json!({ "ocfork": { "relay": hop, "mode": mode.as_str(), "from": from } })
}

/// The hop of the relay that started the turn `caller` belongs to (0 when a person started it).
pub(super) fn chain_hop(messages: &[Message], caller: &str) -> u32 {
    let parent = messages
        .iter()
        .find(|m| m.info.id == caller)
        .and_then(|m| m.info.parent_id.clone());
    let user = match parent {
        Some(p) => messages.iter().find(|m| m.info.id == p),
        None => messages.iter().rev().find(|m| m.info.role == "user"),
    };
    user.into_iter()
        .flat_map(|m| m.parts.iter())
        .find_map(|p| p.pointer("/metadata/ocfork/relay").and_then(Value::as_u64))
        .map_or(0, |h| h as u32)
}

/// The agent that last worked in the session, else `build`.
pub(super) fn current_agent(messages: &[Message]) -> String {
    messages
        .iter()
        .rev()
        .find_map(|m| m.info.agent.clone().filter(|a| a != "compaction"))
        .unwrap_or_else(|| "build".to_string())
}

/// The model of the session's last assistant message, which compaction uses.
pub(super) fn last_model(messages: &[Message]) -> Option<ModelRef> {
    messages.iter().rev().find_map(|m| {
        (m.info.role == "assistant").then_some(())?;
        Some(ModelRef {
            provider_id: m.info.provider_id.clone()?,
            model_id: m.info.model_id.clone()?,
        })
    })
}
