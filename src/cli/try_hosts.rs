//! `try --host`: the hosts connected and checked, the forks spread over them (and `local`),
//! and each host's OpenCode server started and asked for the run's agent and models, all
//! before anything is made anywhere.

use std::sync::Arc;

use super::TryArgs;
use crate::cli::CommandError;
use crate::dispatch::remote::HostLink;
use crate::host::{Host, RemoteServer};
use crate::state::Run;

/// Connects the hosts `--host` names and spreads the forks over them in turn (`local` is
/// this machine). Refuses the options hosts do not support yet.
pub(super) async fn place(
    args: &TryArgs,
    repo: &crate::git::Repo,
    run: &mut Run,
) -> Result<Vec<Host>, CommandError> {
    if args.hosts.is_empty() {
        return Ok(Vec::new());
    }
    let unsupported = [
        (args.detach, "--detach"),
        (args.ui, "--ui"),
        (!args.server.is_empty(), "--server"),
    ];
    if let Some((_, flag)) = unsupported.iter().find(|(on, _)| *on) {
        return Err(CommandError::usage(format!(
            "{flag} does not work with --host yet"
        )));
    }
    let config = crate::config::Config::load(Some(&repo.workdir))?
        .layer
        .hosts;
    let configs = crate::config::hosts::named(&args.hosts, &config);
    let hosts = super::super::hosts::connect_checked(&configs).await?;
    for (i, fork) in run.forks.iter_mut().enumerate() {
        let name = &args.hosts[i % args.hosts.len()];
        if let Some(h) = hosts.iter().find(|h| h.name() == name) {
            fork.host = Some(h.name().to_string());
            fork.worktree = h
                .worktree_path(&repo.workdir, &repo.common_dir, &run.run, &fork.name)
                .into();
        }
    }
    Ok(hosts)
}

/// Starts each host's OpenCode server and checks it offers every fork's agent and model.
pub(in crate::cli) async fn start_servers(
    hosts: Vec<Host>,
    run: &Run,
) -> Result<Vec<HostLink>, CommandError> {
    let mut links = Vec::new();
    let mut errors = Vec::new();
    for host in hosts {
        let server = match RemoteServer::start(&host).await {
            Ok(s) => s,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        let dir = std::path::PathBuf::from(&host.dir);
        match crate::opencode::offer::Offer::read(&server.client, &dir).await {
            Ok(offer) => {
                for f in run
                    .forks
                    .iter()
                    .filter(|f| f.host.as_deref() == Some(host.name()))
                {
                    if let Err(e) = offer.choose(&f.agent, f.model.as_deref()) {
                        errors.push(format!("host {}: {e}", host.name()));
                        break;
                    }
                }
            }
            Err(e) => errors.push(format!("host {}: {e}", host.name())),
        }
        links.push(HostLink {
            host: Arc::new(host),
            server: Arc::new(server),
        });
    }
    if errors.is_empty() {
        return Ok(links);
    }
    for l in &links {
        l.server.stop().await;
    }
    Err(CommandError::usage(errors.join("\n")))
}
