//! `ocfork continue REF TEXT`: a follow-up prompt to a fork's session, its result committed as
//! a new commit on the fork's branch.

use clap::Args;

use super::{CmdResult, CommandError, EXIT_FAILURE, EXIT_INTERRUPTED};
use crate::dispatch::{DriveOptions, drive};
use crate::opencode::MainThread;
use crate::state::{ForkState, RunState};
use crate::ui::LiveView;

/// Send a follow-up prompt to a fork's OpenCode session and commit what it changes.
#[derive(Args, Debug)]
#[command(
    after_help = "The fork runs again through a spawned OpenCode server (or the run's --server), with the \
run's timeout and --check; its worktree is committed afterwards and status shows the new totals. \
A worktree `clean` removed is made again from the fork's branch. A fork on a host (`try --host`) \
runs there, on a server ocfork starts there, and its new commit is fetched home.

Example:
  ocfork continue redux \"Also add unit tests for the reducer\"
  ocfork continue redux-vs-context/context \"Rename the hook to useTodos\" --json"
)]
pub struct ContinueArgs {
    /// The fork: FORK (in the latest run) or RUN/FORK
    #[arg(value_name = "REF", add = super::completions::forks())]
    reference: String,
    /// The follow-up prompt
    #[arg(value_name = "TEXT")]
    text: String,
    /// Print the run as JSON (schema 1) when the fork is finished
    #[arg(long)]
    json: bool,
}

pub async fn cmd_continue(args: ContinueArgs, main: MainThread) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    if args.text.trim().is_empty() {
        return Err(CommandError::usage("the follow-up prompt is empty"));
    }
    let (run, name) = store.resolve_fork(&args.reference)?.into_parts();
    if run.state == RunState::Running && run.owner_alive() {
        return Err(CommandError::usage(format!(
            "run {} is still being driven (pid {})",
            run.run,
            run.pid.unwrap_or_default()
        ))
        .with_hint(format!("wait for it with `ocfork wait {}`", run.run)));
    }
    let Some(fork) = run.fork(&name) else {
        return Err(CommandError::usage(format!("run has no fork `{name}`")));
    };
    if fork.session.is_none() {
        return Err(CommandError::usage(format!(
            "{name} has no OpenCode session to continue (state {})",
            fork.state.as_str()
        ))
        .with_hint("`ocfork resume` restarts forks that never got going"));
    }
    // A fork on a host has its worktree there.
    let gone = fork.host.is_none() && !fork.worktree.join(".git").exists();
    if gone && !repo.branch_exists(&fork.branch) {
        return Err(CommandError::failure(format!(
            "the worktree of {name} is gone ({}), and its branch {} too",
            fork.worktree.display(),
            fork.branch
        ))
        .with_hint(match &fork.commit {
            Some(c) => format!(
                "its last commit is {c}: `git branch {} {c}` brings the branch back",
                fork.branch
            ),
            None => "there is nothing left to continue".into(),
        }));
    }
    // A fork on a host runs on a server there, checked when its host is reached.
    if fork.host.is_none() {
        crate::opencode::version::check_target(run.server.as_deref(), run.opencode.as_deref())
            .await?;
    }
    if gone {
        // `clean` kept the branch: the drive makes the worktree again from it.
        eprintln!(
            "ocfork: the worktree of {name} is gone; making it again at {} from branch {}",
            fork.worktree.display(),
            fork.branch
        );
    }
    // Its host, reached again (its OpenCode server there keeps the session), before anything
    // changes.
    let hosts = super::run_hosts::reconnect(&repo, &run, std::slice::from_ref(&name)).await?;
    let text = args.text.clone();
    // The new commit is not merged, whatever the fork's earlier commit was.
    let updated = store.update(
        &run.run,
        || None,
        |r| {
            if let Some(f) = r.fork_mut(&name) {
                f.follow_ups.push(text);
                f.merged = false;
            }
        },
    )?;
    let Some(run) = updated else {
        return Err(CommandError::failure(format!("run {} vanished", run.run)));
    };
    let before = run.fork(&name).and_then(|f| f.commit.clone());
    let mut driven = drive::<LiveView>(
        &repo,
        &store,
        run,
        DriveOptions {
            forks: vec![name.clone()],
            hosts,
        },
        main,
    )
    .await?;
    let after = driven.run.fork(&name).and_then(|f| f.commit.clone());
    if after != before && driven.run.judge.is_some() {
        driven.run = mark_stale(&store, driven.run, &name)?;
    }
    super::output::after_work(super::try_cmd::finish(&driven.run, args.json))?;
    if driven.interrupted {
        return Ok(EXIT_INTERRUPTED);
    }
    let done = driven
        .run
        .fork(&name)
        .is_some_and(|f| f.state == ForkState::Done);
    Ok(if done { 0 } else { EXIT_FAILURE })
}

/// Records in the run's verdict that `name` changed after it; returns the run as recorded.
fn mark_stale(
    store: &crate::state::Store,
    run: crate::state::Run,
    name: &str,
) -> Result<crate::state::Run, CommandError> {
    let updated = store.update(
        &run.run,
        || None,
        |r| {
            if let Some(v) = r.judge.as_mut()
                && !v.stale.iter().any(|s| s == name)
            {
                v.stale.push(name.to_string());
            }
        },
    )?;
    eprintln!(
        "ocfork: the verdict of run {} is stale now: `ocfork judge {}` judges the forks as they are",
        run.run, run.run
    );
    Ok(updated.unwrap_or(run))
}
