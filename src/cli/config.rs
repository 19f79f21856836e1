//! `ocfork config`: the merged configuration, each value with where it came from.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use serde_json::{Value, json};

use super::CmdResult;
use crate::config::{Config, Setting, Source};

/// Show the merged configuration (defaults, personal file, repo file, environment) and where
/// each value came from.
#[derive(Args, Debug)]
#[command(
    after_help = "Files, lowest priority first (flags of `ocfork try` win over both):
  ~/.config/ocfork/config.toml   ($XDG_CONFIG_HOME/ocfork/config.toml when set)
  .ocfork.toml                   at the repo root
$OCFORK_WORKTREE_ROOT wins over `worktree_root` in either file.

Example:
  ocfork config
  ocfork config --json"
)]
pub struct ConfigArgs {
    /// Print {files, values: {KEY: {value, source, file, line}}}
    #[arg(long)]
    json: bool,
}

/// One row of the output.
#[derive(Serialize)]
struct Entry {
    value: Value,
    /// `default`, `file` or `env`
    source: &'static str,
    file: Option<PathBuf>,
    line: Option<usize>,
    #[serde(skip)]
    note: String,
}

fn entry<T: Serialize>(setting: Option<&Setting<T>>, default: Value, note: &str) -> Entry {
    let Some(s) = setting else {
        return Entry {
            value: default,
            source: "default",
            file: None,
            line: None,
            note: note.to_string(),
        };
    };
    let value = serde_json::to_value(&s.value).unwrap_or(Value::Null);
    let (source, file, line, note) = match &s.source {
        Source::File { path, line } => (
            "file",
            Some(path.clone()),
            Some(*line),
            s.source.to_string(),
        ),
        Source::Env(_) => ("env", None, None, s.source.to_string()),
        Source::Flag => ("flag", None, None, "flag".into()),
        Source::Default => ("default", None, None, note.to_string()),
    };
    Entry {
        value,
        source,
        file,
        line,
        note,
    }
}

pub async fn cmd_config(args: ConfigArgs) -> CmdResult {
    let repo = super::current_repo().ok();
    let root = repo.as_ref().map(|r| r.workdir.clone());
    let config = Config::load(root.as_deref())?;
    let l = &config.layer;
    let timeout = l.timeout.as_ref().map(|t| Setting {
        value: humantime::format_duration(t.value).to_string(),
        source: t.source.clone(),
    });
    let (root_setting, root_default) = match &repo {
        Some(r) => {
            let default = crate::paths::default_worktree_root(&r.main_workdir());
            (config.worktree_root(&r.main_workdir()), json!(default))
        }
        None => (None, Value::Null),
    };
    let entries: Vec<(&str, Entry)> = vec![
        (
            "jobs",
            entry(l.jobs.as_ref(), Value::Null, "default: all forks at once"),
        ),
        (
            "servers",
            entry(
                l.servers.as_ref(),
                Value::Null,
                "default: from the number of forks and CPUs",
            ),
        ),
        ("agent", entry(l.agent.as_ref(), json!("build"), "default")),
        (
            "models",
            entry(
                l.models.as_ref(),
                json!([]),
                "default: OpenCode's default model",
            ),
        ),
        (
            "setup",
            entry(l.setup.as_ref(), Value::Null, "default: none"),
        ),
        (
            "check",
            entry(l.check.as_ref(), Value::Null, "default: none"),
        ),
        ("timeout", entry(timeout.as_ref(), json!("30m"), "default")),
        (
            "judge",
            entry(
                l.judge.as_ref(),
                json!(false),
                "default: try does not judge",
            ),
        ),
        (
            "synth",
            entry(
                l.synth.as_ref(),
                json!(false),
                "default: try does not synthesize",
            ),
        ),
        (
            "ports",
            entry(
                l.ports.as_ref(),
                json!(crate::dispatch::ports::DEFAULT_BLOCK),
                "default",
            ),
        ),
        (
            "worktree_root",
            entry(
                root_setting.as_ref(),
                root_default,
                if repo.is_some() {
                    "default: <repo-parent>/<repo-name>.ocfork"
                } else {
                    "not in a repository"
                },
            ),
        ),
    ];
    if args.json {
        let values: serde_json::Map<String, Value> = entries
            .iter()
            .map(|(k, e)| {
                (
                    k.to_string(),
                    serde_json::to_value(e).unwrap_or(Value::Null),
                )
            })
            .collect();
        super::print_json(&json!({ "files": config.files, "values": values }))?;
        return Ok(0);
    }
    let width = entries
        .iter()
        .map(|(k, e)| k.len() + show(&e.value).len() + 3)
        .max()
        .unwrap_or(0);
    for (key, e) in &entries {
        let line = format!("{key} = {}", show(&e.value));
        super::output::println(format!("{line:<width$}  # {}", e.note))?;
    }
    Ok(0)
}

/// A value as TOML would write it; unset as `(none)`.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}
