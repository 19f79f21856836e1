//! Work the UI goes on beside: a merge on a thread of its own ([`crate::ops::merge`]; the user's
//! commit hooks may take a while), and `continue`, `judge` and `synth` as ocfork children
//! writing to a log file; what each said is shown when it ends.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::app::{App, Dialog};
use crate::fault::Fault;
use crate::git::Repo;
use crate::ops::merge::{self, CommitOptions, How, MergeError};
use crate::state::Store;

/// Something working while the UI goes on.
pub struct Job {
    pub label: String,
    work: Work,
}

enum Work {
    /// An ocfork child; it records its own result in the run, and goes on after the UI quits.
    Child {
        child: std::process::Child,
        output: tempfile::NamedTempFile,
    },
    /// A merge on a thread; the lines it has to say when it ends.
    Thread(std::thread::JoinHandle<Vec<String>>),
}

/// Merges `reference` (planned again, as `ocfork merge REF` would) on a thread.
pub fn start_merge(app: &mut App, reference: String) {
    let label = format!("merge {reference}");
    let (repo, store) = (app.repo.clone(), app.store.clone());
    let spawned = std::thread::Builder::new()
        .name(label.clone())
        .spawn(move || merge_lines(&repo, &store, &reference));
    match spawned {
        Ok(handle) => {
            app.status = format!("{label}: working in the background");
            app.jobs.push(Job {
                label,
                work: Work::Thread(handle),
            });
        }
        Err(e) => app.status = format!("{label}: cannot start it: {e}"),
    }
}

/// What merging `reference` said: its warnings, then what it did or why not.
fn merge_lines(repo: &Repo, store: &Store, reference: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut warn = |w| lines.push(format!("ocfork: {w}"));
    let merged = store
        .resolve_fork(reference)
        .map_err(MergeError::from)
        .and_then(|fork| merge::plan(repo, fork, How::Squash, &mut warn))
        .and_then(|plan| {
            let outcome = merge::apply(repo, store, &plan, &CommitOptions::default())?;
            Ok(plan.outcome_line(&outcome))
        });
    match merged {
        Ok(line) => lines.extend([line, "(finished)".into()]),
        Err(e) => {
            lines.extend(error_lines(&e, e.hints()));
            lines.push("(failed)".into());
        }
    }
    lines
}

/// An error as the commands print it: `error: ...`, its causes, and its hints.
pub fn error_lines(e: &(dyn std::error::Error + 'static), hints: Vec<String>) -> Vec<String> {
    let told = crate::fault::told(e, &hints);
    told.lines().map(str::to_string).collect()
}

/// This ocfork binary, to run its own commands.
fn ocfork() -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "ocfork".into());
    let mut cmd = Command::new(exe);
    cmd.stdin(Stdio::null()).env("NO_COLOR", "1");
    cmd
}

/// Starts `ocfork ARGS` in the background; its output is shown when it ends.
pub fn start_child(app: &mut App, label: String, args: &[&str]) {
    let output = match tempfile::NamedTempFile::new() {
        Ok(f) => f,
        Err(e) => {
            app.status = format!("{label}: cannot make a log file: {e}");
            return;
        }
    };
    let (out, err) = match (output.reopen(), output.reopen()) {
        (Ok(o), Ok(e)) => (o, e),
        _ => {
            app.status = format!("{label}: cannot open its log file");
            return;
        }
    };
    match ocfork()
        .args(args)
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
    {
        Ok(child) => {
            app.status = format!("{label}: working in the background");
            app.jobs.push(Job {
                label,
                work: Work::Child { child, output },
            });
        }
        Err(e) => app.status = format!("{label}: cannot run ocfork: {e}"),
    }
}

/// Shows what each job that ended said (its last lines) and forgets it.
pub fn collect(app: &mut App) {
    let mut i = 0;
    while i < app.jobs.len() {
        let ended = match &mut app.jobs[i].work {
            Work::Child { child, .. } => child.try_wait().map(|s| s.is_some()),
            Work::Thread(handle) => Ok(handle.is_finished()),
        };
        match ended {
            Ok(true) => {
                let job = app.jobs.remove(i);
                app.dialog = Dialog::Message {
                    title: job.label,
                    lines: said(job.work),
                };
            }
            Ok(false) => i += 1,
            Err(e) => {
                let job = app.jobs.remove(i);
                app.status = format!("{}: {e}", job.label);
            }
        }
    }
}

/// The last lines of what an ended job said, control characters written out.
fn said(work: Work) -> Vec<String> {
    let mut lines: Vec<String> = match work {
        Work::Child { mut child, output } => {
            let text = std::fs::read_to_string(output.path()).unwrap_or_default();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            let keep = lines.len().saturating_sub(12);
            lines.drain(..keep);
            match child.wait() {
                Ok(status) => lines.push(format!("({})", super::app::exit_text(status))),
                Err(e) => lines.push(format!("({e})")),
            }
            lines
        }
        Work::Thread(handle) => handle
            .join()
            .unwrap_or_else(|_| vec!["(it stopped with a panic)".into()]),
    };
    for l in &mut lines {
        *l = crate::text::escape_controls(l).into_owned();
    }
    lines
}

/// True while a merge works.
pub fn merging(app: &App) -> bool {
    app.jobs.iter().any(|j| matches!(j.work, Work::Thread(_)))
}

/// At quit: a merge still working is waited for (its commit is half made until it ends); an
/// ocfork child goes on by itself.
pub fn finish(app: &mut App) {
    for job in app.jobs.drain(..) {
        match job.work {
            Work::Child { mut child, .. } => {
                let _ = child.try_wait();
            }
            Work::Thread(handle) => {
                let _ = handle.join();
            }
        }
    }
}
