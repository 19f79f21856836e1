//! `ocfork session MODE`: the `session` tool from the command line (message, new, compact,
//! fork; judge and synth live in `session_verdict`), and the hidden `ocfork __relay JOB` the
//! tool's requests finish in.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use clap::Args;

use super::{CmdResult, CommandError};
use crate::opencode::{Client, MainThread, Server};
use crate::relay::{self, Job, Mode, Outcome, RelayError, Request};

/// Send text to an agent in a session, hand off to a new session, compact, fork, or judge
/// or synthesize the session's forks.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ocfork session message --session ses_123 --agent plan --server http://127.0.0.1:4096 \"Review the store\"\n  ocfork session fork --session ses_123 --server http://127.0.0.1:4096 \"Implement using Redux\"\n  ocfork session judge --session ses_123 --server http://127.0.0.1:4096\n  ocfork session synth --session ses_123 --from redux,context \"keep the smaller store\"\n\njudge and synth act on the run the session's forks made (--run names another; without\nforks, the latest run) and answer when done: judge with the ranking, synth with the new\nfork once it ended (and the ranking when the run is judged again). Their TEXT is optional:\nwhat matters most (as --criteria). --agent is the judges' agent, or the synthesizing one.\n\nThe password of the server comes from OPENCODE_SERVER_PASSWORD. Without --server, ocfork starts\nits own OpenCode for the request (sessions are shared through OpenCode's data directory)."
)]
pub struct SessionArgs {
    /// message: send when the session is idle; new: fresh session; compact: summarize, then
    /// send; fork: own worktree and branch with a copy of the session; judge: rank the
    /// session's forks; synth: one more fork from the best of them
    #[arg(value_enum)]
    mode: ModeArg,
    /// The session to act from
    #[arg(long, value_name = "ID")]
    session: String,
    /// Target agent (default: the session's current one; for judge the judges' read-only
    /// one, for synth the first source fork's)
    #[arg(short, long, value_name = "NAME")]
    agent: Option<String>,
    /// A running `opencode serve` (password from OPENCODE_SERVER_PASSWORD); the first holds
    /// the session. For fork, repeat it to spread forks over servers sharing OpenCode's data:
    /// each fork works on the one with the fewest forks working
    #[arg(long, value_name = "URL")]
    server: Vec<String>,
    /// The opencode binary when no --server is given
    #[arg(long, value_name = "PATH")]
    opencode: Option<PathBuf>,
    /// Return once the request is queued or started; a background ocfork finishes it
    #[arg(long, requires = "server")]
    detach: bool,
    /// How long to wait for the idle point and for the agent's turn
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    timeout: String,
    /// Relays in a row started by agents before the chain stops
    #[arg(long, value_name = "N", env = "OCFORK_MAX_HOPS", default_value_t = relay::DEFAULT_MAX_HOPS)]
    max_hops: u32,
    /// The assistant message whose tool call asked (set by the plugin)
    #[arg(long, value_name = "ID", hide = true)]
    caller_message: Option<String>,
    /// judge, synth: the run (default: the one this session's forks made, else the latest)
    #[arg(long, value_name = "RUN")]
    run: Option<String>,
    /// synth: the forks to combine, e.g. redux,context (default: as `ocfork synth` picks)
    #[arg(long, value_name = "FORK,...", value_delimiter = ',')]
    from: Vec<String>,
    /// Print the outcome as JSON
    #[arg(long)]
    json: bool,
    /// Read the text from standard input instead (any length; the plugin sends it this way)
    #[arg(long, conflicts_with = "text")]
    stdin: bool,
    /// The text to send (judge, synth: what matters most, optional)
    #[arg(value_name = "TEXT")]
    text: Option<String>,
}

/// The relay's modes as clap offers them (the relay layer knows nothing of clap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ModeArg {
    /// Queue the text for the agent in the same session, sent when the session is idle
    Message,
    /// A fresh session in the same directory, prompted with the text
    New,
    /// Summarize the session, then send the text to the agent
    Compact,
    /// A new worktree and branch with a copy of the session, prompted with the text
    Fork,
    /// Rank the forks of the session's run; answers with the ranking
    Judge,
    /// One more fork from the best of the run's forks; answers once it ended
    Synth,
}

impl ModeArg {
    /// The relay mode, or None for judge and synth (no relay: see `session_verdict`).
    fn relay(self) -> Option<Mode> {
        match self {
            ModeArg::Message => Some(Mode::Message),
            ModeArg::New => Some(Mode::New),
            ModeArg::Compact => Some(Mode::Compact),
            ModeArg::Fork => Some(Mode::Fork),
            ModeArg::Judge | ModeArg::Synth => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ModeArg::Judge => "judge",
            ModeArg::Synth => "synth",
            m => m.relay().map_or("", Mode::as_str),
        }
    }
}

pub async fn cmd_session(args: SessionArgs, main: MainThread) -> CmdResult {
    let timeout = humantime::parse_duration(&args.timeout).map_err(|e| {
        CommandError::usage(format!(
            "--timeout `{}` is not a duration: {e}",
            args.timeout
        ))
    })?;
    let text = match (args.text.clone(), args.stdin) {
        (Some(t), _) => Some(t),
        (None, true) => {
            let mut t = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut t).map_err(|e| {
                CommandError::usage(format!("cannot read the text from standard input: {e}"))
            })?;
            Some(t)
        }
        (None, false) => None,
    };
    if args.server.len() > 1 && args.mode != ModeArg::Fork {
        return Err(CommandError::usage(format!(
            "--server is given {} times, but only `session fork` spreads over several servers; \
             {} talks to the session's one",
            args.server.len(),
            args.mode.name()
        )));
    }
    let Some(mode) = args.mode.relay() else {
        return judge_or_synth(args, text, main).await;
    };
    for (given, option, modes) in [
        (args.run.is_some(), "--run", "judge and synth"),
        (!args.from.is_empty(), "--from", "synth"),
    ] {
        if given {
            return Err(CommandError::usage(format!(
                "{option} is for `session {modes}`, not {}",
                mode.as_str()
            )));
        }
    }
    let Some(text) = text else {
        return Err(CommandError::usage(format!(
            "`session {}` needs the text to send: give TEXT or --stdin",
            mode.as_str()
        )));
    };
    // Everything a detached request needs is checked before anything is made.
    let background = if args.detach {
        Some(Background::ready(&args.session).map_err(|e| {
            CommandError::failure(format!("cannot start the background ocfork: {e}"))
        })?)
    } else {
        None
    };
    let (client, server) = connect(
        args.server.first().map(String::as_str),
        args.opencode.as_deref(),
        main,
    )
    .await?;
    let req = Request {
        mode,
        session: args.session.clone(),
        agent: args.agent.clone(),
        text,
        caller_message: args.caller_message.clone(),
        max_hops: args.max_hops,
        timeout,
        pool: args.server.get(1..).unwrap_or_default().to_vec(),
    };
    let result = run(&client, &req, background).await;
    if let Some(s) = server {
        s.stop().await;
    }
    let outcome = result.map_err(|e| relay_error(e, !args.server.is_empty()))?;
    if args.json {
        super::output::after_work(super::print_json(&outcome))?;
    } else {
        super::output::println_during_change(&outcome.session);
        eprintln!("ocfork: {}", outcome.message);
    }
    Ok(0)
}

/// `session judge` and `session synth`, handed to `session_verdict`.
async fn judge_or_synth(args: SessionArgs, text: Option<String>, main: MainThread) -> CmdResult {
    if args.detach {
        return Err(CommandError::usage(format!(
            "`session {}` answers when done and has no --detach",
            args.mode.name()
        )));
    }
    if args.mode == ModeArg::Judge && !args.from.is_empty() {
        return Err(CommandError::usage(
            "--from is for `session synth`, not judge",
        ));
    }
    let ask = super::session_verdict::Ask {
        synth: args.mode == ModeArg::Synth,
        session: args.session,
        server: args.server.into_iter().next(),
        opencode: args.opencode,
        agent: args.agent,
        run: args.run,
        from: args.from,
        criteria: text.filter(|t| !t.trim().is_empty()),
        json: args.json,
    };
    super::session_verdict::cmd(ask, main).await
}

async fn run(
    client: &Client,
    req: &Request,
    background: Option<Background>,
) -> Result<Outcome, RelayError> {
    let job = match relay::prepare(client, req).await {
        Ok(job) => job,
        Err(RelayError::HopLimit { agent, max, notice }) => {
            if let Some(bg) = background {
                let _ = bg.spawn(&notice);
            } else {
                let _ = relay::finish(client, *notice.clone(), false).await;
            }
            return Err(RelayError::HopLimit { agent, max, notice });
        }
        Err(e) => return Err(e),
    };
    let Some(bg) = background else {
        eprintln!("ocfork: {}", job.outcome.message);
        return relay::finish(client, job, true).await;
    };
    let pid = bg.spawn(&job).map_err(|e| RelayError::Dropped {
        session: job.outcome.from_session.clone(),
        agent: job.outcome.agent.clone(),
        reason: format!("cannot start the background ocfork: {e}"),
    })?;
    if let Some(f) = &job.fork {
        relay::fork_claim(&f.common_dir, f, crate::state::Driver::of(pid))?;
    }
    Ok(job.outcome)
}

/// The client for `--server`, or one for an OpenCode started for this command (on the main
/// thread, `main`).
pub async fn connect(
    url: Option<&str>,
    opencode: Option<&std::path::Path>,
    main: MainThread,
) -> Result<(Client, Option<Server>), CommandError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CommandError::usage(format!("cannot read the current directory: {e}")))?;
    Ok(crate::opencode::connect(url, opencode, &cwd, main).await?)
}

pub(super) fn relay_error(e: RelayError, server_given: bool) -> CommandError {
    if let RelayError::UnknownSession { session, .. } = &e
        && !server_given
    {
        // The server is ocfork's own for this command: only the session id can be wrong.
        return CommandError::usage(format!(
            "no OpenCode session {session} in this directory's OpenCode sessions"
        ))
        .with_hint(
            "`opencode session list` shows the sessions; for a session of a running OpenCode, pass its URL with --server",
        );
    }
    let hint = match &e {
        RelayError::UnknownSession { .. } => {
            Some("`opencode session list` shows the sessions; pass the right --server".to_string())
        }
        RelayError::Api(crate::opencode::ApiError::Connect { .. }) => Some(
            "is `opencode serve` running there? pass the URL of a running one with --server"
                .to_string(),
        ),
        RelayError::Api(crate::opencode::ApiError::Status { status: 401, .. }) => {
            Some("set OPENCODE_SERVER_PASSWORD to the server's password".to_string())
        }
        _ => None,
    };
    let err = CommandError::from(e);
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

/// What starting a background `ocfork __relay` needs, got before anything is made.
struct Background {
    exe: PathBuf,
    log: std::fs::File,
}

impl Background {
    fn ready(session: &str) -> std::io::Result<Background> {
        let exe = std::env::current_exe()?;
        let dir = log_dir();
        crate::private_fs::own_dir(&dir)?;
        // The id is checked against the server later; only its plain characters name the log.
        let name: String = session
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let log = crate::private_fs::append(&dir.join(format!("{name}.log")))?;
        Ok(Background { exe, log })
    }

    /// Starts `ocfork __relay` with the job on its standard input (no argv size limit);
    /// returns its pid.
    fn spawn(self, job: &Job) -> std::io::Result<u32> {
        use std::io::Write;
        use std::os::unix::process::CommandExt;
        let text = serde_json::to_vec(job).map_err(std::io::Error::other)?;
        let mut child = std::process::Command::new(self.exe)
            .arg("__relay")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(self.log)
            .process_group(0)
            .spawn()?;
        let written = match child.stdin.take() {
            Some(mut input) => input.write_all(&text),
            None => Err(std::io::Error::other("no pipe to the background ocfork")),
        };
        if let Err(e) = written {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        Ok(child.id())
    }
}

/// Where background relays log: `$XDG_STATE_HOME/ocfork/relay` (else `~/.local/state/...`).
fn log_dir() -> PathBuf {
    crate::paths::relay_logs()
}

/// `ocfork __relay [JOB]` (hidden): finishes a job a detached `ocfork session` left, read
/// from standard input when not given.
#[derive(Args, Debug)]
pub struct RelayArgs {
    job: Option<String>,
}

pub async fn cmd_relay(args: RelayArgs) -> CmdResult {
    let text = match args.job {
        Some(j) => j,
        None => {
            let mut t = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
                .map_err(|e| CommandError::usage(format!("cannot read the relay job: {e}")))?;
            t
        }
    };
    let job: Job = serde_json::from_str(&text)
        .map_err(|e| CommandError::usage(format!("not a relay job: {e}")))?;
    let password = std::env::var("OPENCODE_SERVER_PASSWORD").ok();
    let client = Client::new(&job.server, password.as_deref())?;
    let started = std::time::Instant::now();
    eprintln!(
        "ocfork: {} {} from {} to {}",
        crate::state::now_rfc3339(),
        job.outcome.mode.as_str(),
        job.outcome.from_session,
        job.outcome.agent
    );
    match relay::finish(&client, job, false).await {
        Ok(o) => {
            eprintln!(
                "ocfork: {} ({})",
                o.message,
                crate::text::duration(started.elapsed())
            );
            Ok(0)
        }
        Err(e) => {
            eprintln!("ocfork: {e}");
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(super::EXIT_FAILURE)
        }
    }
}
