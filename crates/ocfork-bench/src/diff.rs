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
) -> anyhow::Result<(Section, Vec<Goal>)> {
    let n = made.worktrees.len();
    let mut sec = Section::new(
        "5. Diff",
        &format!(
            "{n} forks of the big repository, each changing {changed} files (neighbours overlap by \
             half): `ocfork diff --json` against {n} x `git diff --numstat base branch`. The forks \
             are committed outside ocfork, so the first `ocfork diff` finds no kept comparison \
             (`.git/ocfork/diffs`, removed before each such call) and computes it; later calls, \
             like every call after `ocfork try` (which keeps each fork's comparison when the \
             fork ends), read it."
        ),
    );
    let goal_kept = "ocfork diff / git diff loop, as after `ocfork try` (comparison kept)";
    let goal_first = "ocfork diff / git diff loop, first call (nothing kept)";
    if !available(w, repo) {
        sec.note("not available: this ocfork has no `diff` command yet");
        return Ok((
            sec,
            vec![Goal::unavailable(
                "5",
                &format!("{goal_kept} <= 1.00"),
                "not available",
            )],
        ));
    }
    let store = Store::new(&repo.join(".git"));
    let run = store.load(&made.name)?;
    let kept_dir = store.paths().diffs();
    let branches: Vec<(String, String)> = run
        .forks
        .iter()
        .map(|f| (f.name.clone(), f.branch.clone()))
        .collect();
    let (mut first, mut kept, mut git) = (Stat::default(), Stat::default(), Stat::default());
    let mut counts: Vec<Counts> = Vec::new();
    let mut theirs = Counts::new();
    for rep in 0..reps {
        // Alternate which side goes first; the kept call always follows a first call.
        let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            if side == 0 {
                match std::fs::remove_dir_all(&kept_dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => bail!("cannot remove {}: {e}", kept_dir.display()),
                }
                let t = Instant::now();
                counts.push(ocfork_counts(w, repo, &made.name)?);
                first.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                counts.push(ocfork_counts(w, repo, &made.name)?);
                kept.push(t.elapsed().as_secs_f64());
            } else {
                let t = Instant::now();
                theirs = numstat_counts(w, repo, &run.base, &branches)?;
                git.push(t.elapsed().as_secs_f64());
            }
        }
    }
    let ratio_first = first.ratio(&git);
    let ratio_kept = kept.ratio(&git);
    sec.millis(&format!("{n} x git diff --numstat"), &git);
    sec.millis("ocfork diff --json, first call (nothing kept)", &first);
    sec.millis("ocfork diff --json, comparison kept", &kept);
    sec.ratio("ocfork / git loop, first call", &ratio_first);
    sec.ratio("ocfork / git loop, comparison kept", &ratio_kept);
    let differing: Vec<&Counts> = counts.iter().filter(|c| **c != theirs).collect();
    sec.row(
        "identical counts (files, +, - per fork), every call",
        match differing.first() {
            None => "yes".into(),
            Some(mine) => format!("no: ocfork {mine:?}, git {theirs:?}"),
        },
    );
    let mut goals = vec![
        Goal::at_most("5", goal_kept, &ratio_kept, 1.0),
        Goal::at_most("5", goal_first, &ratio_first, 1.0),
    ];
    if !differing.is_empty() {
        for goal in &mut goals {
            goal.met = Some(false);
            goal.measured.push_str(", counts differ");
        }
    }
    Ok((sec, goals))
}
