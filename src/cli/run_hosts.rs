//! The hosts a recorded run's forks work on, connected again for `continue` and `resume`:
//! each reached over ssh and checked, and its OpenCode server started, as `try --host` does.

use crate::cli::CommandError;
use crate::dispatch::remote::HostLink;
use crate::git::Repo;
use crate::state::Run;

/// Connects the hosts the forks `names` work on (none when they are all on this machine).
/// A host that cannot be reached or used exits 2 naming it, before anything changes.
pub(super) async fn reconnect(
    repo: &Repo,
    run: &Run,
    names: &[String],
) -> Result<Vec<HostLink>, CommandError> {
    let mut wanted: Vec<String> = Vec::new();
    for f in names.iter().filter_map(|n| run.fork(n)) {
        if let Some(h) = &f.host
            && !wanted.contains(h)
        {
            wanted.push(h.clone());
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let config = crate::config::Config::load(Some(&repo.workdir))?
        .layer
        .hosts;
    let configs = crate::config::hosts::named(&wanted, &config);
    let hosts = super::hosts::connect_checked(&configs).await?;
    let started = super::try_cmd::place_hosts::start_servers(hosts, run).await?;
    if started.gone.is_empty() {
        return Ok(started.links);
    }
    // Still going (or gone again): as unreachable, nothing changes.
    for l in &started.links {
        l.server.stop().await;
    }
    let gone: Vec<String> = (started.gone.iter())
        .map(|(host, why)| format!("host {host}: the connection dropped: {why}"))
        .collect();
    Err(CommandError::usage(gone.join("\n")))
}
