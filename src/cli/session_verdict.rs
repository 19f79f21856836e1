//! `ocfork session judge` and `ocfork session synth`: the `session` tool asking for the verdict
//! or a synthesis of the forks a session made, on the session's server. Both answer when done
//! (a synthesis once its fork ended and the run was judged again), so the agent reads the
//! outcome in the tool's result; their refusals are `ocfork judge`'s and `ocfork synth`'s.
//!
//! `--json` prints one object (the plugin returns its `message`):
//!
//! | Field | Type | Meaning |
//! |---|---|---|
//! | `mode` | string | `judge` or `synth` |
//! | `session` | string | the session that asked |
//! | `run` | string | the run judged, or synthesized from |
//! | `ranking?` | array | the verdict, best first, as `ocfork judge --json` prints it (judge; synth when the run was judged again) |
//! | `ranking[].fork` | string | the fork |
//! | `ranking[].rank` | number | its place, 1 for the best |
//! | `ranking[].group` | string | `passed` (`unchecked` without a check), `weakened`, `failed` or `empty` |
//! | `ranking[].check` | string | `passed`, `failed` or `none` |
//! | `ranking[].tests_weakened` | bool | it deleted or cut down a test file |
//! | `ranking[].empty` | bool | it changed nothing |
//! | `ranking[].consensus` | number | how much of its change other forks made too, 0 to 1 |
//! | `ranking[].reason` | string or null | the judges' reason |
//! | `judges?` | array | one per judge session, with `ranking` |
//! | `judges[].model` | string or null | its model (null: the agent's default) |
//! | `judges[].agent` | string | its agent |
//! | `judges[].session` | string | its OpenCode session |
//! | `judges[].ranking` | array of strings or null | its own order (null: no usable reply) |
//! | `judges[].tokens` | object or null | tokens it used |
//! | `judges[].tokens.input` | number | input tokens |
//! | `judges[].tokens.output` | number | output tokens |
//! | `judges[].cost` | number or null | its cost |
//! | `fork?` | string | synth: the synthesized fork |
//! | `branch?` | string | synth: its branch |
//! | `worktree?` | string | synth: its worktree |
//! | `state?` | string | synth: how it ended (`done`, `failed`, `timeout`, ...) |
//! | `commit?` | string or null | synth: the commit its work is on |
//! | `from?` | array of strings | synth: the forks it was written from |
//! | `message` | string | the outcome in words, for the agent: the ranking table, or the new fork, where its work is and the ranking after it |

use std::path::PathBuf;

use serde::Serialize;

use super::judge::{VerdictJson, judge_run, verdict_json};
use super::{CmdResult, CommandError, EXIT_FAILURE};
use crate::judge::{self, Verdict};
use crate::opencode::MainThread;
use crate::state::{Fork, ForkState, Run, Store};
use crate::synth::Pick;

/// A `session judge` or `session synth` request.
pub struct Ask {
    pub synth: bool,
    pub session: String,
    pub server: Option<String>,
    pub opencode: Option<PathBuf>,
    /// The judges' agent, or the synthesizing one.
    pub agent: Option<String>,
    pub run: Option<String>,
    pub from: Vec<String>,
    pub criteria: Option<String>,
    pub json: bool,
}

#[derive(Serialize)]
struct AskJson<'a> {
    mode: &'static str,
    session: &'a str,
    run: &'a str,
    #[serde(flatten)]
    made: Option<MadeJson<'a>>,
    #[serde(flatten)]
    verdict: Option<VerdictJson<'a>>,
    message: String,
}

#[derive(Serialize)]
struct MadeJson<'a> {
    fork: &'a str,
    branch: &'a str,
    worktree: &'a std::path::Path,
    state: &'a str,
    commit: Option<&'a str>,
    from: &'a [String],
}

pub async fn cmd(ask: Ask, main: MainThread) -> CmdResult {
    let (url, bin) = (ask.server.as_deref(), ask.opencode.as_deref());
    let (client, server) = super::session::connect(url, bin, main).await?;
    let found = async {
        let dir = crate::relay::session_directory(&client, &ask.session)
            .await
            .map_err(|e| super::session::relay_error(e, ask.server.is_some()))?;
        let repo = crate::git::Repo::discover(&dir)?;
        let store = Store::new(&repo.common_dir);
        let run = match (
            &ask.run,
            crate::relay::fork_latest_run(&store, &ask.session),
        ) {
            (Some(name), _) => store.resolve(Some(name))?,
            (None, Some(run)) => run,
            (None, None) => store.latest()?,
        };
        Ok::<_, CommandError>((repo, store, run))
    }
    .await;
    let (repo, store, run) = match found {
        Ok(found) => found,
        Err(e) => {
            if let Some(s) = server {
                s.stop().await;
            }
            return Err(e);
        }
    };
    if !ask.synth {
        let opts = judge::Options {
            agent: ask
                .agent
                .clone()
                .unwrap_or_else(|| judge::DEFAULT_AGENT.to_string()),
            models: Vec::new(),
            criteria: ask.criteria.clone(),
        };
        let verdict = judge_run(&repo, &store, &run, &opts, Some((client, server)), main).await?;
        let message = judged(&run, &verdict);
        return answer(&ask, &run.run, None, Some(&verdict), message).map(|()| 0);
    }
    // The synthesis connects again, to the run's server or to --server.
    if let Some(s) = server {
        s.stop().await;
    }
    let req = super::synth::Request {
        pick: match ask.from.is_empty() {
            true => Pick::Default,
            false => Pick::From(ask.from.iter().map(|f| f.trim().to_string()).collect()),
        },
        agent: ask.agent.clone(),
        models: Vec::new(),
        name: None,
        criteria: ask.criteria.clone(),
        server: ask.server.clone(),
    };
    let (after, code) = super::synth::synthesize(&repo, &store, &run, &req, main).await?;
    let Some(made) = after.forks.iter().find(|f| run.fork(&f.name).is_none()) else {
        return Err(CommandError::failure(format!(
            "run {} has no synthesized fork after the synthesis",
            run.run
        )));
    };
    // Judged again only when the run had a verdict, and then only when that worked.
    let verdict = after
        .judge
        .as_ref()
        .filter(|v| run.judge.is_some() && v.ranking.as_ref().is_some_and(|r| ranks(r, made)));
    let message = synthesized(&after, made, verdict);
    let first_line = message.lines().next().unwrap_or_default().to_string();
    let from = made.synth.as_ref().map_or(&[][..], |s| &s.from[..]);
    let json = MadeJson {
        fork: &made.name,
        branch: &made.branch,
        worktree: &made.worktree,
        state: made.state.as_str(),
        commit: made.commit.as_deref(),
        from,
    };
    answer(&ask, &run.run, Some(json), verdict, message)?;
    if made.state != ForkState::Done {
        // The tool's error: what the agent reads when ocfork fails.
        eprintln!("error: {}", crate::text::escape_controls(&first_line));
        return Ok(code.max(EXIT_FAILURE));
    }
    Ok(code)
}

fn ranks(ranking: &[crate::state::verdict::Ranked], fork: &Fork) -> bool {
    ranking.iter().any(|r| r.fork == fork.name)
}

/// Prints the outcome: the JSON object, or the message.
fn answer(
    ask: &Ask,
    run: &str,
    made: Option<MadeJson<'_>>,
    verdict: Option<&Verdict>,
    message: String,
) -> Result<(), CommandError> {
    if !ask.json {
        return super::output::after_work(super::output::print(message));
    }
    let json = AskJson {
        mode: if ask.synth { "synth" } else { "judge" },
        session: &ask.session,
        run,
        made,
        verdict: verdict.map(verdict_json),
        message,
    };
    super::output::after_work(super::print_json(&json))
}

/// The verdict in words: the best fork, the table, and how to merge it.
fn judged(run: &Run, v: &Verdict) -> String {
    let mut out = format!("Run {} judged.\n", run.run);
    out.push_str(&crate::ui::verdict::summary(v));
    out.push_str(&crate::ui::verdict::table(v));
    if let Some(best) = v.best().and_then(|b| run.fork(b)) {
        out.push_str(&format!(
            "The best fork's work is on {}; `ocfork merge --best {}` merges it.\n",
            best.branch, run.run
        ));
    }
    out
}

/// The synthesized fork in words: where its work is, and the ranking when judged again.
fn synthesized(run: &Run, made: &Fork, verdict: Option<&Verdict>) -> String {
    let from = made
        .synth
        .as_ref()
        .map_or(String::new(), |s| s.from.join(", "));
    let mut out = match (made.state, made.commit.as_deref()) {
        (ForkState::Done, Some(commit)) => format!(
            "Synthesized fork {}/{} from {from}: its work is committed on {} ({}) in {}.\n",
            run.run,
            made.name,
            made.branch,
            crate::git::short_id(commit),
            made.worktree.display()
        ),
        (state, _) => format!(
            "Synthesized fork {}/{} from {from} ended {}{}; what it wrote is on {}.\n",
            run.run,
            made.name,
            state.as_str(),
            made.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default(),
            made.branch
        ),
    };
    match verdict {
        Some(v) => {
            out.push_str(&format!("Run {} judged again.\n", run.run));
            out.push_str(&crate::ui::verdict::summary(v));
            out.push_str(&crate::ui::verdict::table(v));
        }
        None => out.push_str(&format!(
            "`ocfork diff {}` compares it with the others; `ocfork merge {}/{}` merges it.\n",
            run.run, run.run, made.name
        )),
    }
    out
}
