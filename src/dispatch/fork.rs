//! One fork from its place in the queue to its final state: setup, the agent's turn, the
//! check, and the commit that keeps its work on its branch whatever happened.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::RunHandle;
use crate::opencode::server::ExitWatch;
use crate::opencode::turn::{Progress, TurnEnd, TurnWatch, follow_turn};
use crate::opencode::types::{ModelRef, PromptBody};
use crate::opencode::{ApiError, Client, EventHub};
use crate::state::{Check, EndReason, ForkState, Tokens};

/// What every fork of a run shares.
pub struct Shared {
    pub handle: Arc<RunHandle>,
    pub client: Client,
    pub hub: EventHub,
    pub queue: Arc<Semaphore>,
    pub cancel: CancellationToken,
    pub server_exit: Option<ExitWatch>,
    pub timeout: Duration,
    pub setup: Option<String>,
    pub check: Option<String>,
    pub common_dir: std::path::PathBuf,
    /// Metadata put on the prompt's text part (ocfork's relay marks), if any.
    pub prompt_metadata: Option<serde_json::Value>,
}

/// Drives one fork to a finished state.
pub async fn run_fork(shared: Arc<Shared>, name: String) {
    let Some(fork) = shared.handle.snapshot().fork(&name).cloned() else {
        return;
    };
    let dir = fork.worktree.clone();
    let permit = tokio::select! {
        p = shared.queue.clone().acquire_owned() => p.ok(),
        _ = shared.cancel.cancelled() => None,
    };
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + shared.timeout;
    let Some(permit) = permit else {
        finish(
            &shared,
            &name,
            &dir,
            EndReason::Cancelled,
            Some(format!("{} before it started", crate::signal::stopped_by())),
            started,
        )
        .await;
        return;
    };

    shared.handle.update(&name, |f| {
        f.started_at = Some(crate::state::now_rfc3339());
    });

    // A follow-up (`ocfork continue`) works in a worktree that was set up already.
    if let Some(cmd) = shared.setup.as_ref().filter(|_| fork.follow_ups.is_empty()) {
        shared.handle.update(&name, |f| f.state = ForkState::Setup);
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
            finish(&shared, &name, &dir, state, error, started).await;
            return;
        }
    }

    shared.handle.update(&name, |f| {
        f.state = ForkState::Running;
        f.error = None;
        f.end = None;
    });
    let end = agent_turn(&shared, &name, &dir, deadline).await;
    drop(permit);
    let last_activity = shared
        .handle
        .snapshot()
        .fork(&name)
        .and_then(|f| f.activity.clone());
    record_usage(&shared, &name, &dir).await;

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
        TurnEnd::ServerExited(status) => (
            EndReason::ServerExited,
            Some(format!("OpenCode server exited ({status})")),
        ),
    };
    let (mut state, mut error) = (state, error);
    if state == EndReason::Done
        && let Some(cmd) = &shared.check
    {
        shared
            .handle
            .update(&name, |f| f.state = ForkState::Checking);
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
    finish(&shared, &name, &dir, state, error, started).await;
}

/// The prompt a resumed fork's session gets: its history already holds the task.
pub const CONTINUE_PROMPT: &str = "Continue the task; the previous run was interrupted.";

/// Creates the session if needed, sends the prompt and follows the turn. A request that
/// failed because the server died reports the server's exit.
async fn agent_turn(
    shared: &Shared,
    name: &str,
    dir: &Path,
    deadline: tokio::time::Instant,
) -> TurnEnd {
    let end = prompt_and_follow(shared, name, dir, deadline).await;
    if let (TurnEnd::Failed(_), Some(exit)) = (&end, &shared.server_exit) {
        // The failed request may have noticed the death before the exit was reaped.
        let mut exit = exit.clone();
        let waited =
            tokio::time::timeout(Duration::from_secs(2), exit.wait_for(|e| e.is_some())).await;
        if let Ok(Ok(status)) = waited {
            return TurnEnd::ServerExited(status.clone().unwrap_or_default());
        }
    }
    end
}

async fn prompt_and_follow(
    shared: &Shared,
    name: &str,
    dir: &Path,
    deadline: tokio::time::Instant,
) -> TurnEnd {
    let Some(fork) = shared.handle.snapshot().fork(name).cloned() else {
        return TurnEnd::Failed("fork vanished from the run".into());
    };
    // Getting the prompt in may itself hang on a sick server: Ctrl-C and the time limit
    // apply from the start, and a prompt that got through is aborted.
    let send = send_prompt(shared, &fork, dir);
    let (session, before, events) = tokio::select! {
        sent = send => match sent {
            Ok(s) => s,
            Err(end) => return end,
        },
        _ = shared.cancel.cancelled() => return stop_early(shared, name, dir, TurnEnd::Cancelled).await,
        _ = tokio::time::sleep_until(deadline) => return stop_early(shared, name, dir, TurnEnd::Timeout).await,
    };
    let watch = TurnWatch {
        client: &shared.client,
        events,
        session: &session,
        directory: dir,
        before,
        deadline,
        cancel: shared.cancel.clone(),
        server_exit: shared.server_exit.clone(),
    };
    follow_turn(watch, |p| match p {
        Progress::ToolCalls(n) => shared.handle.update(name, |f| f.tool_calls = n),
        Progress::Activity(a) => shared.handle.update(name, |f| f.activity = a),
    })
    .await
}

/// A prompt sent: the session, its message count before, events subscribed before sending.
type Sent = (
    String,
    usize,
    tokio::sync::broadcast::Receiver<crate::opencode::Event>,
);

/// Creates or reuses the fork's session and sends its prompt; returns the session, how many
/// messages it held before, and an event subscription made before the prompt went out.
async fn send_prompt(
    shared: &Shared,
    fork: &crate::state::Fork,
    dir: &Path,
) -> Result<Sent, TurnEnd> {
    // A fork that already has a session (a resumed run: OpenCode keeps sessions on disk) is
    // asked to continue it; one whose session never got the prompt, or is gone, starts over.
    let earlier = match &fork.session {
        Some(id) => match shared.client.messages(id, dir).await {
            Ok(m) => Some((id.clone(), m)),
            Err(ApiError::Status { .. }) => None,
            Err(e) => return Err(TurnEnd::Failed(e.to_string())),
        },
        None => None,
    };
    let current = current_prompt(fork).to_string();
    let (session, before, prompt) = match earlier {
        Some((id, messages)) => {
            let prompt = if delivered(fork, &messages) {
                CONTINUE_PROMPT.to_string()
            } else {
                current
            };
            (id, messages.len(), prompt)
        }
        None => match shared
            .client
            .create_session(
                dir,
                &format!(
                    "ocfork {run}/{name}",
                    run = shared.handle.snapshot().run,
                    name = fork.name
                ),
            )
            .await
        {
            Ok(s) => {
                shared
                    .handle
                    .update(&fork.name, |f| f.session = Some(s.id.clone()));
                (s.id, 0, current)
            }
            Err(e) => return Err(TurnEnd::Failed(e.to_string())),
        },
    };
    let events = shared.hub.subscribe();
    shared.hub.wait_connected(Duration::from_secs(10)).await;
    let model = fork.model.as_deref().and_then(ModelRef::parse);
    let body = PromptBody::text(Some(&fork.agent), model, &prompt)
        .with_metadata(shared.prompt_metadata.clone());
    if let Err(e) = shared.client.prompt_async(&session, dir, &body).await {
        return Err(TurnEnd::Failed(e.to_string()));
    }
    Ok((session, before, events))
}

/// Ends a turn stopped before it could be followed, aborting a prompt that got through.
async fn stop_early(shared: &Shared, name: &str, dir: &Path, end: TurnEnd) -> TurnEnd {
    if let Some(session) = shared
        .handle
        .snapshot()
        .fork(name)
        .and_then(|f| f.session.clone())
    {
        crate::opencode::turn::stop_turn(&shared.client, &session, dir).await;
    }
    end
}

/// Records tokens and cost from the session's assistant messages.
async fn record_usage(shared: &Shared, name: &str, dir: &Path) {
    let Some(session) = shared
        .handle
        .snapshot()
        .fork(name)
        .and_then(|f| f.session.clone())
    else {
        return;
    };
    let Ok(Ok(messages)) = tokio::time::timeout(
        Duration::from_secs(10),
        shared.client.messages(&session, dir),
    )
    .await
    else {
        return;
    };
    let mut tokens = Tokens::default();
    let mut cost = 0.0;
    for m in messages.iter().filter(|m| m.info.role == "assistant") {
        if let Some(t) = &m.info.tokens {
            tokens.input += t.input as u64;
            tokens.output += t.output as u64;
        }
        cost += m.info.cost.unwrap_or(0.0);
    }
    shared.handle.update(name, |f| {
        f.tokens = Some(tokens);
        f.cost = Some(cost);
    });
}

/// Commits the worktree, measures the change, and records the final state.
async fn finish(
    shared: &Shared,
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
    let common = shared.common_dir.clone();
    let main = snapshot.repo.clone();
    let committed = tokio::task::spawn_blocking(move || {
        crate::git::with_repo_lock(&common, || crate::git::commit_all(&worktree, &message))?;
        let head = crate::git::worktree_head(&worktree)?;
        // Measured as `ocfork diff` measures it, which keeps the comparison for it: from the
        // main working tree, whose `.gitattributes` git reads for `diff` too.
        let from = if main.is_dir() { &main } else { &worktree };
        let stats = crate::compare::fork_stats(from, &common, &start, &head)?;
        Ok::<_, crate::git::GitError>((head, stats))
    })
    .await;
    let (end, error, commit, stats) = match committed {
        Ok(Ok((head, stats))) => (end, error, Some(head), stats),
        Ok(Err(e)) => (
            EndReason::CommitFailed,
            Some(join_errors(
                error,
                format!("could not commit the fork's work: {e}"),
            )),
            None,
            Vec::new(),
        ),
        Err(e) => (
            EndReason::CommitFailed,
            Some(join_errors(
                error,
                format!("could not commit the fork's work: {e}"),
            )),
            None,
            Vec::new(),
        ),
    };
    let (files, ins, del) = crate::git::totals(&stats);
    let elapsed = started.elapsed().as_millis() as u64;
    let state = end.state();
    shared.handle.update(name, |f| {
        f.state = state;
        f.end = Some(end);
        f.activity = None;
        f.error = error.or(f.error.take().filter(|_| state != ForkState::Done));
        if commit.is_some() {
            f.commit = commit;
        }
        f.files_changed = files;
        f.insertions = ins;
        f.deletions = del;
        f.duration_ms = f.duration_ms.saturating_add(elapsed);
    });
}

/// Whether the session already got the fork's current prompt (then a crash cut its turn
/// short): it holds that text in as many user messages as the fork has sent it.
fn delivered(fork: &crate::state::Fork, messages: &[crate::opencode::types::Message]) -> bool {
    let current = current_prompt(fork);
    let sent = std::iter::once(&fork.prompt)
        .chain(&fork.follow_ups)
        .filter(|p| p.as_str() == current)
        .count();
    let received = messages
        .iter()
        .filter(|m| m.info.role == "user")
        .filter(|m| {
            m.parts.iter().any(|p| {
                p.get("type").and_then(serde_json::Value::as_str) == Some("text")
                    && p.get("text").and_then(serde_json::Value::as_str) == Some(current)
            })
        })
        .count();
    received >= sent
}

/// The prompt of the fork's current turn: its latest follow-up, else its first prompt.
fn current_prompt(fork: &crate::state::Fork) -> &str {
    fork.follow_ups.last().unwrap_or(&fork.prompt)
}

fn join_errors(first: Option<String>, second: String) -> String {
    match first {
        Some(f) => format!("{f}; {second}"),
        None => second,
    }
}

fn commit_message(run: &str, fork: &str, prompt: &str, state: ForkState) -> String {
    let first = prompt.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let first: String = first.chars().take(60).collect();
    let note = if state == ForkState::Done {
        String::new()
    } else {
        format!(" ({})", state.as_str())
    };
    format!("ocfork {run}/{fork}{note}: {first}\n\nPrompt:\n{prompt}\n")
}

/// How a `setup` or `check` command ended.
enum Step {
    Ran(Check),
    /// It could not start, or its log could not be written.
    Broken(String),
    Cancelled,
    TimedOut,
}

fn exit_text(c: &Check) -> String {
    match c.exit_code {
        Some(code) => format!("exited with {code}"),
        None => "was killed by a signal".into(),
    }
}

/// Runs a fork's `setup` or `check` command in its worktree, its output in the step's log,
/// stopped (with everything it started) on Ctrl-C or at `deadline`.
async fn shell_step(
    shared: &Shared,
    fork: &str,
    step: &str,
    cmd: &str,
    dir: &Path,
    deadline: tokio::time::Instant,
) -> (Step, std::path::PathBuf) {
    let store = crate::state::Store::new(&shared.common_dir);
    let log = store.step_log(&shared.handle.snapshot().run, fork, step);
    let stop = async {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => Step::TimedOut,
            _ = shared.cancel.cancelled() => Step::Cancelled,
        }
    };
    let step = match run_shell(cmd, dir, &log, stop).await {
        Ok(Ok(check)) => Step::Ran(check),
        Ok(Err(stopped)) => stopped,
        Err(e) => Step::Broken(format!("could not run (log {}): {e}", log.display())),
    };
    (step, log)
}

/// Runs `sh -c cmd` in `dir` in a process group of its own, stdout and stderr appended to
/// `log`. When `stop` finishes first the whole group is killed and its value returned.
pub async fn run_shell<T>(
    cmd: &str,
    dir: &Path,
    log: &Path,
    stop: impl std::future::Future<Output = T>,
) -> std::io::Result<Result<Check, T>> {
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let err = out.try_clone()?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .env("PWD", dir)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let pgid = child.id().map(|p| nix::unistd::Pid::from_raw(p as i32));
    let kill_group = || {
        if let Some(pgid) = pgid {
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        }
    };
    tokio::select! {
        status = child.wait() => {
            let status = status?;
            // Whatever the command left running in the background goes with it.
            kill_group();
            Ok(Ok(Check {
                command: cmd.to_string(),
                exit_code: status.code(),
                duration_ms: started.elapsed().as_millis() as u64,
            }))
        }
        stopped = stop => {
            kill_group();
            let _ = child.wait().await;
            Ok(Err(stopped))
        }
    }
}
