//! Scenario 6, CLI latency: `ocfork status --json` and `ocfork list --json` in a repository
//! holding many finished runs, whose manifests are written directly with ocfork's own types.

use std::path::Path;
use std::time::Instant;

use anyhow::bail;
use ocfork::state::{ForkState, Run, RunState, SCHEMA, Store};
use serde_json::json;

use crate::measure::{Stat, Unit};
use crate::report::{Goal, Section};
use crate::world::World;

/// A finished run. Built from JSON so fields ocfork adds later take their defaults.
fn manifest(repo: &Path, base: &str, r: usize, forks: usize) -> anyhow::Result<Run> {
    let name = format!("run-{r:03}");
    let root = repo.with_extension("ocfork").join(&name);
    let forks: Vec<serde_json::Value> = (1..=forks)
        .map(|f| {
            json!({
                "name": format!("f{f}"),
                "prompt": format!("bench task\n\napproach {f}"),
                "agent": "build",
                "model": null,
                "state": ForkState::Done,
                "branch": format!("ocfork/{name}/f{f}"),
                "worktree": root.join(format!("f{f}")),
                "session": format!("ses_bench{r:03}{f:02}"),
                "commit": base,
                "files_changed": 2, "insertions": 40, "deletions": 3,
                "check": null,
                "duration_ms": 61_234,
                "tokens": {"input": 1200, "output": 340},
                "cost": 0.0,
                "error": null,
                "tool_calls": 2,
            })
        })
        .collect();
    let run = json!({
        "schema": SCHEMA,
        "run": name,
        "repo": repo,
        "base": base,
        "start": base,
        "task": "bench task",
        "state": RunState::Done,
        "created_at": format!("2026-01-{:02}T{:02}:{:02}:00.000Z", 1 + r / 24 % 28, r % 24, r % 60),
        "forks": forks,
        "dispatched": true,
    });
    Ok(serde_json::from_value(run)?)
}

fn time_command(w: &World, repo: &Path, args: &[&str], calls: usize) -> anyhow::Result<Stat> {
    let mut s = Stat::default();
    // Two untimed calls warm the page cache, as for a user who just ran something.
    for i in 0..calls + 2 {
        let t = Instant::now();
        let out = w.ocfork_cmd(repo).args(args).output()?;
        let secs = t.elapsed().as_secs_f64();
        if !out.status.success()
            || serde_json::from_slice::<serde_json::Value>(&out.stdout).is_err()
        {
            bail!(
                "ocfork {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        if i >= 2 {
            s.push(secs);
        }
    }
    Ok(s)
}

pub fn run(
    w: &World,
    runs: usize,
    forks: usize,
    calls: usize,
) -> anyhow::Result<(Section, Vec<Goal>)> {
    let repo = w.make_repo("latency", 10)?;
    let base = w.git(&repo, &["rev-parse", "HEAD"])?.trim().to_string();
    let store = Store::new(&repo.join(".git"));
    for r in 0..runs {
        store.save(&manifest(&repo, &base, r, forks)?)?;
    }
    let status = time_command(w, &repo, &["status", "--json"], calls)?;
    let list = time_command(w, &repo, &["list", "--json"], calls)?;
    let mut sec = Section::new(
        "6. CLI latency",
        &format!(
            "{runs} finished runs of {forks} forks each; {calls} calls of each command, process start to exit."
        ),
    );
    sec.millis("ocfork status --json", &status);
    sec.millis("ocfork list --json", &list);
    let goals = vec![
        Goal::below_or_at("6", "`status --json`", &status, 0.020, Unit::Millis, "<"),
        Goal::below_or_at("6", "`list --json`", &list, 0.020, Unit::Millis, "<"),
    ];
    Ok((sec, goals))
}
