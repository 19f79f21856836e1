//! Forks on hosts (`try --host`): their worktrees made on the host from the run's start
//! pushed there, and, when a fork ends, its work committed there and its branch fetched home,
//! so that everything after the turn reads it locally.

use std::collections::HashSet;
use std::sync::Arc;

use super::RunHandle;
use crate::host::{Host, HostError, RemoteServer};
use crate::state::EndReason;

/// A connected host and its OpenCode servers (`[[host]] servers`), for the run's forks there.
pub struct HostLink {
    pub host: Arc<Host>,
    /// At least one; the first is the one `try` asked for the host's agents and models.
    servers: Vec<Arc<RemoteServer>>,
}

impl HostLink {
    pub fn new(host: Host, first: RemoteServer, more: Vec<RemoteServer>) -> HostLink {
        let servers = std::iter::once(first).chain(more).map(Arc::new).collect();
        HostLink {
            host: Arc::new(host),
            servers,
        }
    }

    /// The host's servers, the first first.
    pub fn servers(&self) -> &[Arc<RemoteServer>] {
        &self.servers
    }

    /// Its first server.
    pub fn server(&self) -> &RemoteServer {
        &self.servers[0]
    }

    /// Stops the host's servers, all at once.
    pub async fn stop(&self) {
        futures_util::future::join_all(self.servers.iter().map(|s| s.stop())).await;
    }
}

/// Where a fork on a host lives.
#[derive(Clone)]
pub struct RemoteFork {
    pub host: Arc<Host>,
    pub mirror: String,
    /// The fetches that bring the host's forks home, shared by them.
    pub home: Arc<super::home::Homecoming>,
}

/// Pushes the run's start to each host its forks use and makes their worktrees there (with
/// the ignored files `.worktreeinclude` and `--copy` name). Returns the forks ready to start,
/// with their host, and of those the ones whose worktree was made now; the others are
/// failed, naming it.
pub(super) async fn make_remote_worktrees(
    repo: &crate::git::Repo,
    handle: &Arc<RunHandle>,
    names: &[String],
    links: &[HostLink],
) -> (Vec<(String, RemoteFork)>, HashSet<String>) {
    let run = handle.snapshot();
    let mut ready = Vec::new();
    let mut made_now = HashSet::new();
    for link in links {
        let here: Vec<&crate::state::Fork> = names
            .iter()
            .filter_map(|n| run.fork(n))
            .filter(|f| f.host.as_deref() == Some(link.host.name()))
            .collect();
        if here.is_empty() {
            continue;
        }
        let pushed = link
            .host
            .push_start(&repo.workdir, &repo.common_dir, &run.run, &run.start)
            .await;
        let mirror = match pushed {
            Ok(m) => m,
            Err(e) => {
                let failed: Vec<(&str, String)> = here
                    .iter()
                    .map(|f| (f.name.as_str(), e.to_string()))
                    .collect();
                not_made(handle, &link.host, failed).await;
                continue;
            }
        };
        let (made, made_here) = make_on_host(repo, &link.host, &mirror, &run, &here).await;
        let home = Arc::new(super::home::Homecoming::new(
            link.host.clone(),
            run.repo.clone(),
            mirror.clone(),
        ));
        let mut not_ready = Vec::new();
        for (f, made) in here.iter().zip(made) {
            match made {
                Ok(()) => ready.push((
                    f.name.clone(),
                    RemoteFork {
                        host: link.host.clone(),
                        mirror: mirror.clone(),
                        home: home.clone(),
                    },
                )),
                Err(e) => {
                    let error = format!("could not create the worktree: {e}");
                    not_ready.push((f.name.as_str(), error));
                }
            }
        }
        not_made(handle, &link.host, not_ready).await;
        made_now.extend(made_here);
    }
    // A fork on a host this driver has no connection to (`resume` of such a run).
    for n in names {
        let Some(f) = run.fork(n) else { continue };
        if let Some(h) = &f.host
            && !links.iter().any(|l| l.host.name() == h)
        {
            failed(
                handle,
                n,
                EndReason::NoServer,
                format!("the fork is on host {h}, which ocfork did not connect to"),
            );
        }
    }
    (ready, made_now)
}

/// Makes the worktrees of `forks` on `host` in a few commands whatever their number: their
/// branches' tips read there at once, the branches the host lost pushed back in one push, the
/// worktrees made in one command, the files to copy sent to each new one at the same time. For
/// each fork in order, whether it is ready; and the names of those made now.
async fn make_on_host(
    repo: &crate::git::Repo,
    host: &Host,
    mirror: &str,
    run: &crate::state::Run,
    forks: &[&crate::state::Fork],
) -> (Vec<Result<(), HostError>>, Vec<String>) {
    // The host lost a fork whose work came home (`clean`, a wiped disk): it goes on from the
    // branch here, never again from the run's start. Only a branch here can be lost there (a
    // new run's forks have none yet, and the host is not asked).
    let home: Vec<String> = (forks.iter())
        .filter(|f| repo.branch_exists(&f.branch))
        .map(|f| f.branch.clone())
        .collect();
    // A tip the host cannot say counts as missing, so the branch here goes there again.
    let tips = match home.is_empty() {
        true => Vec::new(),
        false => (host.branch_tips(mirror, &home).await).unwrap_or_else(|_| vec![None; home.len()]),
    };
    let lost: Vec<String> = (home.into_iter().zip(&tips))
        .filter(|(_, tip)| tip.is_none())
        .map(|(b, _)| b)
        .collect();
    let lost_refs: Vec<&str> = lost.iter().map(String::as_str).collect();
    let pushed = host.push_branches(&repo.workdir, mirror, &lost_refs).await;
    let mut results: Vec<Result<(), HostError>> = Vec::with_capacity(forks.len());
    // The forks whose worktrees are to be made (their index), and their (path, branch).
    let (mut todo, mut pairs) = (Vec::new(), Vec::new());
    for (i, f) in forks.iter().enumerate() {
        match &pushed {
            Err(e) if lost.contains(&f.branch) => results.push(Err(e.clone())),
            _ => {
                results.push(Ok(()));
                todo.push(i);
                pairs.push((f.worktree.to_string_lossy().to_string(), f.branch.clone()));
            }
        }
    }
    let made = match host.add_worktrees(mirror, &run.start, &pairs).await {
        Ok(made) => made,
        Err(e) => vec![Err(e); pairs.len()],
    };
    let mut copies = Vec::new();
    for ((i, (path, _)), made) in todo.into_iter().zip(pairs).zip(made) {
        match made {
            Ok(true) => {
                copies.push(async move { (i, host.copy_in(&repo.workdir, &path, &run.copy).await) })
            }
            Ok(false) => {}
            Err(e) => results[i] = Err(e),
        }
    }
    let mut made_now = Vec::new();
    for (i, copied) in futures_util::future::join_all(copies).await {
        match copied {
            Ok(()) => made_now.push(forks[i].name.clone()),
            Err(e) => results[i] = Err(e),
        }
    }
    (results, made_now)
}

/// Ends the forks on `host` whose worktrees could not be made, each with what went wrong: `interrupted` (`host_gone`) when the host's connection dropped meanwhile (while the
/// run's start was pushed or the worktrees made), so that `resume` makes them once it is
/// back; else failed.
async fn not_made(handle: &RunHandle, host: &Host, forks: Vec<(&str, String)>) {
    if forks.is_empty() {
        return;
    }
    let gone = !host.connected().await;
    for (name, error) in forks {
        match gone {
            true => failed(
                handle,
                name,
                EndReason::HostGone,
                format!(
                    "the connection to host {} dropped while the fork was made there ({error}); \
                     `ocfork resume` makes it there once the host is back",
                    host.name()
                ),
            ),
            false => failed(handle, name, EndReason::WorktreeFailed, error),
        }
    }
}

fn failed(handle: &RunHandle, name: &str, end: EndReason, error: String) {
    handle.update(name, |f| f.finish(end, Some(error)));
}

/// Commits a fork's work on its host, fetches its branch home and measures it here.
pub(super) async fn commit_remote(
    remote: &RemoteFork,
    common: &std::path::Path,
    run: &crate::state::Run,
    fork: &crate::state::Fork,
    message: &str,
    secret: Option<&str>,
) -> Result<(crate::git::Committed, Vec<crate::git::FileStat>), String> {
    let host = &remote.host;
    let worktree = fork.worktree.to_string_lossy().to_string();
    let on = (fork.branch.as_str(), run.start.as_str());
    let (tip, hidden) = host
        .commit(&remote.mirror, &worktree, on, message, secret)
        .await
        .map_err(|e| e.to_string())?;
    for rel in hidden {
        crate::text::eprint_line(format!(
            "ocfork: {}:{worktree}/{rel}: the OpenCode server's password was in it; ocfork replaced it before committing",
            host.name()
        ));
    }
    remote.home.fetch(&fork.branch, &tip).await?;
    let (repo, start, at) = (run.repo.clone(), run.start.clone(), tip.clone());
    let common = common.to_path_buf();
    let stats = tokio::task::spawn_blocking(move || {
        crate::compare::fork_stats(&repo, &common, &start, &at)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let done = crate::git::Committed {
        new_commit: fork.commit.as_deref() != Some(tip.as_str()),
        tip,
        moved: None,
    };
    Ok((done, stats))
}

/// When the connection to the fork's host has dropped: what to say of the fork, which ends
/// `host_gone` (`interrupted`) with its work left on the host. None while it holds.
pub(super) async fn gone(remote: &RemoteFork) -> Option<String> {
    if remote.host.connected().await {
        return None;
    }
    Some(format!(
        "the connection to host {} dropped; the fork's work stays there, and `ocfork resume` \
         continues it once the host is back",
        remote.host.name()
    ))
}
