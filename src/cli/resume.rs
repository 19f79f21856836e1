//! `ocfork resume`: continue the forks a crash left behind — `interrupted` (ocfork died) or
//! `failed` because the OpenCode server exited — in a new server, on their same sessions.

use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, CommandError, EXIT_INTERRUPTED};
use crate::dispatch::{DriveOptions, drive};
use crate::opencode::MainThread;
use crate::state::{EndReason, Fork, ForkState, StateError};
use crate::ui::LiveView;

/// Continue the forks of a run that a crash left interrupted or failed.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ocfork status        # forks shown `interrupted` after ocfork was killed\n  ocfork resume\n  ocfork resume redux-vs-context-api --fork redux"
)]
pub struct ResumeArgs {
    /// The run (default: the latest)
    #[arg(add = super::completions::runs())]
    run: Option<String>,
    /// Resume only this fork (repeatable); also picks up a fork that failed or timed out
    /// for another reason
    #[arg(long = "fork", value_name = "NAME", add = super::completions::fork_names())]
    forks: Vec<String>,
    /// The opencode binary (else the one the run used, else $OCFORK_OPENCODE or PATH)
    #[arg(long, value_name = "PATH")]
    opencode: Option<PathBuf>,
    /// Print the run as JSON (schema 1) when it ends
    #[arg(long)]
    json: bool,
}

/// Whether a crash, rather than the work, ended the fork: ocfork died (`interrupted`), or the
/// server did under it. Manifests from before `end` existed name no reason: such a fork is
/// resumed only when asked for with `--fork`.
fn left_by_crash(f: &Fork) -> bool {
    f.state == ForkState::Interrupted || f.end == Some(EndReason::ServerExited)
}

pub async fn cmd_resume(args: ResumeArgs, main: MainThread) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let mut run = store.resolve(args.run.as_deref())?;
    if run.owner_alive() {
        return Err(CommandError::from(StateError::Busy {
            run: run.run.clone(),
            pid: run.pid,
        })
        .with_hint(format!("wait for it with `ocfork wait {}`", run.run)));
    }
    let forks: Vec<String> = if args.forks.is_empty() {
        run.forks
            .iter()
            .filter(|f| left_by_crash(f))
            .map(|f| f.name.clone())
            .collect()
    } else {
        for name in &args.forks {
            match run.fork(name) {
                None => {
                    let known: Vec<&str> = run.forks.iter().map(|f| f.name.as_str()).collect();
                    return Err(CommandError::usage(format!(
                        "run {} has no fork `{name}`; its forks: {}",
                        run.run,
                        known.join(", ")
                    )));
                }
                Some(f) if f.state == ForkState::Done => {
                    return Err(CommandError::usage(format!(
                        "fork {}/{name} is done; continue it with `ocfork continue`",
                        run.run
                    )));
                }
                Some(_) => {}
            }
        }
        args.forks.clone()
    };
    if forks.is_empty() {
        eprintln!(
            "ocfork: nothing to resume in run {}: no fork was interrupted or stopped by a server exit",
            run.run
        );
        super::try_cmd::finish(&run, args.json)?;
        return Ok(super::run_exit_code(&run));
    }
    // Forks that all work on hosts need no OpenCode here.
    let here = forks
        .iter()
        .any(|n| run.fork(n).is_some_and(|f| f.host.is_none()));
    if let Some(url) = run.server.clone().filter(|_| here)
        && !answers(&url).await
    {
        // A session fork's server is gone (its owner quit OpenCode): the forks' sessions live
        // on in OpenCode's data directory, which a server of ocfork's own opens as well.
        eprintln!(
            "ocfork: the run's OpenCode server {url} is gone (it refuses connections); starting one for the resume"
        );
        run.server = None;
    }
    run.opencode = match (&args.opencode, &run.opencode) {
        (Some(p), _) => Some(crate::opencode::find_binary(Some(p))?),
        (None, Some(p)) if p.is_file() => Some(p.clone()),
        (None, _) if run.server.is_none() && here => Some(crate::opencode::find_binary(None)?),
        (None, p) if !here => p.clone(),
        (None, _) => None,
    };
    // The hosts of forks on other machines, reached again (exit 2 naming one that is not).
    let hosts = super::run_hosts::reconnect(&repo, &run, &forks).await?;
    eprintln!(
        "ocfork: resuming {} of run {}: {}",
        plural(forks.len()),
        run.run,
        forks.join(", ")
    );
    let options = DriveOptions { forks, hosts };
    let driven = drive::<LiveView>(&repo, &store, run, options, main).await?;
    super::output::after_work(super::try_cmd::finish(&driven.run, args.json))?;
    if driven.interrupted {
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(super::run_exit_code(&driven.run))
}

/// Whether a server is still at `url`: one that answers (an error status counts) or is only
/// slow to, where the forks' sessions are; not one that refuses connections.
async fn answers(url: &str) -> bool {
    use crate::opencode::liveness::{Liveness, probe};
    let password = std::env::var("OPENCODE_SERVER_PASSWORD").ok();
    let Ok(client) = crate::opencode::Client::new(url, password.as_deref()) else {
        return false;
    };
    probe(&client, crate::timeouts::get().probe).await != Liveness::Gone
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 fork".into()
    } else {
        format!("{n} forks")
    }
}
