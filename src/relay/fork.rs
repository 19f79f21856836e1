//! `fork` mode: a worktree and branch made from the session's directory as it is (committed or
//! not), an OpenCode session there carrying the parent's history, recorded as a fork of the run
//! `session-<id>` and driven by the same code as the forks of `ocfork try`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{Job, RelayError, Request, State, relay_mark};
use crate::dispatch::pool::Pool;
use crate::dispatch::{RunHandle, Shared, run_fork};
use crate::git::Repo;
use crate::opencode::Client;
use crate::state::{Driver, EndReason, Fork, ForkState, Run, Store};

/// The fork a job drives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForkJob {
    pub run: String,
    pub fork: String,
    pub common_dir: PathBuf,
    /// The server the fork's turn runs on when not the session's (a pool of `--server`s);
    /// notices to the parent session still go to the session's server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

/// The run that holds the forks of a session: `session-<id>` in lowercase, within the name
/// limit.
pub fn run_name(session: &str) -> String {
    let id = session.strip_prefix("ses_").unwrap_or(session);
    let slug = crate::names::slug(id, crate::names::MAX_NAME - "session-".len());
    format!("session-{slug}")
}

/// The names a session's runs take, in order: `session-<id>`, then each next
/// `session-<id>-N` (a new one is opened when the session's files changed since the last).
fn run_names(session: &str) -> impl Iterator<Item = String> {
    let base = run_name(session);
    let mut taken = HashSet::new();
    std::iter::successors(Some(base.clone()), move |prev: &String| {
        taken.insert(prev.clone());
        Some(crate::names::unique(&base, &taken))
    })
}

/// The run a fork of `session` starting from `start` joins: `session-<id>`, or, when the
/// session's files changed since that run's forks were made, the next `session-<id>-N` whose
/// start is the same tree. A run has one start, which diff and merge measure every fork from.
fn run_for_start(store: &Store, repo: &Repo, session: &str, start: &str) -> String {
    run_names(session)
        .find(|name| !matches!(store.load(name), Ok(run) if !same_tree(repo, &run.start, start)))
        .unwrap_or_else(|| run_name(session))
}

/// The last run the forks of `session` opened (`session-<id>`, or the last `session-<id>-N`
/// a fork opened once the session's files had changed); None when it forked nothing.
pub fn latest_run(store: &Store, session: &str) -> Option<Run> {
    run_names(session)
        .map_while(|name| store.load(&name).ok())
        .last()
}

/// Makes the worktree and the forked session and records the fork (pending).
pub async fn prepare(
    client: &Client,
    req: &Request,
    job: &mut Job,
    directory: &Path,
) -> Result<(), RelayError> {
    let repo = Repo::discover(directory)?;
    let head = repo.head()?;
    let start = repo.snapshot_dirty(&head)?.unwrap_or_else(|| head.clone());
    let store = Store::new(&repo.common_dir);
    let run_name = run_for_start(&store, &repo, &req.session, &start);
    let root =
        crate::config::Config::load(Some(&repo.workdir))?.run_worktree_root(&repo, &run_name);
    let agent = job.outcome.agent.clone();
    let servers = pool_of(client, &req.pool, &req.session).await?;
    // Forks other runs have working, counted before the lock: this run's are read under it.
    let (others, _) = store.all()?;
    let others: Vec<Run> = others.into_iter().filter(|r| r.run != run_name).collect();
    let mut chosen: Option<Fork> = None;
    let mut fork_start = start.clone();
    let created = store.update(
        &run_name,
        || Some(new_run(&run_name, &repo, &head, &start, job)),
        |run| {
            fork_start = run.start.clone();
            let mut fork = new_fork(&repo, run, &root, &req.text, &agent);
            let runs = others.iter().chain(std::iter::once(&*run));
            fork.server = Some(least_loaded(&servers, runs));
            run.forks.push(fork.clone());
            chosen = Some(fork);
        },
    )?;
    let (Some(_), Some(fork)) = (created, chosen) else {
        return Err(RelayError::State(crate::state::StateError::NoRuns));
    };
    let handle = RunHandle::new(store.clone(), store.load(&run_name)?);
    let fail = |reason: EndReason, msg: String| {
        handle.update(&fork.name, |f| {
            f.finish(reason, Some(msg));
            f.driver = None;
        });
    };

    let (path, branch) = (fork.worktree.clone(), fork.branch.clone());
    let made = crate::git::with_repo_lock(&repo.common_dir, || {
        repo.add_worktree(&path, &branch, &fork_start)?;
        // Ignored files the project lists in .worktreeinclude, as `try` copies them.
        crate::git::include::copy_into_new_worktree(&repo.workdir, &path, &[])
    });
    if let Err(e) = made {
        fail(
            EndReason::WorktreeFailed,
            format!("could not create the worktree: {e}"),
        );
        return Err(e.into());
    }
    let session = match copy_session(client, &req.session, directory, &fork.worktree).await {
        Ok(s) => s,
        Err(e) => {
            fail(
                EndReason::AgentError,
                format!("could not fork the session: {e}"),
            );
            return Err(e.into());
        }
    };
    handle.update(&fork.name, |f| f.session = Some(session.clone()));
    job.fork = Some(ForkJob {
        run: run_name.clone(),
        fork: fork.name.clone(),
        common_dir: repo.common_dir.clone(),
        server: fork
            .server
            .clone()
            .filter(|s| *s != trimmed(client.base_url())),
    });
    job.directory = fork.worktree.clone();
    job.outcome.session = session.clone();
    job.outcome.state = State::Queued;
    job.outcome.run = Some(run_name.clone());
    job.outcome.fork = Some(fork.name.clone());
    job.outcome.branch = Some(fork.branch.clone());
    job.outcome.worktree = Some(fork.worktree.clone());
    job.outcome.message = format!(
        "Forked into session {session} ({agent}) on branch {} in {}; its work is committed there when it finishes. `ocfork status {run_name}` shows it.",
        fork.branch,
        fork.worktree.display()
    );
    Ok(())
}

/// A copy of the session's history whose directory is the worktree. `fork` keeps the parent's
/// directory, so the copy is moved; files are left alone (the worktree already has them).
async fn copy_session(
    client: &Client,
    parent: &str,
    directory: &Path,
    worktree: &Path,
) -> Result<String, crate::opencode::ApiError> {
    let copy = client.fork_session(parent, directory).await?;
    if let Err(e) = client.move_session(&copy.id, worktree).await {
        let _ = client.delete_session(&copy.id, directory).await;
        return Err(e);
    }
    Ok(copy.id)
}

/// The servers a fork may work on: the session's first, then the others given, each once,
/// each checked before anything is made (so a wrong URL leaves nothing behind).
async fn pool_of(
    client: &Client,
    more: &[String],
    session: &str,
) -> Result<Vec<String>, RelayError> {
    let mut servers = vec![trimmed(client.base_url())];
    for url in more {
        // Spelled as the fork records it once it runs there, so the two compare.
        let url = trimmed(Client::new(url, None)?.base_url());
        if !servers.contains(&url) {
            shares_data(client, &url, session).await?;
            servers.push(url);
        }
    }
    Ok(servers)
}

fn trimmed(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

/// The server of `servers` with the fewest forks recorded working on it in `runs` (the first
/// of equals).
fn least_loaded<'a>(servers: &[String], runs: impl Iterator<Item = &'a Run>) -> String {
    let mut load = vec![0usize; servers.len()];
    let working = runs
        .flat_map(|r| r.forks.iter())
        .filter(|f| !f.state.is_finished());
    for on in working.filter_map(|f| f.server.as_deref().map(trimmed)) {
        if let Some(i) = servers.iter().position(|s| *s == on) {
            load[i] += 1;
        }
    }
    let best = crate::dispatch::pool::least_loaded(load).unwrap_or(0);
    servers.get(best).cloned().unwrap_or_default()
}

/// Checks that another server sees the session: servers of a pool share OpenCode's data
/// directory, and one that does not would fail the fork's first prompt.
async fn shares_data(client: &Client, on: &str, session: &str) -> Result<(), RelayError> {
    let other = Client::new(on, client.password())?;
    match other.session(session, None).await {
        Ok(_) => Ok(()),
        Err(crate::opencode::ApiError::Status { status: 404, .. }) => Err(RelayError::NotShared {
            server: trimmed(on),
            session: session.to_string(),
            first: trimmed(client.base_url()),
        }),
        Err(e) => Err(e.into()),
    }
}

/// The client for the server the fork works on.
fn client_for(client: &Client, f: &ForkJob) -> Result<Client, RelayError> {
    match &f.server {
        Some(url) if *url != trimmed(client.base_url()) => Ok(Client::new(url, client.password())?),
        _ => Ok(client.clone()),
    }
}

/// Hands the fork to the process that drives it; with `driver` another process takes over.
pub fn claim(common_dir: &Path, f: &ForkJob, driver: Driver) -> Result<(), RelayError> {
    let store = Store::new(common_dir);
    store.update(
        &f.run,
        || None,
        |run| {
            if let Some(fk) = run.fork_mut(&f.fork) {
                fk.driver = Some(driver);
            }
        },
    )?;
    Ok(())
}

/// Prompts the fork, follows its turn and commits its work, as `try` does for its forks.
pub async fn finish(client: &Client, job: &mut Job, f: &ForkJob) -> Result<(), RelayError> {
    let client = &client_for(client, f)?;
    claim(&f.common_dir, f, Driver::current())?;
    let store = Store::new(&f.common_dir);
    let run = store.load(&f.run)?;
    let handle = RunHandle::new(store.clone(), run);
    let stop = CancellationToken::new();
    let cancel = crate::signal::cancel_on_signal();
    // The server is the user's: ocfork sees it gone only when it refuses connections.
    let gone = crate::opencode::liveness::watch_refusals(client.clone(), stop.clone());
    let shared = Arc::new(Shared {
        handle: handle.clone(),
        queue: Arc::new(Semaphore::new(1)),
        cancel,
        external_server: true,
        timeout: Duration::from_millis(job.timeout_ms),
        setup: None,
        made_now: Default::default(),
        check: None,
        common_dir: f.common_dir.clone(),
        prompt_metadata: Some(relay_mark(
            job.outcome.hop,
            job.outcome.mode,
            &job.outcome.from_session,
        )),
        pool: Arc::new(Pool::watched(vec![(client.clone(), gone)], stop.clone())),
        opening: None,
        remote: None,
    });
    run_fork(shared, f.fork.clone()).await;
    stop.cancel();
    handle.update(&f.fork, |fk| fk.driver = None);
    let fork = handle
        .snapshot()
        .fork(&f.fork)
        .cloned()
        .ok_or_else(|| RelayError::State(crate::state::StateError::NoRuns))?;
    job.outcome.commit = fork.commit.clone();
    if fork.state == ForkState::Done {
        job.outcome.state = State::Done;
        job.outcome.message = format!(
            "Fork {}/{} finished; its work is committed on {}.",
            f.run, f.fork, fork.branch
        );
        Ok(())
    } else {
        Err(RelayError::TurnFailed {
            session: job.outcome.session.clone(),
            agent: job.outcome.agent.clone(),
            reason: format!(
                "fork {}/{} ended {}{}",
                f.run,
                f.fork,
                fork.state.as_str(),
                fork.error.map(|e| format!(": {e}")).unwrap_or_default()
            ),
        })
    }
}

fn same_tree(repo: &Repo, a: &str, b: &str) -> bool {
    let tree = |c: &str| {
        repo.git(["rev-parse", &format!("{c}^{{tree}}")])
            .ok()
            .map(|o| o.stdout)
    };
    a == b || tree(a).is_some_and(|t| Some(t) == tree(b))
}

fn new_run(name: &str, repo: &Repo, head: &str, start: &str, job: &Job) -> Run {
    Run {
        timeout_ms: Some(job.timeout_ms),
        server: Some(job.server.clone()),
        dispatched: true,
        ..Run::new(
            name.to_string(),
            repo.workdir.clone(),
            head.to_string(),
            start.to_string(),
        )
    }
}

/// A pending fork named after the text, unique in the run and free in git and on disk.
fn new_fork(repo: &Repo, run: &Run, root: &Path, text: &str, agent: &str) -> Fork {
    let mut taken: HashSet<String> = run.forks.iter().map(|f| f.name.clone()).collect();
    let mut base = crate::names::slug(text, crate::names::MAX_NAME);
    if base.is_empty() {
        base = "fork".into();
    }
    let name = loop {
        let name = crate::names::unique(&base, &taken);
        let branch = format!("ocfork/{}/{name}", run.run);
        if !repo.branch_exists(&branch) && !root.join(&name).exists() {
            break name;
        }
        taken.insert(name);
    };
    Fork {
        driver: Some(Driver::current()),
        ..Fork::pending(&run.run, name, root, text.to_string(), agent.to_string())
    }
}
