//! What the keys do beyond moving around: the patch pane's content (git and the comparison
//! code `ocfork diff` uses), and merge, continue, attach and judge, each by running this
//! ocfork binary's own command, so the UI does exactly what the command does.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::app::{App, Dialog, Job};

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

/// This ocfork binary, to run its own commands.
fn ocfork() -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "ocfork".into());
    let mut cmd = Command::new(exe);
    cmd.stdin(Stdio::null()).env("NO_COLOR", "1");
    cmd
}

/// Runs `ocfork ARGS`, waiting for it; its stdout and stderr as lines, and its exit text.
fn run_captured(args: &[&str]) -> (bool, Vec<String>) {
    match ocfork().args(args).output() {
        Ok(out) => {
            let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .chain(String::from_utf8_lossy(&out.stderr).lines())
                .map(str::to_string)
                .collect();
            lines.push(format!("({})", super::app::exit_text(out.status)));
            (out.status.success(), lines)
        }
        Err(e) => (false, vec![format!("cannot run ocfork: {e}")]),
    }
}

/// `m`: shows what `merge --dry-run` says and asks to go on.
pub fn ask_merge(app: &mut App) {
    let Some(name) = app.selected_name() else {
        return;
    };
    let reference = app.reference(&name);
    let (ok, mut lines) = run_captured(&["merge", &reference, "--dry-run"]);
    // Nothing to merge: said, with no question to answer.
    let nothing = lines.iter().any(|l| l.ends_with("nothing to merge"));
    if ok && !nothing {
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

/// `y` on the merge question: `ocfork merge REF` in the background, so the UI goes on while
/// the user's commit hooks run; its output is shown when it ends.
pub fn merge(app: &mut App, fork: &str) {
    let reference = app.reference(fork);
    app.dialog = Dialog::None;
    start_job(app, format!("merge {reference}"), &["merge", &reference]);
}

/// Starts `ocfork ARGS` in the background; its output is shown when it ends.
fn start_job(app: &mut App, label: String, args: &[&str]) {
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
                child,
                output,
            });
        }
        Err(e) => app.status = format!("{label}: cannot run ocfork: {e}"),
    }
}

/// Enter on the follow-up line: `ocfork continue REF TEXT` in the background.
pub fn start_continue(app: &mut App, fork: &str, text: &str) {
    if text.trim().is_empty() {
        app.status = "continue: nothing typed, nothing sent".into();
        return;
    }
    let reference = app.reference(fork);
    start_job(
        app,
        format!("continue {reference}"),
        &["continue", &reference, text],
    );
}

/// `J`: `ocfork judge RUN` in the background.
pub fn start_judge(app: &mut App) {
    let run = app.run.run.clone();
    start_job(app, format!("judge {run}"), &["judge", &run]);
}

/// `S`: `ocfork synth RUN` in the background: one more fork from the best ones, judged again
/// when the run has a verdict.
pub fn start_synth(app: &mut App) {
    let run = app.run.run.clone();
    start_job(app, format!("synth {run}"), &["synth", &run]);
}

/// `a`, once the terminal is suspended: `ocfork attach REF` on the user's terminal.
pub fn attach(reference: &str) -> String {
    let exe = std::env::current_exe().unwrap_or_else(|_| "ocfork".into());
    match Command::new(exe).args(["attach", reference]).status() {
        Ok(s) if s.success() => format!("back from {reference}"),
        Ok(s) => format!("attach {reference} {}", super::app::exit_text(s)),
        Err(e) => format!("cannot run ocfork attach: {e}"),
    }
}
