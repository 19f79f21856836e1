//! `try --host`: the hosts connected and checked, the forks spread over them (and `local`),
//! and each host's OpenCode servers (its `servers`) started (all at once, while the checks here
//! run) and the first asked for the run's agent and models, all before anything is made anywhere.

use super::TryArgs;
use crate::cli::CommandError;
use crate::config::hosts::HostConfig;
use crate::dispatch::preflight::Connected;
use crate::dispatch::remote::HostLink;
use crate::host::{Host, HostError, RemoteServer};
use crate::opencode::offer::Offer;
use crate::state::Run;

/// Spreads the forks over the places `--host` names by load (`local` is this machine; see
/// [`spread`]): each fork on a host gets the host's name, from the config alone, before any
/// connection. Returns the configs of the hosts that got forks, for [`place`] (a host left
/// without one is neither connected nor given a server, as when the run goes on detached).
pub(super) fn assign(
    args: &TryArgs,
    repo: &crate::git::Repo,
    run: &mut Run,
) -> Result<Vec<HostConfig>, CommandError> {
    if args.hosts.is_empty() {
        return Ok(Vec::new());
    }
    let config = crate::config::Config::load(Some(&repo.workdir))?
        .layer
        .hosts;
    let configs = crate::config::hosts::named(&args.hosts, &config);
    let table = |name: &str| configs.iter().find(|c| c.name == name);
    let bounds: Vec<Option<usize>> = (args.hosts.iter())
        .map(|name| table(name).and_then(|c| c.jobs).or(run.jobs))
        .collect();
    let placed = spread(run.forks.len(), &bounds);
    for (fork, i) in run.forks.iter_mut().zip(placed) {
        fork.host = args
            .hosts
            .get(i)
            .and_then(|n| table(n))
            .map(|c| c.name.clone());
    }
    let mut configs = configs;
    configs.retain(|c| run.forks.iter().any(|f| f.host.as_ref() == Some(&c.name)));
    Ok(configs)
}

/// Connects and checks the hosts of `configs` ([`assign`] gave each fork its place) and puts
/// each fork on a host in a worktree there.
pub(super) async fn place(
    configs: &[HostConfig],
    repo: &crate::git::Repo,
    run: &mut Run,
) -> Result<Vec<Host>, CommandError> {
    if configs.is_empty() {
        return Ok(Vec::new());
    }
    let mut hosts = super::super::hosts::connect_checked(configs).await?;
    for fork in run.forks.iter_mut() {
        let on = hosts
            .iter()
            .find(|h| fork.host.as_deref() == Some(h.name()));
        if let Some(h) = on {
            fork.worktree = h
                .worktree_path(&repo.workdir, &repo.common_dir, &run.run, &fork.name)
                .into();
        }
    }
    let names: Vec<String> = run.forks.iter().map(|f| f.name.clone()).collect();
    size_pools(&mut hosts, run, &names);
    Ok(hosts)
}

/// This machine's checks (its server started, see [`super::preflight`]) and the hosts' (each
/// connected and checked, its forks placed there and its servers started and asked for their
/// agents and models), at the same time: each takes seconds, and neither needs the other. A
/// failure here stops what started there, and the other way round. The hosts are `run`'s
/// forks' (`configs`, see [`configs_of`]); a host whose connection dropped meanwhile leaves
/// its forks interrupted, for `resume`. What the hosts came to is returned apart, for the
/// caller to record the run or not.
pub(in crate::cli) async fn check_here_and_there(
    configs: &[HostConfig],
    repo: &crate::git::Repo,
    run: &mut Run,
    user_server: bool,
    main: crate::opencode::MainThread,
) -> Result<(Option<Connected>, Result<Started, CommandError>), CommandError> {
    let mut placed = run.clone();
    let (connected, booted) = tokio::join!(super::preflight(repo, run, user_server, main), async {
        let hosts = place(configs, repo, &mut placed).await?;
        Ok::<_, CommandError>(boot(hosts).await)
    });
    let (connected, booted) = match (connected, booted) {
        (Ok(c), Ok(b)) => (c, b),
        (Err(e), Ok(booted)) => {
            booted.stop().await;
            return Err(e);
        }
        (Err(here), Err(there)) => return Err(here.and(there)),
        (Ok(connected), Err(e)) => {
            if let Some((_, Some(server))) = connected {
                server.stop().await;
            }
            return Err(e);
        }
    };
    adopt(run, &placed);
    let started = booted.checked(run).await;
    if let Ok(started) = &started {
        mark_gone(run, &started.gone);
    }
    Ok((connected, started))
}

/// The `[[host]]` tables (or defaults) of the hosts the forks `names` of `run` work on, each
/// once; none when they all work here.
pub(in crate::cli) fn configs_of(
    repo: &crate::git::Repo,
    run: &Run,
    names: &[String],
) -> Result<Vec<HostConfig>, CommandError> {
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
    Ok(crate::config::hosts::named(&wanted, &config))
}

/// Takes the worktrees on hosts that `placed` (the same run, after [`place`]) gives the forks
/// (their hosts are [`assign`]'s already).
fn adopt(run: &mut Run, placed: &Run) {
    for (fork, there) in run.forks.iter_mut().zip(&placed.forks) {
        fork.worktree.clone_from(&there.worktree);
    }
}

/// Each host's number of servers to start: its table's `servers` (else 1), but no more than
/// its forks among `names` can work at once (their number, and its `jobs`, else `-j`).
pub(in crate::cli) fn size_pools(hosts: &mut [Host], run: &Run, names: &[String]) {
    for host in hosts {
        let forks = (names.iter().filter_map(|n| run.fork(n)))
            .filter(|f| f.host.as_deref() == Some(host.name()))
            .count();
        let at_once = host.config.jobs.or(run.jobs).unwrap_or(usize::MAX);
        let wanted = host.config.servers.unwrap_or(1);
        host.config.servers = Some(wanted.min(forks).min(at_once).max(1));
    }
}

/// Which of the places (hosts and `local`, in `--host` order) each of `forks` forks goes to:
/// the one with the fewest forks placed relative to its capacity, the first of equals. A
/// place's capacity is its bound on forks at once (its `jobs`, else `-j`); one with no bound
/// counts as the largest bound given, or all count alike when none is.
pub(super) fn spread(forks: usize, bounds: &[Option<usize>]) -> Vec<usize> {
    let largest = bounds.iter().flatten().copied().max().unwrap_or(1);
    let capacity: Vec<usize> = bounds.iter().map(|b| b.unwrap_or(largest).max(1)).collect();
    let mut placed = vec![0usize; capacity.len()];
    let mut out = Vec::with_capacity(forks);
    for _ in 0..forks {
        // placed[i] / capacity[i] < placed[j] / capacity[j], without fractions.
        let best = (0..capacity.len()).reduce(|j, i| {
            if placed[i] * capacity[j] < placed[j] * capacity[i] {
                i
            } else {
                j
            }
        });
        let Some(best) = best else { break };
        placed[best] += 1;
        out.push(best);
    }
    out
}

/// The hosts whose OpenCode servers started, and those whose connection dropped meanwhile.
pub(in crate::cli) struct Started {
    pub links: Vec<HostLink>,
    /// Each host whose connection dropped while its server started, and what failed.
    pub gone: Vec<(String, String)>,
}

/// What starting one host's server came to.
enum Boot {
    Up(HostLink, Result<Offer, String>),
    Gone(String, String),
    Failed(String),
}

/// Each host's OpenCode servers, started (all at once), and what they offer; or why not.
pub(in crate::cli) struct Booted(Vec<Boot>);

/// Starts each host's OpenCode servers, all at the same time, and reads what each host offers.
/// Nothing about the run is needed, so this overlaps the checks made here. A host whose
/// connection drops meanwhile is gone, not failed: its forks wait for `resume`.
pub(in crate::cli) async fn boot(hosts: Vec<Host>) -> Booted {
    let booted = futures_util::future::join_all(hosts.into_iter().map(|host| async move {
        let (server, more) = match start_all(&host).await {
            Ok(s) => s,
            Err(e) if !host.connected().await => {
                return Boot::Gone(host.name().to_string(), e.message);
            }
            Err(e) => return Boot::Failed(e.to_string()),
        };
        let dir = std::path::PathBuf::from(&host.dir);
        let offer = match Offer::read(&server.client, &dir).await {
            Ok(o) => Ok(o),
            Err(e) if !host.connected().await => {
                server.stop().await;
                futures_util::future::join_all(more.iter().map(RemoteServer::stop)).await;
                return Boot::Gone(host.name().to_string(), e.to_string());
            }
            Err(e) => Err(format!("host {}: {e}", host.name())),
        };
        Boot::Up(HostLink::new(host, server, more), offer)
    }))
    .await;
    Booted(booted)
}

/// The host's servers (its `servers`, sized by [`size_pools`]): the first, then the others
/// at once. One of the others that does not start is left out with a warning; the first's
/// failure is the host's.
async fn start_all(host: &Host) -> Result<(RemoteServer, Vec<RemoteServer>), HostError> {
    let wanted = host.config.servers.unwrap_or(1).max(1);
    // The first alone: OpenCode migrates its database on a first start, and servers
    // starting together race on that (as for the servers here, `opencode::server`).
    let first = RemoteServer::start(host).await?;
    let started = futures_util::future::join_all((1..wanted).map(|_| RemoteServer::start(host)));
    let mut more = Vec::new();
    for s in started.await {
        match s {
            Ok(s) => more.push(s),
            Err(e) => eprintln!("ocfork: warning: {e}; its forks go to its other servers"),
        }
    }
    Ok((first, more))
}

impl Booted {
    /// Stops every server that started.
    pub(in crate::cli) async fn stop(self) {
        for b in &self.0 {
            if let Boot::Up(l, _) = b {
                l.stop().await;
            }
        }
    }

    /// The hosts, once each server that started offers every agent and model its forks use;
    /// else every server is stopped and the command exits 2 naming what is missing where.
    pub(in crate::cli) async fn checked(self, run: &Run) -> Result<Started, CommandError> {
        let (mut links, mut gone, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        for b in self.0 {
            let (link, offer) = match b {
                Boot::Up(link, offer) => (link, offer),
                Boot::Gone(host, why) => {
                    gone.push((host, why));
                    continue;
                }
                Boot::Failed(e) => {
                    errors.push(e);
                    continue;
                }
            };
            match offer {
                Ok(offer) => {
                    let name = link.host.name();
                    let forks = run.forks.iter().filter(|f| f.host.as_deref() == Some(name));
                    // Only checked: a fork without -m keeps no model (OpenCode's default,
                    // which its server picks in the fork's worktree there, with the
                    // repository's config in view; `dir` has only the host's).
                    for f in forks {
                        if let Err(e) = offer.choose(&f.agent, f.model.as_deref()) {
                            errors.push(format!("host {name}: {e}"));
                            break;
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
            links.push(link);
        }
        if errors.is_empty() {
            return Ok(Started { links, gone });
        }
        for l in &links {
            l.stop().await;
        }
        Err(CommandError::usage(errors.join("\n")))
    }
}

/// Starts each host's OpenCode servers and checks they offer every fork's agent and model.
pub(in crate::cli) async fn start_servers(
    hosts: Vec<Host>,
    run: &Run,
) -> Result<Started, CommandError> {
    boot(hosts).await.checked(run).await
}

/// The forks of `run` still to drive (those on hosts that went are finished).
pub(in crate::cli) fn unfinished(run: &Run) -> Vec<String> {
    (run.forks.iter().filter(|f| !f.state.is_finished()))
        .map(|f| f.name.clone())
        .collect()
}

/// The hosts and the server here to drive the run with once it is `recorded`; None, with
/// every server stopped, when no fork is left to drive (every fork's host went).
pub(in crate::cli) async fn ready_to_drive(
    recorded: Result<Vec<HostLink>, CommandError>,
    forks: &[String],
    connected: Option<Connected>,
) -> Result<Option<(Vec<HostLink>, Option<Connected>)>, CommandError> {
    match recorded {
        Ok(hosts) if !forks.is_empty() => Ok(Some((hosts, connected))),
        other => {
            if let Some((_, Some(server))) = connected {
                server.stop().await;
            }
            for l in other? {
                l.stop().await;
            }
            Ok(None)
        }
    }
}

/// Ends the forks on the hosts that went while their servers started `interrupted`
/// (`host_gone`): nothing was made there yet, and `resume` starts them once the host is back.
pub(in crate::cli) fn mark_gone(run: &mut Run, gone: &[(String, String)]) {
    for (host, why) in gone {
        let error = format!(
            "the connection to host {host} dropped while its OpenCode server started ({why}); \
             `ocfork resume` starts the fork there once the host is back"
        );
        for f in run
            .forks
            .iter_mut()
            .filter(|f| f.host.as_deref() == Some(host))
        {
            f.finish(crate::state::EndReason::HostGone, Some(error.clone()));
        }
    }
    run.refresh_state();
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn forks_go_where_the_load_is_lightest_for_the_capacity() {
        // Alike: in turn, in `--host` order.
        assert_eq!(spread(5, &[None, None]), vec![0, 1, 0, 1, 0]);
        assert_eq!(spread(4, &[Some(2), Some(2)]), vec![0, 1, 0, 1]);
        // A host taking 3 at once gets three forks for the one that takes 1.
        assert_eq!(spread(4, &[Some(1), Some(3)]), vec![0, 1, 1, 1]);
        assert_eq!(spread(8, &[Some(1), Some(3)]), vec![0, 1, 1, 1, 0, 1, 1, 1]);
        // No bound counts as the largest given.
        assert_eq!(spread(4, &[None, Some(1), Some(3)]), vec![0, 1, 2, 0]);
        assert_eq!(spread(0, &[Some(1)]), Vec::<usize>::new());
        assert_eq!(spread(2, &[]), Vec::<usize>::new());
    }
}
