//! `ocfork judge`'s work: gather the evidence of every finished fork, have one OpenCode session
//! per judge model review them in a scratch worktree at the run's start commit, combine the
//! rankings, and keep the verdict in the run. Nothing of the user's is changed: the scratch
//! worktree goes away afterwards and no branch is touched.

pub mod evidence;
pub mod prompt;
pub mod verdict;

mod error;
mod scratch;

use std::path::Path;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use crate::state::verdict::{Judge, Ranked, Verdict};
pub use error::JudgeError;
pub use evidence::{Evidence, Group, is_test_file};

use crate::compare;
use crate::git::{self, Repo};
use crate::opencode::types::{ModelRef, PromptBody};
use crate::opencode::{Client, EventHub, MainThread};
use crate::opencode::{TurnEnd, TurnWatch, follow_turn};
use crate::state::{Run, Store, Tokens};
use scratch::Scratch;

/// The read-only agent judges run as unless `-a` names another.
pub const DEFAULT_AGENT: &str = "plan";
/// How long one judge may take when the run records no time limit.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How much of a bad reply the error shows.
const REPLY_SHOWN: usize = 200;

/// What the user asked of the judges.
#[derive(Clone, Debug)]
pub struct Options {
    pub agent: String,
    /// `provider/model` per judge; empty means one judge on the server's default model.
    pub models: Vec<String>,
    pub criteria: Option<String>,
}

/// How judging ended.
pub enum Outcome {
    Ranked(Verdict),
    /// A judge never gave a usable reply; the verdict holds the evidence but no ranking.
    Unusable {
        verdict: Verdict,
        session: String,
        problem: String,
        reply: String,
    },
    Interrupted(Verdict),
}

/// Judges the finished forks of `run` and records the verdict in it. A server it starts is
/// started on the main thread (`main`; see [`MainThread`]).
pub async fn judge(
    repo: &Repo,
    store: &Store,
    run: &Run,
    opts: &Options,
    main: MainThread,
) -> Result<Outcome, JudgeError> {
    judge_on(repo, store, run, opts, None, main).await
}

/// [`judge`] on a server already running (the one `try --judge` drove the run on), stopped
/// at the end when ocfork started it; else on the run's server or a new one.
pub async fn judge_on(
    repo: &Repo,
    store: &Store,
    run: &Run,
    opts: &Options,
    connected: Option<(Client, Option<crate::opencode::Server>)>,
    main: MainThread,
) -> Result<Outcome, JudgeError> {
    let forks: Vec<&crate::state::Fork> =
        run.forks.iter().filter(|f| f.state.is_finished()).collect();
    let owned: Vec<crate::state::Fork> = forks.iter().map(|f| (*f).clone()).collect();
    let named: Vec<(String, Option<String>)> = owned
        .iter()
        .map(|f| f.name.clone())
        .zip(crate::compare::fork_tips(repo, &owned))
        .collect();
    let changes = compare::changes(repo, &run.start, &named)?;
    let evidence = evidence::gather(run, &changes);
    let patches = patches(repo, &run.start, &changes)?;
    let approaches: Vec<_> = forks.iter().map(|f| f.approach(run)).collect();
    let sections: Vec<prompt::ForkSection<'_>> = forks
        .iter()
        .zip(&evidence)
        .zip(&patches)
        .zip(&approaches)
        .map(|(((f, e), p), a)| prompt::ForkSection {
            name: &f.name,
            approach: a,
            evidence: e,
            patch: p,
        })
        .collect();
    let text = prompt::review(run.task.as_deref(), opts.criteria.as_deref(), &sections);
    let names: Vec<String> = forks.iter().map(|f| f.name.clone()).collect();

    let scratch = Scratch::new(repo, run)?;
    let connected = match connected {
        Some(c) => Ok(c),
        None => crate::dispatch::connect_run(repo, run, main).await,
    };
    let judged = match connected {
        Ok(c) => review(run, opts, scratch.path(), &text, &names, c).await,
        Err(e) => Err(e.into()),
    };
    scratch.remove();
    let (judges, failure, interrupted) = judged?;

    let checked = run.check_command.is_some();
    let mut verdict = Verdict {
        judged_at: crate::state::now_rfc3339(),
        start: run.start.clone(),
        criteria: opts.criteria.clone(),
        ranking: None,
        evidence,
        judges,
        stale: Vec::new(),
    };
    if failure.is_none() && !interrupted {
        verdict.ranking = Some(verdict::order(&verdict.evidence, &verdict.judges, checked));
    }
    let kept = verdict.clone();
    store.update(&run.run, || None, |r| r.judge = Some(kept))?;
    Ok(match (failure, interrupted) {
        (_, true) => Outcome::Interrupted(verdict),
        (Some((session, problem, reply)), _) => Outcome::Unusable {
            verdict,
            session,
            problem,
            reply,
        },
        (None, false) => Outcome::Ranked(verdict),
    })
}

/// Each fork's patch against `start` (empty for a fork that changed nothing).
pub fn patches(
    repo: &Repo,
    start: &str,
    changes: &[compare::ForkChanges],
) -> Result<Vec<String>, git::GitError> {
    let mut out = Vec::new();
    for c in changes {
        out.push(match (&c.commit, c.files.is_empty()) {
            (Some(commit), false) => patch(repo, start, commit)?,
            _ => String::new(),
        });
    }
    Ok(out)
}

/// The patch of a fork against the start commit, as plain `git diff` text.
fn patch(repo: &Repo, start: &str, commit: &str) -> Result<String, git::GitError> {
    let out = repo.git([
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "-M",
        start,
        commit,
        "--",
    ])?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The judges, and the first unusable reply (session, problem, start of the reply).
type Reviewed = (Vec<Judge>, Option<(String, String, String)>, bool);

/// The judges' sessions in `dir` on the server `connected` (stopped at the end when ocfork
/// started it).
async fn review(
    run: &Run,
    opts: &Options,
    dir: &Path,
    text: &str,
    names: &[String],
    (client, server): (Client, Option<crate::opencode::Server>),
) -> Result<Reviewed, JudgeError> {
    let result = async {
        let agents = crate::opencode::offer::Agents::read(&client, dir).await?;
        if agents.get(&opts.agent).is_err() {
            return Err(JudgeError::UnknownAgent {
                agent: opts.agent.clone(),
                known: agents.names().join(", "),
            });
        }
        let stop = CancellationToken::new();
        let hub = EventHub::start(client.clone(), stop.clone());
        let cancel = crate::signal::cancel_on_signal();
        let deadline = tokio::time::Instant::now()
            + run
                .timeout_ms
                .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        let models: Vec<Option<&str>> = if opts.models.is_empty() {
            vec![None]
        } else {
            opts.models.iter().map(|m| Some(m.as_str())).collect()
        };
        let ctx = Ctx {
            client: &client,
            hub: &hub,
            dir,
            agent: &opts.agent,
            run: &run.run,
            names,
            deadline,
            cancel: cancel.clone(),
        };
        let done = join_all(models.iter().map(|m| one_judge(&ctx, *m, text))).await;
        stop.cancel();
        let mut judges = Vec::new();
        let mut failure = None;
        for (judge, problem) in done {
            if let (Some((p, reply)), None) = (problem, &failure) {
                failure = Some((judge.session.clone(), p, reply));
            }
            judges.push(judge);
        }
        Ok::<_, JudgeError>((judges, failure, cancel.is_cancelled()))
    }
    .await;
    if let Some(s) = server {
        s.stop().await;
    }
    result
}

struct Ctx<'a> {
    client: &'a Client,
    hub: &'a EventHub,
    dir: &'a Path,
    agent: &'a str,
    run: &'a str,
    names: &'a [String],
    deadline: tokio::time::Instant,
    cancel: CancellationToken,
}

/// One judge's session: the review prompt, one follow-up when the reply is unusable. Returns
/// the judge and, when it gave no usable reply, what was wrong and the start of its reply.
async fn one_judge(
    ctx: &Ctx<'_>,
    model: Option<&str>,
    text: &str,
) -> (Judge, Option<(String, String)>) {
    let mut judge = Judge {
        model: model.map(str::to_string),
        agent: ctx.agent.to_string(),
        session: String::new(),
        ranking: None,
        reasons: Default::default(),
        tokens: None,
        cost: None,
        error: None,
    };
    let session = match ctx
        .client
        .create_session(ctx.dir, &format!("ocfork judge {}", ctx.run))
        .await
    {
        Ok(s) => s.id,
        Err(e) => {
            judge.error = Some(e.to_string());
            return (judge, Some((e.to_string(), String::new())));
        }
    };
    judge.session = session.clone();
    let mut prompt = text.to_string();
    let mut outcome = None;
    for attempt in 0..2 {
        let reply = match turn(ctx, &session, model, &prompt).await {
            Ok(r) => r,
            Err(e) => {
                outcome = Some((e, String::new()));
                break;
            }
        };
        match verdict::parse(&reply, ctx.names) {
            Ok((ranking, reasons)) => {
                judge.ranking = Some(ranking);
                judge.reasons = reasons;
                outcome = None;
                break;
            }
            Err(problem) => {
                let shown: String = reply.chars().take(REPLY_SHOWN).collect();
                if attempt == 0 {
                    prompt = prompt::follow_up(&problem, ctx.names.iter().map(String::as_str));
                }
                outcome = Some((problem, shown));
            }
        }
    }
    usage(ctx, &session, &mut judge).await;
    judge.error = outcome.as_ref().map(|(p, _)| p.clone());
    (judge, outcome)
}

/// Sends one prompt and waits for the answer; returns the text of the last assistant message.
async fn turn(
    ctx: &Ctx<'_>,
    session: &str,
    model: Option<&str>,
    text: &str,
) -> Result<String, String> {
    let before = ctx
        .client
        .messages(session, ctx.dir)
        .await
        .map_err(|e| e.to_string())?
        .len();
    let events = ctx.hub.subscribe();
    ctx.hub
        .wait_connected(crate::timeouts::get().hub_connect)
        .await;
    let body = PromptBody::text(Some(ctx.agent), model.and_then(ModelRef::parse), text);
    ctx.client
        .prompt_async(session, ctx.dir, &body)
        .await
        .map_err(|e| e.to_string())?;
    let watch = TurnWatch {
        client: ctx.client,
        events,
        session,
        directory: ctx.dir,
        before,
        deadline: ctx.deadline,
        cancel: ctx.cancel.clone(),
        server_exit: None,
    };
    match follow_turn(watch, |_| {}).await {
        TurnEnd::Done => {}
        TurnEnd::Failed(e) => return Err(format!("the judge failed: {e}")),
        TurnEnd::Timeout => return Err("the judge timed out".into()),
        TurnEnd::Cancelled => return Err("interrupted".into()),
        TurnEnd::ServerExited(s) => return Err(format!("the OpenCode server exited ({s})")),
    }
    let messages = ctx
        .client
        .messages(session, ctx.dir)
        .await
        .map_err(|e| e.to_string())?;
    let last = messages
        .iter()
        .skip(before)
        .rev()
        .find(|m| m.info.role == "assistant");
    Ok(last.map(text_of).unwrap_or_default())
}

/// The texts of a message's text parts, joined.
fn text_of(m: &crate::opencode::types::Message) -> String {
    m.parts
        .iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Records the session's tokens and cost, and the model it answered with when none was named.
async fn usage(ctx: &Ctx<'_>, session: &str, judge: &mut Judge) {
    let Some(used) = crate::opencode::turn::usage(ctx.client, session, ctx.dir).await else {
        return;
    };
    if judge.model.is_none() {
        judge.model = used.model;
    }
    judge.tokens = Some(Tokens {
        input: used.input,
        output: used.output,
    });
    judge.cost = Some(used.cost);
}
