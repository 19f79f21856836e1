//! The hosts a run's forks work on, connected (again) for `continue`, `resume` and the
//! background driver of `try --detach`: each reached over ssh and checked, and its OpenCode
//! server started, as `try --host` does.

use crate::cli::CommandError;
use crate::dispatch::remote::HostLink;
use crate::git::Repo;
use crate::state::Run;

use super::try_cmd::place_hosts::Started;

/// Connects the hosts the forks `names` work on (none when they are all on this machine).
/// A host that cannot be reached or used exits 2 naming it, before anything changes.
pub(super) async fn reconnect(
    repo: &Repo,
    run: &Run,
    names: &[String],
) -> Result<Vec<HostLink>, CommandError> {
    let started = connect(repo, run, names).await?;
    if started.gone.is_empty() {
        return Ok(started.links);
    }
    // Still going (or gone again): as unreachable, nothing changes.
    for l in &started.links {
        l.stop().await;
    }
    let gone: Vec<String> = (started.gone.iter())
        .map(|(host, why)| format!("host {host}: the connection dropped: {why}"))
        .collect();
    Err(CommandError::usage(gone.join("\n")))
}

/// [`reconnect`], a host whose connection drops while its server starts in `gone` (the
/// background driver of `try --detach` leaves its forks `interrupted`).
pub(super) async fn connect(
    repo: &Repo,
    run: &Run,
    names: &[String],
) -> Result<Started, CommandError> {
    let configs = super::try_cmd::place_hosts::configs_of(repo, run, names)?;
    if configs.is_empty() {
        let (links, gone) = (Vec::new(), Vec::new());
        return Ok(Started { links, gone });
    }
    let mut hosts = super::hosts::connect_checked(&configs).await?;
    super::try_cmd::place_hosts::size_pools(&mut hosts, run, names);
    super::try_cmd::place_hosts::start_servers(hosts, run).await
}
