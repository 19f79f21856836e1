//! `ocfork judge`: rank the finished forks of a run, tests first, then OpenCode reviewers, and
//! keep the verdict in the run; also the `try --judge` step.

use clap::Args;
use serde::Serialize;

use super::{CmdResult, CommandError, EXIT_FAILURE};
use crate::judge::{self, Outcome, Verdict};
use crate::opencode::MainThread;
use crate::state::{Run, Store};

/// Rank the finished forks: check, weakened tests, empty, then OpenCode reviewers.
///
/// Every finished fork gets evidence computed without a model (check result, whether it
/// deleted or cut down a test file, whether it changed anything, its size and its similarity
/// to the others). Then one OpenCode session per model reviews all forks in a scratch
/// worktree at the run's start commit and ranks them. Forks whose check passed with their
/// tests intact come first, then those that weakened tests, then failed checks, then empty
/// forks; within a group, the judges' combined order. Nothing in the repository is changed.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  ocfork judge                          judge the latest run with the default model
  ocfork judge todo-store -m openai/gpt-5 -m anthropic/claude-sonnet-4
  ocfork judge --criteria \"prefer the smallest change\" --json
  ocfork merge --best                   then merge the fork ranked first")]
pub struct JudgeArgs {
    /// The run (default: the latest)
    run: Option<String>,
    /// OpenCode agent the judges run as (read-only by default)
    #[arg(short, long, value_name = "NAME", default_value = judge::DEFAULT_AGENT)]
    agent: String,
    /// Judge model as provider/model; repeat for several judges
    #[arg(short, long = "model", value_name = "PROV/MODEL")]
    models: Vec<String>,
    /// What matters most, added to the judges' prompt
    #[arg(long, value_name = "TEXT")]
    criteria: Option<String>,
    /// Print the verdict as JSON
    #[arg(long)]
    json: bool,
}

/// `judge --json`, as documented in CLI.md.
#[derive(Serialize)]
struct JudgeJson<'a> {
    run: &'a str,
    #[serde(flatten)]
    verdict: VerdictJson<'a>,
}

/// The verdict in `judge --json` (and `session judge --json`, `session synth --json`).
#[derive(Serialize)]
pub(super) struct VerdictJson<'a> {
    ranking: Vec<RankedJson<'a>>,
    judges: Vec<JudgeEntry<'a>>,
}

#[derive(Serialize)]
struct RankedJson<'a> {
    fork: &'a str,
    rank: usize,
    group: &'a str,
    check: &'a str,
    tests_weakened: bool,
    empty: bool,
    consensus: f64,
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct JudgeEntry<'a> {
    model: Option<&'a str>,
    agent: &'a str,
    session: &'a str,
    ranking: Option<&'a [String]>,
    tokens: Option<&'a crate::state::Tokens>,
    cost: Option<f64>,
}

pub async fn cmd_judge(args: JudgeArgs, main: MainThread) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let run = store.resolve(args.run.as_deref())?;
    let opts = judge::Options {
        agent: args.agent.clone(),
        models: args.models.clone(),
        criteria: args.criteria.clone(),
    };
    let verdict = judge_run(&repo, &store, &run, &opts, None, main).await?;
    if args.json {
        super::print_json(&as_json(&run.run, &verdict))?;
    } else {
        super::output::print(crate::ui::verdict::table(&verdict))?;
    }
    Ok(0)
}

/// Checks the input, judges, and turns an unusable reply into the error the user sees.
pub(super) async fn judge_run(
    repo: &crate::git::Repo,
    store: &Store,
    run: &Run,
    opts: &judge::Options,
    connected: Option<(crate::opencode::Client, Option<crate::opencode::Server>)>,
    main: MainThread,
) -> Result<Verdict, CommandError> {
    for m in &opts.models {
        if crate::opencode::types::ModelRef::parse(m).is_none() {
            return Err(CommandError::usage(format!(
                "model `{m}` is not of the form provider/model"
            )));
        }
    }
    if opts.agent.trim().is_empty() {
        return Err(CommandError::usage("--agent must not be empty"));
    }
    let unfinished = run.unfinished();
    if !unfinished.is_empty() {
        return Err(CommandError::usage(format!(
            "run {} has forks still working: {}",
            run.run,
            unfinished.join(", ")
        ))
        .with_hint(format!("wait for them with `ocfork wait {}`", run.run)));
    }
    eprintln!(
        "ocfork: judging {} fork{} of run {}",
        run.forks.len(),
        if run.forks.len() == 1 { "" } else { "s" },
        run.run
    );
    let outcome = judge::judge_on(repo, store, run, opts, connected, main).await?;
    match outcome {
        Outcome::Ranked(v) => Ok(v),
        Outcome::Unusable {
            session,
            problem,
            reply,
            ..
        } => Err(CommandError::failure(format!(
            "judge session {session} gave no usable ranking, also after a follow-up: {problem}\n  its reply began: {:?}\nthe evidence is recorded in the run, without a ranking",
            reply
        ))
        .with_hint("run `ocfork judge` again, perhaps with another model (-m)")),
        Outcome::Interrupted(_) => Err(CommandError::new(
            super::ErrorKind::Interrupted,
            anyhow::anyhow!("judging was interrupted; the evidence is recorded"),
        )),
    }
}

fn as_json<'a>(run: &'a str, v: &'a Verdict) -> JudgeJson<'a> {
    JudgeJson {
        run,
        verdict: verdict_json(v),
    }
}

/// The ranking (best first, with each fork's evidence and reason) and the judges.
pub(super) fn verdict_json(v: &Verdict) -> VerdictJson<'_> {
    let ranking = v
        .ranking
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let e = v.evidence_of(&r.fork)?;
            Some(RankedJson {
                fork: &r.fork,
                rank: r.rank,
                group: &r.group,
                check: &e.check,
                tests_weakened: e.tests_weakened,
                empty: e.empty,
                consensus: e.consensus,
                reason: r.reason.as_deref(),
            })
        })
        .collect();
    VerdictJson {
        ranking,
        judges: v
            .judges
            .iter()
            .map(|j| JudgeEntry {
                model: j.model.as_deref(),
                agent: &j.agent,
                session: &j.session,
                ranking: j.ranking.as_deref(),
                tokens: j.tokens.as_ref(),
                cost: j.cost,
            })
            .collect(),
    }
}

/// `try --judge`: judges the run that just ended, on the server it ran on when ocfork started
/// that one (`kept`, stopped at the end), and returns it as recorded then; a failure is
/// reported on stderr and makes the exit code `EXIT_FAILURE`.
pub async fn after_try(
    repo: &crate::git::Repo,
    store: &Store,
    run: Run,
    kept: Option<(crate::opencode::Client, crate::opencode::Server)>,
    code: &mut i32,
    main: MainThread,
) -> Run {
    let opts = judge::Options {
        agent: judge::DEFAULT_AGENT.to_string(),
        models: Vec::new(),
        criteria: None,
    };
    let connected = kept.map(|(client, server)| (client, Some(server)));
    judge_again(repo, store, run, &opts, connected, code, main).await
}

/// Judges `run` with `opts` (`try --judge`, and `synth` once its fork ended), on `connected`
/// when given; a failure is reported on stderr and makes the exit code `EXIT_FAILURE`.
/// Returns the run as recorded then.
pub async fn judge_again(
    repo: &crate::git::Repo,
    store: &Store,
    run: Run,
    opts: &judge::Options,
    connected: Option<(crate::opencode::Client, Option<crate::opencode::Server>)>,
    code: &mut i32,
    main: MainThread,
) -> Run {
    if let Err(e) = judge_run(repo, store, &run, opts, connected, main).await {
        eprintln!("error: {}", e.error);
        for h in &e.hints {
            eprintln!("hint: {h}");
        }
        *code = (*code).max(EXIT_FAILURE);
    }
    store.load(&run.run).unwrap_or(run)
}

/// `merge --best`: `RUN/FORK` of the fork the verdict of `run` (default: the latest) ranks
/// first; a usage error saying to run `ocfork judge` when there is no verdict.
pub fn best_ref(store: &Store, run: Option<&str>) -> Result<String, CommandError> {
    let run = store.resolve(run)?;
    if let Some(v) = run.judge.as_ref().filter(|v| !v.stale.is_empty()) {
        return Err(CommandError::usage(format!(
            "the verdict of run {} is stale: `continue` changed {} after it",
            run.run,
            v.stale.join(", ")
        ))
        .with_hint(format!(
            "run `ocfork judge {}` again, or name the fork: `ocfork merge {}/FORK`",
            run.run, run.run
        )));
    }
    match run.judge.as_ref().and_then(Verdict::best) {
        Some(best) => Ok(format!("{}/{best}", run.run)),
        None => Err(CommandError::usage(format!(
            "run {} has no verdict to pick the best fork from",
            run.run
        ))
        .with_hint(format!(
            "run `ocfork judge {}` first, or name the fork: `ocfork merge {}/FORK`",
            run.run, run.run
        ))),
    }
}
