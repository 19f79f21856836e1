//! Scenario 1, fork setup: N worktrees of the big repository made ready by ocfork, against N
//! sequential `git worktree add`.
//!
//! ocfork is timed as `ocfork try --server URL` where nothing listens at URL: `try` records the
//! run, creates every worktree, then fails to reach the server and exits. That is exactly
//! ocfork's setup, with no hook in the product.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::measure::{Stat, measure};
use crate::report::{Goal, Section};
use crate::world::{TASK, World};

/// A run whose worktrees ocfork created, left for the diff scenario.
pub struct MadeRun {
    pub name: String,
    pub worktrees: Vec<PathBuf>,
}

pub struct SetupResult {
    pub section: Section,
    pub goal: Goal,
    pub last_run: Option<MadeRun>,
}

/// A loopback URL where nothing listens.
fn dead_url() -> anyhow::Result<String> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).context("cannot bind a port")?;
    let port = l.local_addr()?.port();
    drop(l);
    Ok(format!("http://127.0.0.1:{port}"))
}

/// `ocfork try` up to the point where every worktree exists.
pub fn ocfork_worktrees(w: &World, repo: &Path, n: usize) -> anyhow::Result<MadeRun> {
    let name = w.fresh("setup");
    let mut cmd = w.ocfork_cmd(repo);
    cmd.args([
        "try",
        "--json",
        "-n",
        &name,
        "--server",
        &dead_url()?,
        "-t",
        TASK,
    ]);
    for i in 1..=n {
        cmd.arg(format!("f{i}=approach {i}"));
    }
    let out = cmd.output().context("cannot run ocfork")?;
    let worktrees: Vec<PathBuf> = (1..=n)
        .map(|i| w.worktree_root().join(&name).join(format!("f{i}")))
        .collect();
    if let Some(missing) = worktrees.iter().find(|p| !p.join(".git").exists()) {
        bail!(
            "ocfork try did not create {}: {}",
            missing.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(MadeRun { name, worktrees })
}

fn git_worktrees(w: &World, repo: &Path, n: usize) -> anyhow::Result<()> {
    let name = w.fresh("loop");
    for i in 1..=n {
        let path = w.worktree_root().join(&name).join(format!("f{i}"));
        w.add_worktree(repo, &path, &format!("bench/{name}/f{i}"))?;
    }
    Ok(())
}

pub fn run(
    w: &World,
    repo: &Path,
    n: usize,
    files: usize,
    reps: usize,
) -> anyhow::Result<SetupResult> {
    let mut ocfork = Stat::default();
    let mut git = Stat::default();
    let mut last_run = None;
    for rep in 0..reps {
        // Alternate who goes first, so neither always meets a warmer page cache.
        for side in [rep % 2, 1 - rep % 2] {
            if side == 0 {
                let m = measure(|| ocfork_worktrees(w, repo, n));
                last_run = Some(m.value?);
                ocfork.push(m.secs);
            } else {
                let m = measure(|| git_worktrees(w, repo, n));
                m.value?;
                git.push(m.secs);
            }
        }
        eprintln!(
            "  setup rep {}: ocfork {:.2} s, git loop {:.2} s",
            rep + 1,
            ocfork.values[rep],
            git.values[rep]
        );
    }
    let ratio = ocfork.ratio(&git);
    let mut section = Section::new(
        "1. Fork setup",
        &format!(
            "{n} worktrees of a {files}-file repository made ready: ocfork (`try` up to its server \
             connection) against {n} sequential `git worktree add`."
        ),
    );
    section.secs(&format!("{n} x `git worktree add`, sequential"), &git);
    section.secs("ocfork", &ocfork);
    section.ratio("ocfork / git loop", &ratio);
    let goal = Goal::at_most("1", "fork setup, ocfork / git loop", &ratio, 0.6);
    Ok(SetupResult {
        section,
        goal,
        last_run,
    })
}
