//! One fork from its place in the queue to its final state: setup, the agent's turn, the
//! check, and the commit that keeps its work on its branch whatever happened.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::RunHandle;
use super::pool::{Member, Pool};
use super::step::{Step, exit_text, shell_step};
use super::turn::{agent_turn, current_prompt, record_usage};
use crate::opencode::turn::TurnEnd;
use crate::state::{Check, EndReason, ForkState, TurnStep};

/// What every fork of a run shares.
#[derive(Clone)]
pub struct Shared {
    pub handle: Arc<RunHandle>,
    pub queue: Arc<Semaphore>,
    pub cancel: CancellationToken,
    /// The server is someone else's (a session fork's): when it goes away the fork is left
    /// `interrupted`, for `ocfork resume`, rather than failed.
    pub external_server: bool,
    pub timeout: Duration,
    pub setup: Option<String>,
    /// Forks whose worktree this drive made: setup runs there even for a follow-up (`continue`
    /// after `clean` kept the branch), since nothing it made is left.
    pub made_now: std::collections::HashSet<String>,
    pub check: Option<String>,
    pub common_dir: std::path::PathBuf,
    /// Metadata put on the prompt's text part (ocfork's relay marks), if any.
    pub prompt_metadata: Option<serde_json::Value>,
    /// The servers the forks work on: each fork leases the least-loaded live one when it
    /// leaves the queue, and works on it to its end (one for a session fork).
    pub pool: Arc<Pool>,
    /// The gate fresh forks' first prompts pass, so OpenCode registers the worktrees once.
    pub opening: Option<Arc<super::opening::Opening>>,
    /// The host the fork works on (`try --host`); None on this machine.
    pub remote: Option<super::remote::RemoteFork>,
}

/// Drives one fork to a finished state.
pub async fn run_fork(shared: Arc<Shared>, name: String) {
    let Some(fork) = shared.handle.snapshot().fork(&name).cloned() else {
        return;
    };
    let dir = fork.worktree.clone();
    // A place in the queue, then the least-loaded live server for this turn. The pool may
    // still be starting servers: a fork that may be the gate's pioneer need not wait for
    // them, the others do. The fork's clock starts once it has both.
    let early = shared.opening.is_some() && fork.session.is_none();
    let placed = async {
        let permit = shared.queue.clone().acquire_owned().await.ok()?;
        Some((permit, shared.pool.lease(early).await))
    };
    let placed = tokio::select! {
        p = placed => p,
        _ = shared.cancel.cancelled() => None,
    };
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + shared.timeout;
    let Some((permit, leased)) = placed else {
        finish(
            &shared,
            None,
            &name,
            &dir,
            EndReason::Cancelled,
            Some(format!("{} before it started", crate::signal::stopped_by())),
            started,
        )
        .await;
        return;
    };
    let Some(lease) = leased else {
        // As when the server goes during the turn: someone else's leaves the fork for
        // `resume`.
        let (end, error) = match shared.external_server {
            true => (
                EndReason::ServerGone,
                "the OpenCode server refuses connections; `ocfork resume` continues the fork",
            ),
            false => (
                EndReason::ServerExited,
                "every OpenCode server of the run exited",
            ),
        };
        finish(&shared, None, &name, &dir, end, Some(error.into()), started).await;
        return;
    };
    let on = &*lease.member;
    let url = on.url.clone();
    shared.handle.update(&name, |f| {
        f.started_at = Some(crate::state::now_rfc3339());
        f.server = Some(url);
    });

    // A follow-up (`ocfork continue`) works in a worktree that was set up already, unless it
    // was made again from the fork's branch.
    let set_up = fork.follow_ups.is_empty() || shared.made_now.contains(&name);
    if let Some(cmd) = shared.setup.as_ref().filter(|_| set_up) {
        shared.handle.update(&name, |f| f.begin(TurnStep::Setup));
        let (step, log) = shell_step(&shared, &name, "setup", cmd, &dir, deadline).await;
        let (state, error) = match step {
            Step::Ran(c) if c.exit_code == Some(0) => (None, None),
            Step::Ran(c) => (
                Some(EndReason::SetupFailed),
                Some(format!(
                    "setup `{cmd}` {} (output in {})",
                    exit_text(&c),
                    log.display()
                )),
            ),
            Step::Broken(e) => (
                Some(EndReason::SetupFailed),
                Some(format!("setup `{cmd}` {e}")),
            ),
            Step::Cancelled => (
                Some(EndReason::Cancelled),
                Some(format!("{} during setup", crate::signal::stopped_by())),
            ),
            Step::TimedOut => (
                Some(EndReason::Timeout),
                Some("timed out during setup".into()),
            ),
        };
        if let Some(state) = state {
            finish(&shared, Some(on), &name, &dir, state, error, started).await;
            return;
        }
    }

    shared.handle.update(&name, |f| {
        f.begin(TurnStep::Running);
    });
    let end = match agent_turn(&shared, on, &name, &dir, deadline).await {
        // A request that failed because the server went reports the server's end.
        TurnEnd::Failed(e) => match on.gone_after_failure(shared.external_server).await {
            Some(status) => TurnEnd::ServerExited(status),
            None => TurnEnd::Failed(e),
        },
        end => end,
    };
    drop(permit);
    let last_activity = shared
        .handle
        .snapshot()
        .fork(&name)
        .and_then(|f| f.activity.clone());
    let asks = async {
        record_usage(&shared, on, &name, &dir).await;
        // The server lets go of the worktree's instance (watcher, LSP, plugin state): a
        // user's long-running server stays flat however many forks it ran.
        let dispose = on.client.dispose_instance(&dir);
        let _ = tokio::time::timeout(crate::timeouts::get().dispose, dispose).await;
    };
    // After Ctrl-C, within the stop's bound as a whole: then the work is committed.
    match crate::signal::stop_deadline() {
        Some(until) => {
            let _ = tokio::time::timeout_at(until, asks).await;
        }
        None => asks.await,
    }

    let (state, error) = match end {
        TurnEnd::Done => (EndReason::Done, None),
        TurnEnd::Failed(e) => (EndReason::AgentError, Some(e)),
        TurnEnd::Timeout => {
            let limit = crate::text::duration(shared.timeout);
            let error = match last_activity {
                // A model that never answers properly shows only as OpenCode retrying it.
                Some(a) => format!("timed out after {limit} while OpenCode was {a}"),
                None => format!("timed out after {limit}"),
            };
            (EndReason::Timeout, Some(error))
        }
        TurnEnd::Cancelled => (EndReason::Cancelled, Some(crate::signal::stopped_by())),
        TurnEnd::ServerExited(status) if shared.external_server => (
            EndReason::ServerGone,
            Some(format!(
                "the OpenCode server {status}; `ocfork resume` continues the fork"
            )),
        ),
        TurnEnd::ServerExited(status) => (
            EndReason::ServerExited,
            Some(format!("OpenCode server exited ({status})")),
        ),
    };
    let (mut state, mut error) = (state, error);
    if state == EndReason::Done
        && let Some(cmd) = &shared.check
    {
        shared.handle.update(&name, |f| f.begin(TurnStep::Checking));
        // The check gets a budget of its own: the agent may have used most of the fork's.
        let limit = tokio::time::Instant::now() + shared.timeout;
        let check = match shell_step(&shared, &name, "check", cmd, &dir, limit)
            .await
            .0
        {
            Step::Ran(c) => Some(c),
            Step::Broken(e) => {
                error = Some(format!("check `{cmd}` {e}"));
                None
            }
            Step::Cancelled => {
                (state, error) = (
                    EndReason::Cancelled,
                    Some(format!("{} during the check", crate::signal::stopped_by())),
                );
                None
            }
            Step::TimedOut => {
                let limit = crate::text::duration(shared.timeout);
                error = Some(format!("check `{cmd}` timed out after {limit}"));
                None
            }
        };
        let check = check.unwrap_or_else(|| Check {
            command: cmd.clone(),
            exit_code: None,
            duration_ms: 0,
        });
        shared.handle.update(&name, |f| f.check = Some(check));
    }
    finish(&shared, Some(on), &name, &dir, state, error, started).await;
}

/// Commits the worktree, measures the change, and records the final state.
async fn finish(
    shared: &Shared,
    on: Option<&Member>,
    name: &str,
    dir: &Path,
    end: EndReason,
    error: Option<String>,
    started: Instant,
) {
    let snapshot = shared.handle.snapshot();
    let Some(fork) = snapshot.fork(name).cloned() else {
        return;
    };
    let message = commit_message(&snapshot.run, name, current_prompt(&fork), end.state());
    let start = snapshot.start.clone();
    let worktree = dir.to_path_buf();
    let main = snapshot.repo.clone();
    // The password of the server it worked on (before it started, the run's first).
    let first = shared.pool.first();
    let secret = (on.or(first.as_deref()))
        .and_then(|m| m.client.password())
        .map(str::to_owned);
    let branch = fork.branch.clone();
    // A fork on a host whose connection dropped is left as it is there, for `resume`.
    let gone = match &shared.remote {
        Some(r) if end != EndReason::Done => super::remote::gone(r).await,
        _ => None,
    };
    let (end, error) = match gone {
        Some(words) => (EndReason::HostGone, Some(words)),
        None => (end, error),
    };
    let committed = match &shared.remote {
        _ if end == EndReason::HostGone => Err(None),
        Some(remote) => {
            let common = &shared.common_dir;
            let secret = secret.as_deref();
            super::remote::commit_remote(remote, common, &snapshot, &fork, &message, secret)
                .await
                .map_err(Some)
        }
        None => commit_local(shared, worktree, branch, start, message, main, secret)
            .await
            .map_err(Some),
    };
    let gone = match (&committed, &shared.remote) {
        (Err(Some(_)), Some(r)) => super::remote::gone(r).await,
        _ => None,
    };
    let (end, error, commit, moved, stats) = match committed {
        Ok((done, stats)) => (end, error, Some(done.tip), done.moved, stats),
        Err(None) => (end, error, None, None, Vec::new()),
        Err(Some(_)) if gone.is_some() => (EndReason::HostGone, gone, None, None, Vec::new()),
        Err(Some(e)) => (
            EndReason::CommitFailed,
            Some(join_errors(
                error,
                format!("could not commit the fork's work: {e}"),
            )),
            None,
            None,
            Vec::new(),
        ),
    };
    if let Some(m) = &moved {
        crate::text::eprint_line(format!(
            "ocfork: {name}: its agent moved the worktree to {m}; ocfork committed the work to {} and put the worktree back on it",
            fork.branch
        ));
    }
    super::ports::release(&snapshot.run, name);
    let (files, ins, del) = crate::git::totals(&stats);
    let elapsed = started.elapsed().as_millis() as u64;
    shared.handle.update(name, |f| {
        f.finish(end, error);
        if commit.is_some() {
            f.commit = commit;
            f.moved = moved;
        }
        // Nothing was measured on a host that went away: the last totals stand.
        if end != EndReason::HostGone {
            f.files_changed = files;
            f.insertions = ins;
            f.deletions = del;
        }
        f.duration_ms = f.duration_ms.saturating_add(elapsed);
    });
}

/// Commits a fork's worktree here, pinned to its admin directory, and measures the change.
async fn commit_local(
    shared: &Shared,
    worktree: std::path::PathBuf,
    branch: String,
    start: String,
    message: String,
    main: std::path::PathBuf,
    secret: Option<String>,
) -> Result<(crate::git::Committed, Vec<crate::git::FileStat>), String> {
    let common = shared.common_dir.clone();
    let committed = tokio::task::spawn_blocking(move || {
        // Pinned to the fork's own admin directory: an agent that deleted or rewrote the
        // worktree's `.git` cannot send the commit anywhere else.
        let tree = crate::git::ForkTree::open(&common, &worktree)?;
        if let Some(secret) = &secret {
            for p in crate::git::hide_secret(&tree, secret)? {
                crate::text::eprint_line(format!(
                    "ocfork: {}: the OpenCode server's password was in it; ocfork replaced it before committing",
                    p.display()
                ));
            }
        }
        let done = crate::git::with_repo_lock(&common, || {
            crate::git::commit_fork(&tree, &branch, &start, &message)
        })?;
        // Measured as `ocfork diff` measures it, which keeps the comparison for it: from the
        // main working tree, whose `.gitattributes` git reads for `diff` too.
        let from = if main.is_dir() { &main } else { &worktree };
        let stats = crate::compare::fork_stats(from, &common, &start, &done.tip)?;
        Ok::<_, crate::git::GitError>((done, stats))
    })
    .await;
    // A git error, or the blocking task that ran git died.
    match committed {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn join_errors(first: Option<String>, second: String) -> String {
    match first {
        Some(f) => format!("{f}; {second}"),
        None => second,
    }
}

/// The message of a fork's commit: the run and fork, the state it ended in when not `done`,
/// the prompt's first line, then the whole prompt (tests make finished runs with it).
pub fn commit_message(run: &str, fork: &str, prompt: &str, state: ForkState) -> String {
    // git refuses a message holding a NUL and `git log` would replay escape sequences: the
    // prompt goes in with its control characters written out (the manifest keeps it exact).
    let prompt = crate::text::commit_text(prompt);
    let first = crate::text::subject(&prompt, 60);
    let note = if state == ForkState::Done {
        String::new()
    } else {
        format!(" ({})", state.as_str())
    };
    format!("ocfork {run}/{fork}{note}: {first}\n\nPrompt:\n{prompt}\n")
}
