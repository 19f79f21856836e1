//! What the keys do beyond moving around: the patch pane's content (git and the comparison
//! code `ocfork diff` uses); merge and attach through the library the commands use
//! ([`crate::ops`]); continue, judge and synth by running this ocfork binary's own command.

use super::app::{App, Dialog};
use super::jobs;
use crate::fault::Fault;
use crate::ops::attach::{self, AttachCommand};
use crate::ops::merge::{self, How, MergeError};

/// Recomputes the patch pane when what it should show changed (another fork, a new commit,
/// the stat toggle, a comparison of two forks).
pub fn refresh_patch(app: &mut App) {
    let (key, from, to, title) = match patch_target(app) {
        Ok(t) => t,
        Err(msg) => {
            if app.patch_key != msg {
                app.patch = vec![msg.clone()];
                app.patch_key = msg;
            }
            return;
        }
    };
    let key = format!("{key} {}", app.stat);
    if key == app.patch_key {
        return;
    }
    app.patch_key = key;
    app.scroll = 0;
    let lines = if app.stat {
        stat_lines(app, &from, &to)
    } else {
        crate::git::git(
            &app.repo.workdir,
            ["diff", "-M", "--no-color", &from, &to, "--"],
        )
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.replace('\t', "    "))
                .collect()
        })
        .map_err(|e| e.to_string())
    };
    app.patch = match lines {
        Ok(l) if l.is_empty() => vec![format!("{title}: no changes")],
        Ok(l) => l,
        Err(e) => vec![format!("cannot show the patch: {e}")],
    };
    // A fork whose agent reset below the run's start: said above its patch, as `diff` does.
    if app.compare.is_none()
        && let Some(w) = crate::compare::lost_start(&app.repo, &app.run.run, &title, &from, &to)
    {
        app.patch.insert(0, format!("warning: {w}"));
    }
}

/// What the pane compares: (key, from commit, to commit, title), or why there is nothing.
fn patch_target(app: &App) -> Result<(String, String, String, String), String> {
    let tip = |name: &str| {
        app.run
            .fork(name)
            .and_then(|f| crate::compare::fork_tip(&app.repo, f))
            .ok_or_else(|| format!("{name} has no commit yet"))
    };
    match &app.compare {
        Some((a, b)) => {
            let (ta, tb) = (tip(a)?, tip(b)?);
            Ok((format!("vs {ta} {tb}"), ta, tb, format!("{a} vs {b}")))
        }
        None => {
            let name = app.selected_name().ok_or("the run has no forks")?;
            let t = tip(&name)?;
            let start = app.run.start.clone();
            Ok((format!("one {start} {t}"), start, t, name))
        }
    }
}

/// Per-file lines: a fork's files from the comparison code `ocfork diff --stat` uses, or
/// git's numstat between two forks.
fn stat_lines(app: &App, from: &str, to: &str) -> Result<Vec<String>, String> {
    let files: Vec<(String, String, u64, u64)> = if app.compare.is_some() {
        crate::git::numstat(&app.repo.workdir, from, to)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|s| {
                let (i, d) = (s.insertions.unwrap_or(0), s.deletions.unwrap_or(0));
                (String::new(), s.path, i, d)
            })
            .collect()
    } else {
        let name = app.selected_name().unwrap_or_default();
        let changes = crate::compare::changes(&app.repo, from, &[(name, Some(to.to_string()))])
            .map_err(|e| e.to_string())?;
        changes
            .into_iter()
            .flat_map(|c| c.files)
            .map(|f| {
                (
                    f.status.as_str().to_string(),
                    f.path,
                    f.insertions,
                    f.deletions,
                )
            })
            .collect()
    };
    Ok(files
        .into_iter()
        .map(|(status, path, ins, del)| format!("{status:<9} {path}  +{ins} -{del}"))
        .collect())
}

/// `m`: shows what `merge --dry-run` says (the library's plan, nothing changed) and asks to
/// go on.
pub fn ask_merge(app: &mut App) {
    let Some(name) = app.selected_name() else {
        return;
    };
    let reference = app.reference(&name);
    let mut lines = Vec::new();
    let mut warn = |w| lines.push(format!("ocfork: {w}"));
    let planned = app
        .store
        .resolve_fork(&reference)
        .map_err(MergeError::from)
        .and_then(|fork| merge::plan(&app.repo, fork, How::Squash, &mut warn));
    // Nothing to merge: said, with no question to answer.
    let ask = match planned {
        Ok(plan) => {
            lines.extend(plan.lines());
            matches!(plan.action, merge::Action::Commit { .. })
        }
        Err(e) => {
            lines.extend(jobs::error_lines(&e, e.hints()));
            false
        }
    };
    let mut lines: Vec<String> = lines
        .iter()
        .map(|l| crate::text::escape_controls(l).into_owned())
        .collect();
    if ask {
        lines.push(String::new());
        lines.push(format!("Merge {reference}? y / n"));
        app.dialog = Dialog::ConfirmMerge { fork: name, lines };
    } else {
        app.dialog = Dialog::Message {
            title: format!("merge {reference} --dry-run"),
            lines,
        };
    }
}

/// `y` on the merge question: the merge in the background, so the UI goes on while the
/// user's commit hooks run; what it said is shown when it ends.
pub fn merge(app: &mut App, fork: &str) {
    let reference = app.reference(fork);
    app.dialog = Dialog::None;
    jobs::start_merge(app, reference);
}

/// Enter on the follow-up line: `ocfork continue REF TEXT` in the background.
pub fn start_continue(app: &mut App, fork: &str, text: &str) {
    if text.trim().is_empty() {
        app.status = "continue: nothing typed, nothing sent".into();
        return;
    }
    let reference = app.reference(fork);
    jobs::start_child(
        app,
        format!("continue {reference}"),
        &["continue", &reference, text],
    );
}

/// `J`: `ocfork judge RUN` in the background.
pub fn start_judge(app: &mut App) {
    let run = app.run.run.clone();
    jobs::start_child(app, format!("judge {run}"), &["judge", &run]);
}

/// `S`: `ocfork synth RUN` in the background: one more fork from the best ones, judged again
/// when the run has a verdict.
pub fn start_synth(app: &mut App) {
    let run = app.run.run.clone();
    jobs::start_child(app, format!("synth {run}"), &["synth", &run]);
}

/// `a`: OpenCode's TUI on the fork's session, checked before the terminal is handed over; or
/// why not, in a dialog.
pub fn attach_command(app: &mut App, fork: &str) -> Option<AttachCommand> {
    let reference = app.reference(fork);
    match checked_attach(app, &reference) {
        Ok(cmd) => Some(cmd),
        Err(lines) => {
            app.dialog = Dialog::Message {
                title: format!("attach {reference}"),
                lines: lines
                    .iter()
                    .map(|l| crate::text::escape_controls(l).into_owned())
                    .collect(),
            };
            None
        }
    }
}

/// The command `ocfork attach REF` runs, its opencode's version checked; or the error's lines.
fn checked_attach(app: &App, reference: &str) -> Result<AttachCommand, Vec<String>> {
    let found = app
        .store
        .resolve_fork(reference)
        .map_err(|e| jobs::error_lines(&e, e.hints()))?;
    let lines = |e: attach::AttachError| jobs::error_lines(&e, e.hints());
    let cmd = attach::command(&found, None).map_err(lines)?;
    block_on(cmd.check())
        .map_err(|e| vec![format!("cannot check the opencode binary: {e}")])?
        .map_err(lines)?;
    Ok(cmd)
}

/// Runs `future` to its end from the UI's thread (a blocking one, outside the async workers).
fn block_on<T>(future: impl std::future::Future<Output = T>) -> std::io::Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => Ok(handle.block_on(future)),
        Err(_) => Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(future)),
    }
}

/// Once the terminal is suspended: OpenCode's TUI on the user's terminal until it exits.
pub fn attach(cmd: &AttachCommand, reference: &str) -> String {
    match cmd.process().status() {
        Ok(s) if s.success() => format!("back from {reference}"),
        Ok(s) => format!("attach {reference} {}", super::app::exit_text(s)),
        Err(e) => format!("cannot run {}: {e}", cmd.bin.display()),
    }
}
