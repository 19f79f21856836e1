//! Scenarios 2-4, forks with real OpenCode agents on the scripted model: ocfork's `try` end to
//! end against the best script (worktrees, one `opencode serve`, N sessions, `prompt_async`,
//! wait for idle) and against the hand-made way (one `opencode run` per worktree); OpenCode
//! environment switches; how ocfork scales with N; a user's own server across runs; and a
//! synthesis (`try`, `judge`, `synth`) against the forks it learns from.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use ocfork::opencode::types::PromptBody;
use ocfork::opencode::{Client, EventHub};
use ocfork::opencode::{TurnEnd, TurnWatch, follow_turn};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::measure::{Measured, Stat, measure};
use crate::report::{Goal, Section};
use crate::world::{TASK, WRITTEN, World};

mod baselines;
mod scenarios;
mod synth;
mod user_server;

pub use scenarios::{compare, scale, switches};
pub use synth::synthesis;
pub use user_server::user_server;

/// Extra environment or config for OpenCode in one measured variant.
#[derive(Clone, Debug, Default)]
pub struct Variant {
    pub label: String,
    pub env: Vec<(String, String)>,
    /// Merged into the OpenCode config, e.g. `{"snapshot": false}`.
    pub config: Option<Value>,
    /// Extra arguments to `ocfork try`, e.g. `--server URL`.
    pub args: Vec<String>,
}

impl Variant {
    fn config(&self, w: &World) -> String {
        let base = w.opencode_config();
        let Some(extra) = &self.config else {
            return base;
        };
        let mut cfg: Value = serde_json::from_str(&base).unwrap_or(Value::Null);
        if let (Some(c), Some(e)) = (cfg.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                c.insert(k.clone(), v.clone());
            }
        }
        cfg.to_string()
    }
}

/// OpenCode switches measured against ocfork as shipped (see BENCHMARKS.md for the choice).
/// `OPENCODE_FAST_BOOT` (read only by the TUI) and `OPENCODE_DISABLE_LSP_DOWNLOAD` (a no-op
/// with the bench's `"lsp": false`) are not measured.
pub fn variants() -> Vec<Variant> {
    vec![
        Variant {
            label: "OpenCode snapshots on (`\"snapshot\": true`)".into(),
            config: Some(serde_json::json!({ "snapshot": true })),
            ..Variant::default()
        },
        Variant {
            label: "OPENCODE_EXPERIMENTAL_DISABLE_FILEWATCHER=1".into(),
            env: vec![(
                "OPENCODE_EXPERIMENTAL_DISABLE_FILEWATCHER".into(),
                "1".into(),
            )],
            ..Variant::default()
        },
    ]
}

fn approach(i: usize) -> String {
    format!("approach {i}")
}

fn prompt(i: usize) -> String {
    format!("{TASK}\n\n{}", approach(i))
}

/// `ocfork try` with N forks, end to end; checks every fork ended `done` with the two files.
/// The value is the time from ocfork's last progress line (the last fork finished) to its
/// exit: what it spends stopping its server.
pub fn ocfork_try(
    w: &World,
    repo: &Path,
    n: usize,
    variant: &Variant,
) -> anyhow::Result<Measured<f64>> {
    match ocfork_try_within(w, repo, n, variant, None)? {
        (m, None) => Ok(m),
        (_, Some(unfinished)) => bail!(unfinished),
    }
}

/// Like [`ocfork_try`], with `try --timeout` when given; for a run whose forks did not all
/// finish as scripted, also says how they ended.
pub fn ocfork_try_within(
    w: &World,
    repo: &Path,
    n: usize,
    variant: &Variant,
    timeout: Option<Duration>,
) -> anyhow::Result<(Measured<f64>, Option<String>)> {
    let name = w.fresh("try");
    let log_path = w.log_path(&name);
    let mut cmd = w.ocfork_cmd(repo);
    cmd.args(["try", "--json", "-n", &name, "-t", TASK])
        .env("OPENCODE_CONFIG_CONTENT", variant.config(w))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &variant.env {
        cmd.env(k, v);
    }
    if let Some(t) = timeout {
        cmd.args(["--timeout", &format!("{}s", t.as_secs())]);
    }
    cmd.args(&variant.args);
    for i in 1..=n {
        cmd.arg(format!("f{i}={}", approach(i)));
    }
    let m = measure(|| -> anyhow::Result<(std::process::Output, f64)> {
        let started = std::time::Instant::now();
        let mut child = cmd.spawn().context("cannot run ocfork")?;
        let stderr = child.stderr.take().context("no stderr from ocfork")?;
        let mut log = std::fs::File::create(&log_path)?;
        let reader = std::thread::spawn(move || {
            use std::io::{BufRead, Write};
            let mut last = 0.0;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                last = started.elapsed().as_secs_f64();
                let _ = writeln!(log, "[{last:8.3}] {line}");
            }
            last
        });
        let out = child.wait_with_output()?;
        let exited = started.elapsed().as_secs_f64();
        let last = reader.join().unwrap_or(exited);
        Ok((out, exited - last))
    });
    let (out, teardown) = m.value?;
    let run: Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("ocfork try printed no JSON; see {}", log_path.display()))?;
    let forks = run["forks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let bad: Vec<String> = forks
        .iter()
        .filter(|f| f["state"] != "done" || f["files_changed"] != WRITTEN.len())
        .map(|f| format!("{} {} ({})", f["name"], f["state"], f["error"]))
        .collect();
    let unfinished = (forks.len() != n || !bad.is_empty()).then(|| {
        format!(
            "ocfork run {name} did not finish as scripted: {}; see {}",
            bad.join(", "),
            log_path.display()
        )
    });
    Ok((
        Measured {
            value: teardown,
            secs: m.secs,
            peak_rss: m.peak_rss,
            peak_maps: m.peak_maps,
            cpu: m.cpu,
        },
        unfinished,
    ))
}

fn loop_worktrees(w: &World, repo: &Path, name: &str, n: usize) -> anyhow::Result<Vec<PathBuf>> {
    (1..=n)
        .map(|i| {
            let path = w.worktree_root().join(name).join(format!("f{i}"));
            w.add_worktree(repo, &path, &format!("bench/{name}/f{i}"))?;
            Ok(path)
        })
        .collect()
}

fn check_written(dirs: &[PathBuf]) -> anyhow::Result<()> {
    for d in dirs {
        for f in WRITTEN {
            if !d.join(f).is_file() {
                bail!("the agent in {} did not write {f}", d.display());
            }
        }
    }
    Ok(())
}
