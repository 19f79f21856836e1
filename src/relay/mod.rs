//! The `session` tool's behaviour, written once for `ocfork session` and for the OpenCode
//! plugin (which only calls the ocfork binary): relaying text to an agent once a session is
//! idle, handing off to a fresh session, compacting before a handoff, and forking a session
//! into its own worktree and branch, recorded as a fork of the run `session-<id>`.
//!
//! Work is split in two: [`prepare`] checks the request and does what must happen while the
//! caller waits (so errors reach it), and returns a [`Job`] for what has to wait for a session
//! (the idle point, a compaction, a fork's turn and commit). [`finish`] runs that job, in the
//! same process or in a background `ocfork __relay`, which is how the tool returns at once.

mod chain;
mod follow;
mod fork;
mod wait;

use chain::{chain_hop, current_agent, last_model, relay_mark};
use follow::follow_to_end;
pub use follow::post_notice;
pub use fork::{
    ForkJob, claim as fork_claim, latest_run as fork_latest_run, run_name as fork_run_name,
};

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::opencode::types::PromptBody;
use crate::opencode::{ApiError, Client, EventHub};

/// The plugin's source; `ocfork plugin install` fills in the binary's path.
pub const PLUGIN_SOURCE: &str = include_str!("plugin.ts");

/// Relays started by agents in a row before ocfork stops the chain.
pub const DEFAULT_MAX_HOPS: u32 = 8;

/// What the `session` tool does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Queue the text for the agent in the same session, sent when the session is idle
    Message,
    /// A fresh session in the same directory, prompted with the text
    New,
    /// Summarize the session, then send the text to the agent
    Compact,
    /// A new worktree and branch with a copy of the session, prompted with the text
    Fork,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Message => "message",
            Mode::New => "new",
            Mode::Compact => "compact",
            Mode::Fork => "fork",
        }
    }
}

crate::fault::error_enum! {
    #[derive(Debug, thiserror::Error)]
    pub enum RelayError {
        #[error("no OpenCode session {session} on {server}")]
        UnknownSession { session: String, server: String },
        #[error("unknown agent `{agent}`; agents here: {}", .known.join(", "))]
        UnknownAgent { agent: String, known: Vec<String> },
        #[error(
            "relay to {agent} not sent: {max} relays in a row were started by agents (the hop limit; raise it with OCFORK_MAX_HOPS)"
        )]
        HopLimit {
            agent: String,
            max: u32,
            /// Posts the notice in the session once its turn is over.
            notice: Box<Job>,
        },
        #[error(
            "server {server} has no session {session}: a fork's servers must share OpenCode's data directory with {first}"
        )]
        NotShared {
            server: String,
            session: String,
            first: String,
        },
        #[error("the text to send is empty")]
        EmptyText,
        #[error("OpenCode has no directory for session {0}")]
        NoDirectory(String),
        #[error("relay to {agent} in session {session} dropped: {reason}")]
        Dropped {
            session: String,
            agent: String,
            reason: String,
        },
        #[error("the turn of {agent} in session {session} failed: {reason}")]
        TurnFailed {
            session: String,
            agent: String,
            reason: String,
        },
    }
    wraps transparent {
        Api(ApiError),
        Git(crate::git::GitError),
        State(crate::state::StateError),
        Config(crate::config::ConfigError),
    }
    meaning(self) {
        RelayError::UnknownSession { .. }
        | RelayError::UnknownAgent { .. }
        | RelayError::EmptyText => Meaning::user(),
        RelayError::NotShared { .. } => Meaning::user().hint(
            "start every `opencode serve` of the pool as the same user with the same XDG_DATA_HOME",
        ),
        RelayError::HopLimit { .. }
        | RelayError::NoDirectory(_)
        | RelayError::Dropped { .. }
        | RelayError::TurnFailed { .. } => Meaning::failure(),
    }
}

/// One use of the `session` tool.
#[derive(Clone, Debug)]
pub struct Request {
    pub mode: Mode,
    pub session: String,
    /// Target agent; None means the session's current one.
    pub agent: Option<String>,
    pub text: String,
    /// The assistant message whose tool call made this request (the plugin passes it). None
    /// when a person or a script asked; such relays start a new chain.
    pub caller_message: Option<String>,
    pub max_hops: u32,
    pub timeout: Duration,
    /// More servers sharing the session's OpenCode data: a fork's turn goes to the least
    /// loaded of the session's server and these (forks recorded working on each).
    pub pool: Vec<String>,
}

/// Where a request stands, as reported to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for the session to be idle.
    Queued,
    /// Prompted; the agent is working on it.
    Started,
    /// The agent's turn ended.
    Done,
}

/// The result of a request: what `ocfork session --json` prints and the tool returns.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    pub mode: Mode,
    /// The session acted on: the same one (message, compact), the new one, or the fork's.
    pub session: String,
    /// The session the request came from.
    pub from_session: String,
    pub agent: String,
    pub state: State,
    /// Place of this relay in a chain started by agents (0 when a person asked).
    pub hop: u32,
    /// For compact: `session.compacted` was seen.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compacted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// One line for people and agents.
    pub message: String,
}

/// The part of a request that waits on a session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub server: String,
    pub outcome: Outcome,
    pub directory: PathBuf,
    pub text: String,
    /// Wait for the calling session's turn to end first (message, compact, notices).
    pub wait_idle: bool,
    /// The request came from an agent's turn: a turn that ends in an error drops the relay.
    pub from_turn: bool,
    /// Post this notice when the session is idle instead of relaying anything.
    #[serde(default)]
    pub notice: Option<String>,
    #[serde(default)]
    pub fork: Option<fork::ForkJob>,
    pub timeout_ms: u64,
}

/// Checks a request and does what cannot wait; returns the job that remains.
pub async fn prepare(client: &Client, req: &Request) -> Result<Job, RelayError> {
    if req.text.trim().is_empty() {
        return Err(RelayError::EmptyText);
    }
    let directory = session_directory(client, &req.session).await?;
    let messages = client.messages(&req.session, &directory).await?;
    let agent = match &req.agent {
        Some(a) => a.clone(),
        None => current_agent(&messages),
    };
    let agents = crate::opencode::offer::Agents::read(client, &directory).await?;
    if agents.get(&agent).is_err() {
        let known = agents.names();
        return Err(RelayError::UnknownAgent { agent, known });
    }
    let hop = match &req.caller_message {
        Some(caller) => chain_hop(&messages, caller) + 1,
        None => 0,
    };
    let mut job = Job {
        server: client.base_url().to_string(),
        outcome: Outcome {
            mode: req.mode,
            session: req.session.clone(),
            from_session: req.session.clone(),
            agent: agent.clone(),
            state: State::Queued,
            hop,
            compacted: false,
            run: None,
            fork: None,
            branch: None,
            worktree: None,
            commit: None,
            message: String::new(),
        },
        directory: directory.clone(),
        text: req.text.clone(),
        wait_idle: false,
        from_turn: req.caller_message.is_some(),
        notice: None,
        fork: None,
        timeout_ms: req.timeout.as_millis() as u64,
    };
    if hop > req.max_hops {
        // The notice goes in once the turn is over: a message added to a busy session would
        // start another turn.
        job.wait_idle = true;
        job.notice = Some(format!(
            "[ocfork] relay to {agent} not sent: {} relays in a row were started by agents (the hop limit).",
            req.max_hops
        ));
        return Err(RelayError::HopLimit {
            agent,
            max: req.max_hops,
            notice: Box::new(job),
        });
    }
    match req.mode {
        Mode::Message | Mode::Compact => {
            job.wait_idle = true;
            job.outcome.message = format!(
                "Queued for {agent}: {} once this turn ends.",
                if req.mode == Mode::Compact {
                    "the session is compacted and the text is sent"
                } else {
                    "the text is sent"
                }
            );
        }
        Mode::New => {
            let title: String = req.text.chars().take(60).collect();
            let new = client.create_session(&directory, &title).await?;
            let body = PromptBody::text(Some(&agent), None, &req.text)
                .with_metadata(Some(relay_mark(hop, req.mode, &req.session)));
            client.prompt_async(&new.id, &directory, &body).await?;
            job.outcome.session = new.id.clone();
            job.outcome.state = State::Started;
            job.outcome.message = format!("Started session {} with {agent}.", new.id);
        }
        Mode::Fork => fork::prepare(client, req, &mut job, &directory).await?,
    }
    Ok(job)
}

/// The directory OpenCode gives `session`; an id it does not know is `UnknownSession`.
pub async fn session_directory(client: &Client, session: &str) -> Result<PathBuf, RelayError> {
    let unknown = || RelayError::UnknownSession {
        session: session.to_string(),
        server: client.base_url().to_string(),
    };
    // OpenCode answers 500 rather than 404 for ids that are not session ids at all.
    if !session.starts_with("ses_") {
        return Err(unknown());
    }
    let info = client.session(session, None).await.map_err(|e| match e {
        ApiError::Status { status: 404, .. } => unknown(),
        other => RelayError::Api(other),
    })?;
    info.directory
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| RelayError::NoDirectory(session.to_string()))
}

/// Runs what a request left to do. With `follow`, waits for the agent's turn to end (a fork's
/// turn is always followed, since its work must be committed).
pub async fn finish(client: &Client, mut job: Job, follow: bool) -> Result<Outcome, RelayError> {
    let stop = CancellationToken::new();
    let hub = EventHub::start(client.clone(), stop.clone());
    let res = finish_with(client, &hub, &mut job, follow).await;
    stop.cancel();
    if let Err(e) = &res
        && matches!(e, RelayError::Dropped { .. } | RelayError::Api(_))
        && job.notice.is_none()
    {
        // Whoever queued the relay has moved on: the session is where they will look.
        let note = format!("[ocfork] {e}");
        let _ = post_notice(client, &job.outcome.from_session, &job.directory, &note).await;
    }
    res.map(|()| job.outcome)
}

async fn finish_with(
    client: &Client,
    hub: &EventHub,
    job: &mut Job,
    follow: bool,
) -> Result<(), RelayError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(job.timeout_ms);
    if job.wait_idle {
        hub.wait_connected(crate::timeouts::get().hub_connect).await;
        wait::idle(client, hub, job, deadline).await?;
    }
    if let Some(note) = &job.notice {
        post_notice(client, &job.outcome.session, &job.directory, note).await?;
        return Ok(());
    }
    if let Some(f) = job.fork.clone() {
        return fork::finish(client, job, &f).await;
    }
    let session = job.outcome.session.clone();
    let agent = job.outcome.agent.clone();
    let dir = job.directory.clone();
    if matches!(job.outcome.mode, Mode::Message | Mode::Compact) {
        if job.outcome.mode == Mode::Compact {
            job.outcome.compacted = wait::compact(client, hub, &session, &dir, deadline).await?;
            let marker =
                format!("[Compacting session - {agent} agent will respond after completion]");
            post_notice(client, &session, &dir, &marker).await?;
        }
        let body = PromptBody::text(Some(&agent), None, &job.text).with_metadata(Some(relay_mark(
            job.outcome.hop,
            job.outcome.mode,
            &job.outcome.from_session,
        )));
        let before = client.messages(&session, &dir).await?.len();
        let events = hub.subscribe();
        client.prompt_async(&session, &dir, &body).await?;
        job.outcome.state = State::Started;
        job.outcome.message = format!("Sent to {agent} in session {session}.");
        if follow {
            follow_to_end(client, events, job, before, deadline).await?;
        }
        return Ok(());
    }
    if follow {
        let events = hub.subscribe();
        follow_to_end(client, events, job, 0, deadline).await?;
    }
    Ok(())
}
