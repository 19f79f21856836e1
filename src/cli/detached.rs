//! `ocfork __drive` (hidden): the background driver of `try --detach` and `try --ui`. With
//! `--plan` it checks the planned run (on stdin) against the server it starts, records it and
//! drives it on that server; with a RUN it drives a recorded run (`dispatch::drive` does the
//! driving; this is only the detached process around it).

use std::io::{Read, Write};

use clap::Args;

use super::{CmdResult, CommandError};
use crate::dispatch::{DriveOptions, drive, drive_with};
use crate::opencode::MainThread;
use crate::state::Run;
use crate::ui::LiveView;

/// The line the driver prints on stdout once the run is checked and recorded.
pub const READY: &str = "ocfork-driver-ready";

#[derive(Args, Debug)]
pub struct DetachedArgs {
    /// The recorded run to drive
    #[arg(required_unless_present = "plan")]
    run: Option<String>,
    /// Check, record and drive the planned run given as JSON on stdin
    #[arg(long, conflicts_with = "run")]
    plan: bool,
}

pub async fn cmd_detached(args: DetachedArgs, main: MainThread) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let Some(name) = args.run else {
        return drive_planned(&repo, &store, main).await;
    };
    let run = store.load(&name)?;
    let driven = drive::<LiveView>(&repo, &store, run, DriveOptions::default(), main).await?;
    Ok(super::run_exit_code(&driven.run))
}

/// `--plan`: the checks `try` makes before anything is recorded, here on the server that then
/// drives the run. Until [`READY`] is printed, stderr is the `try` command's and a failure is
/// its failure; then stdout goes nowhere and stderr into the run's driver log.
async fn drive_planned(
    repo: &crate::git::Repo,
    store: &crate::state::Store,
    main: MainThread,
) -> CmdResult {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CommandError::failure(format!("cannot read the planned run: {e}")))?;
    let mut run: Run = serde_json::from_str(&text)
        .map_err(|e| CommandError::failure(format!("the planned run on stdin: {e}")))?;
    let user_server = run.server.is_some() || !run.pool_urls.is_empty();
    // The hosts of `try --host` are connected, checked and held for the run while the checks
    // here run, as in `try`.
    let names: Vec<String> = run.forks.iter().map(|f| f.name.clone()).collect();
    let configs = super::try_cmd::place_hosts::configs_of(repo, &run, &names)?;
    let (connected, started) = super::try_cmd::place_hosts::check_here_and_there(
        &configs,
        repo,
        &mut run,
        user_server,
        main,
    )
    .await?;
    let forks = super::try_cmd::place_hosts::unfinished(&run);
    let recorded = started.and_then(|s| {
        super::try_cmd::record(store, &run)
            .and_then(|()| detach_output(store, &run))
            .map(|()| s.links)
    });
    let ready = super::try_cmd::place_hosts::ready_to_drive(recorded, &forks, connected).await?;
    let Some((hosts, connected)) = ready else {
        // Every fork's host went: nothing to drive.
        return Ok(super::run_exit_code(&run));
    };
    let (driven, _) = drive_with::<LiveView>(
        repo,
        store,
        run,
        DriveOptions { forks, hosts },
        connected,
        false,
        main,
    )
    .await?;
    Ok(super::run_exit_code(&driven.run))
}

/// Says [`READY`] on stdout, then points stdout at `/dev/null` and stderr at the run's driver
/// log: the `try` command that waits for the line goes on without this process.
fn detach_output(store: &crate::state::Store, run: &Run) -> Result<(), CommandError> {
    let path = store.paths().driver_log(&run.run);
    let cannot = |what: &str, e: &dyn std::fmt::Display| {
        CommandError::failure(format!("cannot {what} {}: {e}", path.display()))
    };
    let log = crate::private_fs::create(&path).map_err(|e| cannot("create", &e))?;
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(|e| cannot("open /dev/null for", &e))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{READY}")
        .and_then(|()| out.flush())
        .map_err(|e| cannot("say it is ready for", &e))?;
    nix::unistd::dup2_stdout(&null)
        .and_then(|()| nix::unistd::dup2_stderr(&log))
        .map_err(|e| cannot("redirect output to", &e))?;
    Ok(())
}
