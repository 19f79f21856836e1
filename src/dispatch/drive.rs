//! Driving a recorded run to its end: worktrees, the shared OpenCode server, the queue of
//! forks, live progress, Ctrl-C, and stopping the server afterwards.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::RunHandle;
use super::fork::{Shared, run_fork};
use super::pool::Pool;
use crate::git::Repo;
use crate::opencode::{Client, Server};
use crate::state::{ForkState, Run, Store};

/// How to drive a run; the rest comes from its manifest.
pub struct DriveOptions {
    /// Forks to drive (all unfinished ones when empty).
    pub forks: Vec<String>,
}

/// Shows a run while it is driven: started once the run is recorded, stopped once its forks
/// are finished. The commands pass `ui::LiveView`; dispatch itself knows nothing of terminals.
pub trait RunView: Sized + Send {
    fn start(handle: Arc<RunHandle>) -> Self;
    /// Shows the final states and ends.
    fn stop(self) -> impl Future<Output = ()> + Send;
}

/// The outcome of driving a run.
pub struct Driven {
    pub run: Run,
    /// Ctrl-C or SIGTERM stopped it.
    pub interrupted: bool,
}

/// Drives the run's forks to finished states and returns the final record.
pub async fn drive<V: RunView>(
    repo: &Repo,
    store: &Store,
    run: Run,
    opts: DriveOptions,
) -> anyhow::Result<Driven> {
    Ok(drive_with::<V>(repo, store, run, opts, None, false)
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
) -> anyhow::Result<(Driven, Option<(Client, Server)>)> {
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
    let run = claim(store, run, &names)?;
    let handle = RunHandle::new(store.clone(), run.clone());

    let cancel = crate::signal::cancel_on_signal();

    // Read before any agent runs, to say at the end what changed in what all worktrees share.
    let root = run
        .forks
        .first()
        .and_then(|f| f.worktree.parent())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let shared_before = repo.shared_state(&root).ok();

    let view = V::start(handle.clone());
    // The server boots while the worktrees are written: both take seconds, and neither
    // needs the other. Both futures are polled by this task, on the thread that runs the
    // whole command, so the server's parent-death signal is tied to ocfork's life rather
    // than to a worker thread.
    let connecting = async {
        match connected {
            Some(c) => Ok(c),
            None => connect(repo, &run).await,
        }
    };
    let (ready, connected) = tokio::join!(make_worktrees(repo, &handle, &names), connecting);
    if ready.is_empty() {
        if let Ok((_, Some(server))) = connected {
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
    let first = match connected {
        Ok(c) => c,
        Err(e) => {
            let msg = e.to_string();
            for n in &ready {
                handle.update(n, |f| {
                    f.state = ForkState::Failed;
                    f.end = Some(crate::state::EndReason::NoServer);
                    f.error = Some(msg.clone());
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
        None => run
            .pool_size
            .unwrap_or_else(|| super::pool::default_servers(ready.len(), super::pool::cores()))
            .saturating_sub(1),
    };
    let extra_urls = run.pool_urls.get(1..).unwrap_or_default();
    let bin = run.opencode.clone().filter(|_| more > 0);
    let pool = Pool::build(first, extra_urls, bin.is_some());
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
    let Some(member) = pool.first() else {
        pool.stop().await;
        return Err(anyhow::anyhow!("no OpenCode server to drive the run"));
    };
    let pool = Arc::new(pool);
    let jobs = run
        .jobs
        .unwrap_or(usize::MAX)
        .clamp(1, Semaphore::MAX_PERMITS);
    let shared = Arc::new(Shared {
        handle: handle.clone(),
        client: member.client.clone(),
        hub: member.hub.clone(),
        queue: Arc::new(Semaphore::new(jobs)),
        cancel: cancel.clone(),
        server_exit: member.exit.clone(),
        external_server: false,
        timeout: Duration::from_millis(run.timeout_ms.unwrap_or(30 * 60 * 1000)),
        setup: run.setup_command.clone(),
        check: run.check_command.clone(),
        common_dir: repo.common_dir.clone(),
        prompt_metadata: None,
        pool: Some(pool.clone()),
        opening: {
            let snapshot = handle.snapshot();
            let fresh = ready
                .iter()
                .filter(|n| snapshot.fork(n).is_some_and(|f| f.session.is_none()));
            // Fewer forks at once than that (`-j`) cap the storm themselves.
            super::opening::Opening::for_forks(fresh.count().min(jobs))
        },
    });
    let tasks: Vec<_> = ready
        .iter()
        .map(|n| tokio::spawn(run_fork(shared.clone(), n.clone())))
        .collect();
    let _ = handle.update_run(|r| r.dispatched = true);
    // The other servers boot while the first fork's turn starts (the gate's pioneer; the
    // rest wait for the pool). Polled by this task, on the main thread, like the first.
    let growing = async {
        if let Some(bin) = &bin {
            pool.grow(more, bin, &repo.workdir).await;
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

/// Records this process as the run's driver and `names` as pending: the caller's copy of the
/// run (with what it changed, e.g. `resume` letting go of a dead server) is written under the
/// store's lock, keeping what other processes wrote to the file meanwhile: a fork marked
/// merged, a verdict, the forks this driver does not drive (a session's), forks added.
pub(super) fn claim(store: &Store, run: Run, names: &[String]) -> anyhow::Result<Run> {
    let pid = std::process::id();
    let pid_start = crate::procfs::start_time(pid);
    let mark = |r: &mut Run| {
        r.pid = Some(pid);
        r.pid_start = pid_start;
        r.dispatched = false;
        for f in r.forks.iter_mut().filter(|f| names.contains(&f.name)) {
            f.state = ForkState::Pending;
            f.error = None;
            f.end = None;
        }
    };
    let mine = {
        let mut r = run;
        mark(&mut r);
        r
    };
    let keep_theirs = |disk: &mut Run| {
        let mut next = mine.clone();
        if disk.judge.is_some() {
            next.judge = disk.judge.clone();
        }
        for f in next.forks.iter_mut() {
            if let Some(d) = disk.forks.iter().find(|d| d.name == f.name) {
                if !names.contains(&f.name) {
                    *f = d.clone();
                }
                f.merged |= d.merged;
            }
        }
        for d in &disk.forks {
            if !next.forks.iter().any(|f| f.name == d.name) {
                next.forks.push(d.clone());
            }
        }
        *disk = next;
    };
    let claimed = store.update(&mine.run, || Some(mine.clone()), keep_theirs)?;
    Ok(claimed.unwrap_or(mine))
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

/// Forks' worktrees checked out at once. Checkout is bound by the kernel creating files;
/// past a few writers they only contend with each other.
const CHECKOUTS_AT_ONCE: usize = 8;

/// Creates the worktrees that do not exist yet: registered one at a time (cheap, and git's
/// worktree list does not take concurrent writers), then their files written in parallel.
/// Returns the forks that have one; the others are marked failed with git's error.
async fn make_worktrees(repo: &Repo, handle: &Arc<RunHandle>, names: &[String]) -> Vec<String> {
    let run = handle.snapshot();
    let mut ready = Vec::new();
    let mut registered = Vec::new();
    for name in names {
        let Some(fork) = run.fork(name) else { continue };
        // A worktree git has (its `.git` link written back if an agent removed it).
        if crate::git::ForkTree::open(&repo.common_dir, &fork.worktree).is_ok() {
            ready.push(name.clone());
            continue;
        }
        let (path, branch, start) = (
            fork.worktree.clone(),
            fork.branch.clone(),
            run.start.clone(),
        );
        let repo = repo.clone();
        let res = tokio::task::spawn_blocking(move || {
            crate::git::with_repo_lock(&repo.common_dir, || {
                repo.register_worktree(&path, &branch, &start)
            })
        })
        .await
        .unwrap_or_else(|e| Err(crate::git::GitError::Other(e.to_string())));
        match res {
            Ok(made) => registered.push((
                name.clone(),
                fork.worktree.clone(),
                fork.branch.clone(),
                made,
            )),
            Err(e) => worktree_failed(handle, name, &e),
        }
    }
    let sem = Arc::new(Semaphore::new(CHECKOUTS_AT_ONCE));
    let tasks: Vec<_> = registered
        .into_iter()
        .map(|(name, path, branch, made)| {
            let repo = repo.clone();
            let sem = sem.clone();
            let copy = run.copy.clone();
            tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                let res = tokio::task::spawn_blocking(move || {
                    repo.populate_worktree(&path, &branch, made)?;
                    crate::git::include::copy_into_new_worktree(&repo.workdir, &path, &copy)
                })
                .await
                .unwrap_or_else(|e| Err(crate::git::GitError::Other(e.to_string())));
                (name, res)
            })
        })
        .collect();
    for t in tasks {
        let Ok((name, res)) = t.await else { continue };
        match res {
            Ok(()) => ready.push(name),
            Err(e) => worktree_failed(handle, &name, &e),
        }
    }
    ready
}

fn worktree_failed(handle: &RunHandle, name: &str, e: &crate::git::GitError) {
    handle.update(name, |f| {
        f.state = ForkState::Failed;
        f.end = Some(crate::state::EndReason::WorktreeFailed);
        f.error = Some(format!("could not create the worktree: {e}"));
    });
}

/// Connects to the `--server` given, or spawns one.
async fn connect(repo: &Repo, run: &Run) -> anyhow::Result<(Client, Option<Server>)> {
    let (client, server) = crate::opencode::connect(
        run.server.as_deref(),
        run.opencode.as_deref(),
        &repo.workdir,
    )
    .await?;
    if server.is_none() {
        client.agents(&repo.workdir).await?;
    }
    Ok((client, server))
}

#[cfg(test)]
mod tests {
    use super::claim;
    use crate::state::{Fork, ForkState, Run, Store};

    /// A driver starting on its copy of the run keeps what another process wrote since it
    /// read it (here `merge` marking a fork merged).
    #[test]
    fn claiming_a_run_keeps_what_others_wrote_meanwhile() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::new(dir.path());
        let mut run: Run = serde_json::from_value(serde_json::json!({
            "schema": 1, "run": "r", "repo": "/x", "base": "a", "start": "a", "task": null,
            "state": "running", "created_at": "2024-01-01T00:00:00Z", "forks": []
        }))
        .expect("a run");
        for n in ["a", "b"] {
            let root = std::path::Path::new("/w");
            run.forks.push(Fork::pending(
                "r",
                n.into(),
                root,
                "p".into(),
                "build".into(),
            ));
        }
        run.forks[0].state = ForkState::Done;
        run.forks[1].state = ForkState::Interrupted;
        run.server = Some("http://127.0.0.1:1".into());
        store.save(&run).expect("saved");
        // The driver's copy: it lets go of the run's server (as `resume` does).
        let mut mine = run.clone();
        mine.server = None;
        // Meanwhile another process merges fork a and adds a session's fork.
        store
            .update(
                "r",
                || None,
                |r| {
                    r.forks[0].merged = true;
                    let root = std::path::Path::new("/w");
                    let extra = Fork::pending("r", "c".into(), root, "p".into(), "build".into());
                    r.forks.push(extra);
                },
            )
            .expect("updated");

        let claimed = claim(&store, mine, &["b".to_string()]).expect("claimed");
        let on_disk = store.load("r").expect("loaded");
        for r in [&claimed, &on_disk] {
            assert!(r.forks[0].merged, "the merge was lost");
            assert!(
                r.forks.iter().any(|f| f.name == "c"),
                "the added fork was lost"
            );
            assert_eq!(r.forks[1].state, ForkState::Pending);
            assert_eq!(r.server, None, "the driver's own change was lost");
            assert_eq!(r.pid, Some(std::process::id()));
        }
    }
}
