//! Running a real OpenCode offline on the scripted model: its environment and config.

use std::path::Path;

use serde_json::{Value, json};

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
    with_base_url(Some(base_url))
}

/// [`opencode_config`] without the model's address, for one `opencode serve` serving the
/// directories of several scripted models: each directory's own `opencode.json` then says
/// where its model is ([`project_config`]), which the inline config would otherwise override.
pub fn opencode_config_without_model() -> String {
    with_base_url(None)
}

/// A project `opencode.json` that points the `scripted` provider at `base_url` (see
/// [`opencode_config_without_model`]).
pub fn project_config(base_url: &str) -> String {
    let cfg = json!({ "provider": { "scripted": { "options": { "baseURL": base_url } } } });
    serde_json::to_string_pretty(&cfg).unwrap_or_default()
}

fn with_base_url(base_url: Option<&str>) -> String {
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
                "options": match base_url {
                    Some(url) => json!({ "baseURL": url, "apiKey": "unused" }),
                    None => json!({ "apiKey": "unused" }),
                },
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

/// An `sshd_config` for a loopback test host: `port` on 127.0.0.1, its `host_key`, the client
/// key whose `.pub` is next to `client_key` as the only authorized one, no passwords or PAM,
/// root allowed by key, port and socket forwards on, many sessions (ocfork multiplexes one
/// connection), and its pid in `pid_file`. The tests' hosts and the bench's use it.
pub fn sshd_config(port: u16, host_key: &Path, client_key: &Path, pid_file: &Path) -> String {
    format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}.pub\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
         StrictModes no\nPermitRootLogin prohibit-password\nPidFile {}\n\
         AllowTcpForwarding yes\nAllowStreamLocalForwarding yes\nMaxSessions 100\n\
         MaxStartups 100\n",
        host_key.display(),
        client_key.display(),
        pid_file.display()
    )
}

/// An `sshd_config` line giving every session of a test host `env` (`SetEnv`), so the host's
/// `opencode` can be the compiled binary itself, as on a real host, rather than a wrapper
/// script exporting it (ocfork never keeps a script's version). Newlines become spaces
/// (JSON allows it between tokens); quotes and backslashes are escaped for sshd.
pub fn sshd_set_env<V: AsRef<std::ffi::OsStr>>(env: &[(&str, V)]) -> String {
    let words: Vec<String> = env
        .iter()
        .map(|(k, v)| {
            let v = v.as_ref().to_string_lossy().replace('\n', " ");
            let v = v.replace('\\', "\\\\").replace('"', "\\\"");
            format!("\"{k}={v}\"")
        })
        .collect();
    format!("SetEnv {}\n", words.join(" "))
}
