//! Scripted OpenAI-compatible model server that lets tests, the demo and benchmarks drive the real `opencode` binary offline.
//!
//! OpenCode (through `@ai-sdk/openai-compatible`) sends `POST /v1/chat/completions`. Requests that
//! carry `tools` are agent turns: the last `user` message selects a [`Rule`] by substring, the number
//! of `tool` messages after it is the step index, and the server answers with the next scripted tool
//! call or, once the steps are used up, with the rule's final text. Requests without `tools`
//! (titles, summaries) get a short plain-text answer. Every request is logged in memory and,
//! optionally, as JSON lines in a file.

mod chat;
mod env;
mod server;

pub use env::{
    offline_env, opencode_config, opencode_config_without_model, project_config, sshd_config,
    sshd_set_env,
};
pub use server::{BlockingModelServer, ModelHandle, ModelServer};

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const AUX_REPLY: &str = "Scripted session";

/// Model ids served by the scripted provider.
pub const MODELS: [&str; 2] = ["scripted", "other"];

/// How much of the concatenated system messages a [`LoggedRequest`] keeps.
const SYSTEM_LOG_CHARS: usize = 2000;
/// How much of each tool result a logged request keeps.
const TOOL_RESULT_LOG_CHARS: usize = 8000;

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

/// One rule of a script; all but `when` may be left out (a missing `Option` is `None`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rule {
    /// Substring of the last user message.
    pub when: String,
    /// Only requests whose `model` equals this.
    pub model: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Final text, once all steps are done.
    #[serde(default)]
    pub reply: String,
    pub fail: Option<Failure>,
}

impl Rule {
    /// A judge's answer to prompts holding `when`: the JSON block `ocfork judge` reads, ranking
    /// `ranking` with the reason "<fork> is fine" for each fork.
    pub fn verdict(when: &str, ranking: &[&str]) -> Rule {
        let reasons: serde_json::Map<String, Value> = ranking
            .iter()
            .map(|f| (f.to_string(), Value::from(format!("{f} is fine"))))
            .collect();
        let body = serde_json::json!({ "ranking": ranking, "reasons": reasons });
        Rule {
            when: when.to_string(),
            model: None,
            steps: vec![],
            reply: format!("Here is my verdict.\n```json\n{body}\n```\n"),
            fail: None,
        }
    }
}

/// One tool call, e.g. tool `write`, args `{"filePath":"src/a.js","content":"..."}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Step {
    pub tool: String,
    pub args: Value,
}

/// How a rule fails; every field may be left out (each has its default).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Failure {
    /// Answer this HTTP status (default 500) with an OpenAI-style error body.
    pub status: Option<u16>,
    pub message: Option<String>,
    /// Never answer; the connection stays open until the server stops.
    pub hang: bool,
    /// Fail only the first N matching agent requests, then behave normally; `None` = always.
    pub times: Option<u32>,
    /// Sent as a `retry-after-ms` header with the error, as real providers do; OpenCode then
    /// waits that long before retrying instead of its own backoff of 2 s and more.
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
    /// The results of the tool calls since the last user message, as the model got them
    /// (each cut at 8,000 characters).
    #[serde(default)]
    pub tool_results: Vec<String>,
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

#[cfg(test)]
mod tests;
