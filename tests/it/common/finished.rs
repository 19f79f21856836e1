//! A finished run made without OpenCode, for the tests of commands that read one (`diff`,
//! `merge`, `clean`, `status`, `list`, completions): each fork's branch and worktree made by
//! real git, its work committed with the message ocfork gives a fork's commit
//! (`dispatch::commit_message`), measured by the library's own `compare::fork_stats` (which
//! keeps the comparison for `diff`, as a run's end does), and the manifest written by the
//! library's `state::Store` from its `Run` and `Fork` types: the real format, so a fixture
//! cannot drift from what `try` writes. Use it only where a test is about reading a run, not
//! about a fork's life (that needs `try`, OpenCode and the scripted model).

use std::path::Path;

use ocfork::state::{EndReason, Fork, ForkState, Run, RunState, Store, Tokens};
use serde_json::Value;

use super::{World, git, json, ok};

/// One fork of a finished run: its name, its approach's text, and what its agent did in its
/// worktree (write, change, delete or move files).
pub struct Done<'a> {
    pub name: &'a str,
    pub text: &'a str,
    pub work: Box<dyn Fn(&Path) + 'a>,
}

/// A fork whose agent wrote `files` (path, content) in its worktree.
pub fn wrote<'a>(name: &'a str, text: &'a str, files: &'a [(&'a str, &'a str)]) -> Done<'a> {
    Done {
        name,
        text,
        work: Box::new(move |wt: &Path| write_files(wt, files)),
    }
}

/// Writes `files` (path, content) below `dir`, making folders as needed.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, content).expect("write");
    }
}

/// Records run `name` in the world's repository as `try -n NAME -t TASK fork=TEXT ...` would
/// leave it with every fork `done`: branches `ocfork/NAME/FORK` from HEAD, worktrees in the
/// default place (`../app.ocfork/NAME/FORK`), one commit per fork that changed something.
/// Returns the run as `ocfork status NAME --json` prints it.
pub fn finished_run(w: &World, name: &str, task: Option<&str>, forks: &[Done]) -> Value {
    let base = w.git(&["rev-parse", "HEAD"]).trim().to_string();
    let common = w.repo.join(".git");
    let repo_name = w.repo.file_name().expect("repo name").to_string_lossy();
    let root = w
        .repo
        .parent()
        .expect("repo parent")
        .join(format!("{repo_name}.ocfork"))
        .join(name);
    let created_at = ocfork::state::now_rfc3339();
    let forks = forks
        .iter()
        .map(|d| {
            // As `try` makes it (cli/try_plan.rs).
            let prompt = match task {
                Some(t) if !t.trim().is_empty() => format!("{}\n\n{}", t.trim_end(), d.text),
                _ => d.text.to_string(),
            };
            let mut f = Fork::pending(name, d.name.to_string(), &root, prompt, "build".into());
            let wt = f.worktree.clone();
            let wt_arg = wt.to_str().expect("utf-8 worktree");
            git(
                &w.repo,
                &["worktree", "add", "-q", "-b", &f.branch, wt_arg, &base],
            );
            (d.work)(&wt);
            git(&wt, &["add", "-A"]);
            let changed = !git(&wt, &["status", "--porcelain"]).is_empty();
            if changed {
                let message =
                    ocfork::dispatch::commit_message(name, d.name, &f.prompt, ForkState::Done);
                let file = w.path(&format!("message-{name}-{}", d.name));
                std::fs::write(&file, message).expect("write");
                let file = file.to_str().expect("utf-8");
                git(
                    &wt,
                    &[
                        "commit",
                        "-q",
                        "--no-verify",
                        "--cleanup=verbatim",
                        "-F",
                        file,
                    ],
                );
            }
            let tip = git(&wt, &["rev-parse", "HEAD"]).trim().to_string();
            let stats =
                ocfork::compare::fork_stats(&w.repo, &common, &base, &tip).expect("fork stats");
            let (files, insertions, deletions) = ocfork::git::totals(&stats);
            f.model = Some("scripted/scripted".into());
            f.state = ForkState::Done;
            f.end = Some(EndReason::Done);
            f.session = Some(format!("ses_fixture{}", d.name.replace('-', "")));
            f.commit = Some(tip);
            f.files_changed = files;
            f.insertions = insertions;
            f.deletions = deletions;
            f.duration_ms = 1000;
            f.started_at = Some(created_at.clone());
            f.tokens = Some(Tokens {
                input: 1000,
                output: 10,
            });
            f.cost = Some(0.0);
            f
        })
        .collect();
    let run = Run {
        task: task.map(str::to_string),
        state: RunState::Done,
        forks,
        opencode: Some(w.opencode.clone()),
        dispatched: true,
        created_at,
        ..Run::new(name.to_string(), w.repo.clone(), base.clone(), base)
    };
    Store::new(&common).create(&run).expect("run recorded");
    json_ok(&w.run(&["status", name, "--json"]))
}

fn json_ok(out: &std::process::Output) -> Value {
    ok(out);
    json(out)
}
