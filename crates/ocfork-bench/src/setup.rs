//! Scenario 1, fork setup: N worktrees of the big repository made ready by ocfork, against N
//! sequential `git worktree add`.
//!
//! ocfork is timed as `ocfork try --server URL` against a stub server that lists agents but
//! never answers a session request: the clock stops when the run's manifest shows every fork
//! `running` (worktrees made, server reached), then ocfork is killed. That is ocfork's setup,
//! with no hook in the product.

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

/// A loopback HTTP server that answers what `try` checks first (`GET /agent`, `/config`,
/// `/config/providers`) and leaves every other request hanging.
fn stub_server() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("cannot bind a port")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::{BufRead, BufReader, Write};
                let mut reader = BufReader::new(&conn);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                // What `try` asks before it makes anything: the agents, the models, the config.
                let body = if line.starts_with("GET /agent") {
                    Some(r#"[{"name":"build","mode":"primary"}]"#)
                } else if line.starts_with("GET /config/providers") {
                    Some(
                        r#"{"providers":[{"id":"scripted","models":{"scripted":{}}}],"default":{"scripted":"scripted"}}"#,
                    )
                } else if line.starts_with("GET /config") {
                    Some(r#"{"model":"scripted/scripted"}"#)
                } else {
                    None
                };
                if let Some(body) = body {
                    let _ = write!(
                        &conn,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    return;
                }
                // Hold the connection until the client goes away.
                let mut sink = String::new();
                while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                    sink.clear();
                }
            });
        }
    });
    Ok(format!("http://127.0.0.1:{port}"))
}

/// `ocfork try` up to the point where every worktree exists and every fork is running.
pub fn ocfork_worktrees(w: &World, repo: &Path, n: usize) -> anyhow::Result<MadeRun> {
    let name = w.fresh("setup");
    let mut cmd = w.ocfork_cmd(repo);
    cmd.args(["try", "-n", &name, "--server", &stub_server()?, "-t", TASK])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(w.log_path(&name))?);
    for i in 1..=n {
        cmd.arg(format!("f{i}=approach {i}"));
    }
    let mut child = cmd.spawn().context("cannot run ocfork")?;
    let manifest = repo.join(".git/ocfork/runs").join(format!("{name}.json"));
    let started = std::time::Instant::now();
    let outcome = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Err(anyhow::anyhow!(
                "ocfork try exited ({status}) before its forks ran; see {}",
                w.log_path(&name).display()
            ));
        }
        if let Ok(run) = std::fs::read(&manifest)
            .map_err(anyhow::Error::from)
            .and_then(|b| Ok(serde_json::from_slice::<serde_json::Value>(&b)?))
        {
            let forks = run["forks"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if forks.len() == n && forks.iter().all(|f| f["state"] == "running") {
                break Ok(());
            }
        }
        if started.elapsed() > std::time::Duration::from_secs(600) {
            break Err(anyhow::anyhow!(
                "ocfork try did not start its forks in 10 minutes"
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    // Its sessions can never start; nothing of it is needed any more.
    let _ = child.kill();
    let _ = child.wait();
    outcome?;
    let worktrees: Vec<PathBuf> = (1..=n)
        .map(|i| w.worktree_root().join(&name).join(format!("f{i}")))
        .collect();
    if let Some(missing) = worktrees.iter().find(|p| !p.join(".git").exists()) {
        bail!("ocfork try did not create {}", missing.display());
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
            "{n} worktrees of a {files}-file repository made ready: ocfork (`try` until every \
             fork is running, against a stub server) against {n} sequential `git worktree add`."
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
