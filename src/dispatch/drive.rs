//! Driving a recorded run to its end: worktrees, the shared OpenCode server, the queue of
//! forks, live progress, Ctrl-C, and stopping the server afterwards.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::RunHandle;
use super::fork::{Shared, run_fork};
use super::pool::Pool;
use crate::git::Repo;
use crate::opencode::{ApiError, Client, ConnectError, MainThread, Server};
use crate::state::{ForkState, Run, StateError, Store};

/// How to drive a run; the rest comes from its manifest.
#[derive(Default)]
pub struct DriveOptions {
    /// Forks to drive (all unfinished ones when empty).
    pub forks: Vec<String>,
    /// The hosts the run's forks on other machines work on, connected (`try --host`).
    pub hosts: Vec<super::remote::HostLink>,
}

/// Shows a run while it is driven: started once the run is recorded, stopped once its forks
/// are finished. The commands pass `ui::LiveView`; dispatch itself knows nothing of terminals.
pub trait RunView: Sized + Send {
    fn start(handle: Arc<RunHandle>) -> Self;
    /// Shows the final states and ends.
    fn stop(self) -> impl Future<Output = ()> + Send;
}

crate::fault::error_enum! {
    /// Why a run could not be driven.
    #[derive(Debug, thiserror::Error)]
    pub enum DriveError {
        #[error("no OpenCode server to drive the run")]
        NoServer,
    }
    wraps transparent {
        /// Another driver has it, or its record could not be read or written.
        State(StateError),
        Connect(ConnectError),
        Api(ApiError),
    }
    meaning(self) {
        DriveError::NoServer => Meaning::failure(),
    }
}

/// The outcome of driving a run.
pub struct Driven {
    pub run: Run,
    /// Ctrl-C or SIGTERM stopped it.
    pub interrupted: bool,
}

/// Drives the run's forks to finished states and returns the final record. The servers it
/// starts are started on the main thread (`main`; see [`MainThread`]).
pub async fn drive<V: RunView>(
    repo: &Repo,
    store: &Store,
    run: Run,
    opts: DriveOptions,
    main: MainThread,
) -> Result<Driven, DriveError> {
    Ok(drive_with::<V>(repo, store, run, opts, None, false, main)
        .await?
        .0)
}

/// [`drive`] on a server already connected (`try` checked the run with it), else on the
/// one the run names or a new one. With `keep`, the first server, when ocfork started it,
/// is handed back running with its client (`try --judge` judges on it), not stopped.
pub async fn drive_with<V: RunView>(
    repo: &Repo,
    store: &Store,
    run: Run,
    opts: DriveOptions,
    connected: Option<(Client, Option<Server>)>,
    keep: bool,
    main: MainThread,
) -> Result<(Driven, Option<(Client, Server)>), DriveError> {
    // Held until the run is driven: a second driver (a racing `resume`) is refused.
    let _lock = store.lock_driver(&run.run)?;
    let names: Vec<String> = if opts.forks.is_empty() {
        run.forks
            .iter()
            .filter(|f| !f.state.is_finished() || f.state == ForkState::Interrupted)
            .map(|f| f.name.clone())
            .collect()
    } else {
        opts.forks.clone()
    };
    let run = super::claim::claim(store, run, &names)?;
    let handle = RunHandle::new(store.clone(), run.clone());

    let cancel = crate::signal::cancel_on_signal();

    // Read before any agent runs, to say at the end what changed in what all worktrees share.
    let root = run
        .forks
        .iter()
        .find(|f| f.host.is_none())
        .and_then(|f| f.worktree.parent())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let shared_before = repo.shared_state(&root).ok();

    let view = V::start(handle.clone());
    // The server boots while the worktrees are written: both take seconds, and neither
    // needs the other. Both futures are polled by this task, on the main thread (`main`).
    let (local, remote): (Vec<String>, Vec<String>) = names
        .iter()
        .cloned()
        .partition(|n| handle.snapshot().fork(n).is_some_and(|f| f.host.is_none()));
    let connecting = async {
        match connected {
            Some(c) => Ok(Some(c)),
            // Every fork of this drive works on a host (`try --host`, `continue`, `resume`):
            // no server is needed here.
            None if local.is_empty() => Ok(None),
            None => connect(repo, &run, main).await.map(Some),
        }
    };
    let ((ready, mut made_now), connected, (remote_ready, remote_made)) = tokio::join!(
        super::worktrees::make_worktrees(repo, &handle, &local),
        connecting,
        super::remote::make_remote_worktrees(repo, &handle, &remote, &opts.hosts)
    );
    if ready.is_empty() && remote_ready.is_empty() {
        stop_hosts(&opts.hosts).await;
        if let Ok(Some((_, Some(server)))) = connected {
            server.stop().await;
        }
        view.stop().await;
        let _ = handle.update_run(|r| r.pid = None);
        let driven = Driven {
            run: handle.snapshot(),
            interrupted: cancel.is_cancelled(),
        };
        return Ok((driven, None));
    }
    made_now.extend(remote_made);
    let first = match connected {
        Ok(c) => c,
        Err(e) => {
            let msg = e.to_string();
            for n in &ready {
                handle.update(n, |f| {
                    f.finish(crate::state::EndReason::NoServer, Some(msg.clone()));
                });
            }
            view.stop().await;
            return Err(e);
        }
    };
    // More servers start only once the first answered: OpenCode migrates its database on
    // the first start, and servers starting together race on that.
    let more = match run.server {
        Some(_) => 0,
        None if ready.is_empty() || first.is_none() => 0,
        None => run
            .pool_size
            .unwrap_or_else(|| super::pool::default_servers(ready.len(), super::pool::cores()))
            .saturating_sub(1),
    };
    let extra_urls = run.pool_urls.get(1..).unwrap_or_default();
    let bin = run.opencode.clone().filter(|_| more > 0);
    let pool = match first {
        Some(first) => Pool::build(first, extra_urls, bin.is_some()),
        // No fork works here: a pool of none, which no fork leases.
        None => Pool::watched(Vec::new(), tokio_util::sync::CancellationToken::new()),
    };
    let record_spawned = |pool: &Pool| {
        let spawned = pool.spawned();
        if !spawned.is_empty() {
            let _ = handle.update_run(|r| {
                r.spawned_server = spawned.first().cloned();
                r.spawned_servers = spawned;
            });
        }
    };
    record_spawned(&pool);
    if pool.first().is_none() && !ready.is_empty() {
        pool.stop().await;
        return Err(DriveError::NoServer);
    }
    let pool = Arc::new(pool);
    let jobs = run
        .jobs
        .unwrap_or(usize::MAX)
        .clamp(1, Semaphore::MAX_PERMITS);
    let shared = Arc::new(Shared {
        handle: handle.clone(),
        queue: Arc::new(Semaphore::new(jobs)),
        cancel: cancel.clone(),
        external_server: false,
        timeout: Duration::from_millis(run.timeout_ms.unwrap_or(30 * 60 * 1000)),
        setup: run.setup_command.clone(),
        made_now,
        check: run.check_command.clone(),
        common_dir: repo.common_dir.clone(),
        prompt_metadata: None,
        remote: None,
        pool: pool.clone(),
        opening: {
            let snapshot = handle.snapshot();
            let fresh = ready
                .iter()
                .filter(|n| snapshot.fork(n).is_some_and(|f| f.session.is_none()));
            // Fewer forks at once than that (`-j`) cap the storm themselves.
            super::opening::Opening::for_forks(fresh.count().min(jobs))
        },
    });
    let mut tasks: Vec<_> = ready
        .iter()
        .map(|n| tokio::spawn(run_fork(shared.clone(), n.clone())))
        .collect();
    let stop_host_events = tokio_util::sync::CancellationToken::new();
    for link in &opts.hosts {
        // The host's servers, a pool of their own: each fork there leases the least loaded.
        let servers = (link.servers().iter())
            .map(|s| (s.client.clone(), s.exit.clone()))
            .collect();
        let host_pool = Arc::new(Pool::watched(servers, stop_host_events.clone()));
        if link.servers().len() > 1 {
            eprintln!(
                "ocfork: host {}: forks spread over {} OpenCode servers",
                link.host.name(),
                link.servers().len()
            );
        }
        // The host's own queue: its `jobs`, else `-j`, bounds its forks at once.
        let bound = link.host.config.jobs.or(run.jobs);
        let queue = Arc::new(Semaphore::new(
            bound.unwrap_or(usize::MAX).clamp(1, Semaphore::MAX_PERMITS),
        ));
        let here: Vec<_> = (remote_ready.iter())
            .filter(|(_, rf)| rf.host.name() == link.host.name())
            .collect();
        // The host's OpenCode keeps its own record of the project's directories: its fresh
        // forks' first prompts pass a gate of their own, as here.
        let snapshot = handle.snapshot();
        let fresh = (here.iter())
            .filter(|(n, _)| snapshot.fork(n).is_some_and(|f| f.session.is_none()))
            .count();
        let opening = super::opening::Opening::for_forks(fresh.min(bound.unwrap_or(usize::MAX)));
        for (n, rf) in here {
            let on = Arc::new(Shared {
                queue: queue.clone(),
                pool: host_pool.clone(),
                opening: opening.clone(),
                remote: Some(rf.clone()),
                ..(*shared).clone()
            });
            tasks.push(tokio::spawn(run_fork(on, n.clone())));
        }
    }
    let _ = handle.update_run(|r| r.dispatched = true);
    // The other servers boot while the first fork's turn starts (the gate's pioneer; the
    // rest wait for the pool). Polled by this task, on the main thread, like the first.
    let growing = async {
        if let Some(bin) = &bin {
            pool.grow(more, bin, &repo.workdir, main).await;
            record_spawned(&pool);
        }
    };
    let forks = async {
        for t in tasks {
            let _ = t.await;
        }
    };
    tokio::join!(growing, forks);
    if let Some(before) = &shared_before {
        report_shared_changes(repo, &handle, &root, before);
    }
    // Every fork is finished: `wait` and `clean` need not wait for the server to stop.
    let _ = handle.update_run(|r| r.pid = None);
    stop_host_events.cancel();
    stop_hosts(&opts.hosts).await;
    drop(shared);
    let kept = match Arc::try_unwrap(pool) {
        Ok(pool) if keep && !cancel.is_cancelled() => pool.stop_keeping_first().await,
        Ok(pool) => {
            pool.stop().await;
            None
        }
        // A fork task still holds it (it panicked): its servers die with ocfork.
        Err(_) => {
            eprintln!("ocfork: warning: a fork's task did not end cleanly");
            None
        }
    };
    view.stop().await;
    let _ = handle.update_run(|r| {
        r.spawned_server = None;
        r.spawned_servers.clear();
    });
    let driven = Driven {
        run: handle.snapshot(),
        interrupted: cancel.is_cancelled(),
    };
    Ok((driven, kept))
}

/// Says on stderr, and records in the run, what changed while the forks ran in git state all
/// worktrees share and in the main tree (an agent's `git stash pop`, `git update-ref`, a
/// write outside its worktree), keeping stash entries that went.
fn report_shared_changes(
    repo: &Repo,
    handle: &RunHandle,
    root: &std::path::Path,
    before: &crate::git::SharedState,
) {
    let Ok(after) = repo.shared_state(root) else {
        return;
    };
    let run = handle.snapshot().run.clone();
    let said = repo.shared_changes(&run, before, &after);
    if said.is_empty() {
        return;
    }
    for s in &said {
        crate::text::eprint_line(format!("ocfork: warning: {s}"));
    }
    let _ = handle.update_run(|r| r.warnings.extend(said));
}

/// Stops the hosts' OpenCode servers.
async fn stop_hosts(hosts: &[super::remote::HostLink]) {
    futures_util::future::join_all(hosts.iter().map(|l| l.stop())).await;
}

/// Connects to the `--server` given, or spawns one (on the main thread, `main`).
async fn connect(
    repo: &Repo,
    run: &Run,
    main: MainThread,
) -> Result<(Client, Option<Server>), DriveError> {
    let (client, server) = super::connect_run(repo, run, main).await?;
    if server.is_none() {
        client.agents(&repo.workdir).await?;
    }
    Ok((client, server))
}
