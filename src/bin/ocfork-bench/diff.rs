//! Scenario 5, diff: N forks of the big repository, each changing some files, compared by
//! `ocfork diff --json` against N x `git diff --numstat base branch`; both must count the same.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use ocfork::state::{ForkState, Store};
use serde_json::Value;

use crate::measure::Stat;
use crate::report::{Goal, Section};
use crate::setup::MadeRun;
use crate::world::{World, source_path, source_text};

/// (files, insertions, deletions) per fork.
type Counts = BTreeMap<String, (u64, u64, u64)>;

/// Commits `changed` edited files in every worktree of the run and records the forks as done.
pub fn prepare(
    w: &World,
    repo: &Path,
    made: &MadeRun,
    files: usize,
    changed: usize,
) -> anyhow::Result<()> {
    for (k, wt) in made.worktrees.iter().enumerate() {
        // Neighbouring forks overlap by half, so pairs share some files and differ in others.
        let start = k * changed / 2;
        for j in 0..changed {
            let i = (start + j) % files;
            let path = wt.join(source_path(i));
            std::fs::write(&path, source_text(i, 1 + k % 3))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        w.git(wt, &["add", "-A"])?;
        w.git(
            wt,
            &[
                "commit",
                "-q",
                "-m",
                &format!("fork {k}: edit {changed} files"),
            ],
        )?;
    }
    let common = repo.join(".git");
    let store = Store::new(&common);
    let mut run = store.load(&made.name)?;
    for (fork, wt) in run.forks.iter_mut().zip(&made.worktrees) {
        fork.commit = Some(w.git(wt, &["rev-parse", "HEAD"])?.trim().to_string());
        fork.state = ForkState::Done;
        fork.error = None;
        fork.files_changed = changed as u64;
    }
    run.pid = None;
    run.refresh_state();
    store.save(&run)?;
    Ok(())
}

fn numstat_counts(
    w: &World,
    repo: &Path,
    base: &str,
    branches: &[(String, String)],
) -> anyhow::Result<Counts> {
    let mut counts = Counts::new();
    for (fork, branch) in branches {
        let out = w.git(repo, &["diff", "--numstat", base, branch])?;
        let mut c = (0, 0, 0);
        for line in out.lines() {
            let mut parts = line.split('\t');
            c.0 += 1;
            c.1 += parts
                .next()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            c.2 += parts
                .next()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
        }
        counts.insert(fork.clone(), c);
    }
    Ok(counts)
}

fn ocfork_counts(w: &World, repo: &Path, run: &str) -> anyhow::Result<Counts> {
    let out = w.ocfork_cmd(repo).args(["diff", "--json", run]).output()?;
    if !out.status.success() {
        bail!(
            "ocfork diff --json {run} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v: Value =
        serde_json::from_slice(&out.stdout).context("ocfork diff --json printed no JSON")?;
    let mut counts = Counts::new();
    for f in v["forks"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let files = f["files"].as_array().map(Vec::as_slice).unwrap_or_default();
        let sum = |k: &str| {
            files
                .iter()
                .map(|x| x[k].as_u64().unwrap_or(0))
                .sum::<u64>()
        };
        counts.insert(
            f["name"].as_str().unwrap_or_default().to_string(),
            (files.len() as u64, sum("insertions"), sum("deletions")),
        );
    }
    Ok(counts)
}

/// True when this ocfork has a `diff` command.
fn available(w: &World, repo: &Path) -> bool {
    w.ocfork_cmd(repo)
        .args(["diff", "--help"])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn run(
    w: &World,
    repo: &Path,
    made: &MadeRun,
    changed: usize,
    reps: usize,
) -> anyhow::Result<(Section, Goal)> {
    let n = made.worktrees.len();
    let mut sec = Section::new(
        "5. Diff",
        &format!(
            "{n} forks of the big repository, each changing {changed} files (neighbours overlap by \
             half): `ocfork diff --json` against {n} x `git diff --numstat base branch`."
        ),
    );
    let goal_text = "ocfork diff / git diff loop, identical counts";
    if !available(w, repo) {
        sec.note("not available: this ocfork has no `diff` command yet");
        return Ok((
            sec,
            Goal::unavailable("5", &format!("{goal_text} <= 1.00"), "not available"),
        ));
    }
    let store = Store::new(&repo.join(".git"));
    let run = store.load(&made.name)?;
    let branches: Vec<(String, String)> = run
        .forks
        .iter()
        .map(|f| (f.name.clone(), f.branch.clone()))
        .collect();
    let (mut ocfork, mut git) = (Stat::default(), Stat::default());
    let (mut mine, mut theirs) = (Counts::new(), Counts::new());
    for rep in 0..reps {
        for side in [rep % 2, 1 - rep % 2] {
            let t = Instant::now();
            if side == 0 {
                mine = ocfork_counts(w, repo, &made.name)?;
                ocfork.push(t.elapsed().as_secs_f64());
            } else {
                theirs = numstat_counts(w, repo, &run.base, &branches)?;
                git.push(t.elapsed().as_secs_f64());
            }
        }
    }
    let ratio = ocfork.ratio(&git);
    sec.millis(&format!("{n} x git diff --numstat"), &git);
    sec.millis("ocfork diff --json", &ocfork);
    sec.ratio("ocfork / git loop", &ratio);
    let same = mine == theirs;
    sec.row(
        "identical counts (files, +, - per fork)",
        if same {
            "yes".into()
        } else {
            format!("no: ocfork {mine:?}, git {theirs:?}")
        },
    );
    let mut goal = Goal::at_most("5", goal_text, &ratio, 1.0);
    if !same {
        goal.met = Some(false);
        goal.measured.push_str(", counts differ");
    }
    Ok((sec, goal))
}
