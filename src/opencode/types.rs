//! Serde shapes of the OpenCode API bodies ocfork sends and reads. Unknown fields are ignored;
//! a missing `Option` field reads as `None` (serde's own rule, so no `#[serde(default)]` on them).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, Deserialize)]
pub struct Session {
    pub id: String,
    pub directory: Option<String>,
    pub title: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelRef {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: String,
}

impl ModelRef {
    /// Parses `provider/model` (the model id may itself hold slashes).
    pub fn parse(spec: &str) -> Option<ModelRef> {
        let (p, m) = spec.split_once('/')?;
        (!p.is_empty() && !m.is_empty()).then(|| ModelRef {
            provider_id: p.to_string(),
            model_id: m.to_string(),
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct TextPart {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
    /// Kept by OpenCode on the stored part; ocfork marks relayed messages with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PromptBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
    /// Add the message to the history without starting a turn.
    #[serde(rename = "noReply", skip_serializing_if = "std::ops::Not::not")]
    pub no_reply: bool,
    pub parts: Vec<TextPart>,
}

impl PromptBody {
    pub fn text(agent: Option<&str>, model: Option<ModelRef>, text: &str) -> PromptBody {
        PromptBody {
            agent: agent.map(str::to_string),
            model,
            no_reply: false,
            parts: vec![TextPart {
                kind: "text",
                text: text.to_string(),
                metadata: None,
            }],
        }
    }

    /// The same body with `metadata` on its text part.
    pub fn with_metadata(mut self, metadata: Option<Value>) -> PromptBody {
        for p in &mut self.parts {
            p.metadata = metadata.clone();
        }
        self
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct MessageTime {
    pub created: Option<f64>,
    pub completed: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenCounts {
    pub input: f64,
    pub output: f64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct MessageInfo {
    pub id: String,
    pub role: String,
    #[serde(rename = "parentID")]
    pub parent_id: Option<String>,
    pub agent: Option<String>,
    #[serde(rename = "providerID")]
    pub provider_id: Option<String>,
    #[serde(rename = "modelID")]
    pub model_id: Option<String>,
    pub tokens: Option<TokenCounts>,
    pub cost: Option<f64>,
    #[serde(default)]
    pub time: MessageTime,
    pub error: Option<Value>,
    pub summary: Option<Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Message {
    pub info: MessageInfo,
    #[serde(default)]
    pub parts: Vec<Value>,
}

/// One agent of `GET /agent`. OpenCode sends its optional fields as it has them: missing on
/// built-in agents, `null` on agents from the user's config (`"hidden": null`), so every one
/// of them is an `Option` here.
#[derive(Clone, Debug, Deserialize)]
pub struct Agent {
    pub name: String,
    pub mode: Option<String>,
    pub description: Option<String>,
    /// Internal agents (compaction, title, summary) that users do not pick.
    pub hidden: Option<bool>,
    /// The model the agent's config names (`"model": "provider/model"`), if any.
    pub model: Option<AgentModel>,
}

impl Agent {
    /// Whether users can pick it (an absent or `null` `hidden` means yes).
    pub fn is_visible(&self) -> bool {
        self.hidden != Some(true)
    }
}

/// The `model` of an agent in `GET /agent`.
#[derive(Clone, Debug, Deserialize)]
pub struct AgentModel {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: String,
}

impl AgentModel {
    /// `provider/model`.
    pub fn spec(&self) -> String {
        format!("{}/{}", self.provider_id, self.model_id)
    }
}

/// The readable text of an OpenCode error object (`{name, data: {message}}`).
pub fn error_text(err: &Value) -> String {
    let message = err
        .pointer("/data/message")
        .and_then(Value::as_str)
        .or_else(|| err.get("message").and_then(Value::as_str));
    let name = err.get("name").and_then(Value::as_str);
    // Provider errors carry the model's HTTP status; it tells a 429 from a 500.
    let name = match (
        name,
        err.pointer("/data/statusCode").and_then(Value::as_u64),
    ) {
        (Some(n), Some(code)) => Some(format!("{n} (HTTP {code})")),
        (n, _) => n.map(str::to_string),
    };
    let name = name.as_deref();
    match (name, message) {
        (Some(n), Some(m)) if !m.is_empty() => format!("{n}: {m}"),
        (_, Some(m)) => m.to_string(),
        (Some(n), None) => n.to_string(),
        (None, None) => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_left_out_read_as_none_or_their_default() {
        let s: Session = serde_json::from_str(r#"{"id":"ses_1"}"#).expect("a session");
        assert_eq!((s.directory, s.title), (None, None));
        let m: Message =
            serde_json::from_str(r#"{"info":{"id":"msg_1","role":"user","tokens":{}}}"#)
                .expect("a message");
        let i = m.info;
        assert!(i.parent_id.is_none() && i.agent.is_none() && i.provider_id.is_none());
        assert!(i.model_id.is_none() && i.cost.is_none() && i.error.is_none());
        assert!(i.summary.is_none() && i.time.created.is_none() && i.time.completed.is_none());
        let t = i.tokens.expect("tokens");
        assert_eq!((t.input, t.output), (0.0, 0.0));
        assert!(m.parts.is_empty());
        let a: Agent = serde_json::from_str(r#"{"name":"build","hidden":null}"#).expect("agent");
        assert!(a.mode.is_none() && a.description.is_none() && a.model.is_none());
        assert!(a.is_visible());
        assert!(
            serde_json::from_str::<Session>(r#"{"title":"t"}"#).is_err(),
            "id is needed"
        );
    }
}
