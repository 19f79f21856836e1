//! `ocfork synth`: one more fork of a run, written from the strongest parts of the others,
//! driven like every fork and judged again with them when the run has a verdict; also the
//! `try --synth` step.

use std::collections::HashSet;

use clap::Args;

use super::{CmdResult, CommandError, EXIT_FAILURE, EXIT_INTERRUPTED};
use crate::dispatch::preflight::{Connected, PreflightError, check};
use crate::dispatch::{DriveOptions, drive_with};
use crate::judge;
use crate::opencode::MainThread;
use crate::state::{Fork, ForkState, Run, Store, Synth};
use crate::synth::{DEFAULT_NAME, Pick, SynthError};
use crate::ui::LiveView;

/// Write one more fork from the strongest parts of the others, and judge it with them.
///
/// The new fork (default name `synth`) starts from the run's start commit on its own branch
/// and worktree and goes through setup, its agent's turn, the check and the commit like every
/// fork. Its prompt holds the task and, for each chosen fork, its approach, check result and
/// evidence, the judges' reasons and its patch; it asks for one implementation keeping the
/// strongest parts of each, saying which came from where. When the run has a verdict, the run
/// is judged again once the new fork ended, so `merge --best` may pick it.
#[derive(Args, Debug)]
#[command(
    after_help = "Sources, unless --from or --top says: the forks the verdict ranks in its
first group (check passed, tests intact), at most 3; without a verdict, every finished fork
whose check passed with its tests intact and that changed something. Fewer than two: exit 2.

Examples:
  ocfork judge && ocfork synth && ocfork merge --best
  ocfork synth todo-store --from redux,context -m openai/gpt-5
  ocfork synth --top 2 --criteria \"keep the smaller store\""
)]
pub struct SynthArgs {
    /// The run (default: the latest)
    #[arg(add = super::completions::runs())]
    run: Option<String>,
    /// The forks to combine, e.g. redux,context
    #[arg(
        long,
        value_name = "FORK,...",
        value_delimiter = ',',
        conflicts_with = "top"
    )]
    from: Vec<String>,
    /// The K forks the verdict ranks first
    #[arg(long, value_name = "K")]
    top: Option<usize>,
    /// OpenCode agent of the new fork [default: the first source's]
    #[arg(short, long, value_name = "NAME")]
    agent: Option<String>,
    /// Model as provider/model; repeat for one synthesized fork per model
    #[arg(short, long = "model", value_name = "PROV/MODEL")]
    models: Vec<String>,
    /// Name of the new fork [default: synth]
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// What matters most, added to the prompt (and to the judges' when judged again)
    #[arg(long, value_name = "TEXT")]
    criteria: Option<String>,
    /// Print the run as JSON (schema 1) when it is done
    #[arg(long)]
    json: bool,
}

/// What to synthesize, from the command line, `try --synth` or `session synth`.
pub(super) struct Request {
    pub pick: Pick,
    pub agent: Option<String>,
    pub models: Vec<String>,
    pub name: Option<String>,
    pub criteria: Option<String>,
    /// The OpenCode server to work and judge on (`session synth --server`) instead of the
    /// run's own.
    pub server: Option<String>,
}

pub async fn cmd_synth(args: SynthArgs, main: MainThread) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let run = store.resolve(args.run.as_deref())?;
    let pick = match (args.from.is_empty(), args.top) {
        (false, _) => Pick::From(args.from.iter().map(|f| f.trim().to_string()).collect()),
        (true, Some(k)) if k < 2 => return Err(CommandError::usage("--top must be at least 2")),
        (true, Some(k)) => Pick::Top(k),
        (true, None) => Pick::Default,
    };
    let req = Request {
        pick,
        agent: args.agent,
        models: args.models,
        name: args.name,
        criteria: args.criteria,
        server: None,
    };
    let (run, code) = synthesize(&repo, &store, &run, &req, main).await?;
    if args.json {
        super::output::after_work(super::print_json(&run))?;
    } else {
        super::output::after_work(super::try_cmd::finish(&run, false))?;
        if let Some(v) = &run.judge {
            super::output::after_work(super::output::print(crate::ui::verdict::table(v)))?;
        }
    }
    Ok(code)
}

/// `try --synth`: synthesizes with the defaults and judges again; a refusal or failure is
/// reported on stderr and makes the exit code `EXIT_FAILURE`.
pub async fn after_try(
    repo: &crate::git::Repo,
    store: &Store,
    run: Run,
    code: &mut i32,
    main: MainThread,
) -> Run {
    let req = Request {
        pick: Pick::Default,
        agent: None,
        models: Vec::new(),
        name: None,
        criteria: None,
        server: None,
    };
    match synthesize(repo, store, &run, &req, main).await {
        Ok((run, c)) => {
            *code = (*code).max(c);
            run
        }
        Err(e) => {
            e.report();
            *code = (*code).max(EXIT_FAILURE);
            store.load(&run.run).unwrap_or(run)
        }
    }
}

/// Drives the synthesized forks and judges the run again when it has a verdict. Returns the
/// run as recorded then and the exit code so far. Servers start on the main thread (`main`).
pub(super) async fn synthesize(
    repo: &crate::git::Repo,
    store: &Store,
    run: &Run,
    req: &Request,
    main: MainThread,
) -> Result<(Run, i32), CommandError> {
    for m in &req.models {
        if crate::opencode::types::ModelRef::parse(m).is_none() {
            return Err(CommandError::usage(format!(
                "model `{m}` is not of the form provider/model"
            )));
        }
    }
    if req.agent.as_deref().is_some_and(|a| a.trim().is_empty()) {
        return Err(CommandError::usage("--agent must not be empty"));
    }
    let sources = crate::synth::sources(repo, run, &req.pick).map_err(|e| {
        let hint = match &e {
            SynthError::Unfinished { run, .. } => {
                format!("wait for them with `ocfork wait {run}`")
            }
            SynthError::NoVerdict { run } => {
                format!("run `ocfork judge {run}` first, or name the forks with --from")
            }
            SynthError::UnknownFork { .. } | SynthError::TooFew(_) => {
                "name the forks to combine with --from FORK,FORK".into()
            }
            SynthError::Git(_) => return CommandError::from(e),
        };
        CommandError::usage(e.to_string()).with_hint(hint)
    })?;
    let verdict = run.judge.clone();
    let criteria = req
        .criteria
        .clone()
        .or_else(|| verdict.as_ref().and_then(|v| v.criteria.clone()));
    let text = crate::synth::prompt::synthesis(run.task.as_deref(), criteria.as_deref(), &sources);
    let from: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let agent = req
        .agent
        .clone()
        .or_else(|| {
            from.first()
                .and_then(|n| run.fork(n))
                .map(|f| f.agent.clone())
        })
        .unwrap_or_else(|| "build".into());
    let mut forks = plan(repo, run, req, &text, &agent, &from)?;
    let connected = preflight(repo, run, req.server.as_deref(), &mut forks, main).await?;
    let names: Vec<String> = forks.iter().map(|f| f.name.clone()).collect();
    eprintln!(
        "ocfork: synthesizing {} from {} of run {}",
        names.join(", "),
        from.join(", "),
        run.run
    );
    let added = store.update(
        &run.run,
        || None,
        |r| {
            r.forks.extend(forks);
            r.refresh_state();
        },
    )?;
    let Some(run) = added else {
        return Err(CommandError::failure(format!("run {} vanished", run.run)));
    };
    // With a verdict to judge again, the run's server stays up for the judges.
    let (driven, kept) = drive_with::<LiveView>(
        repo,
        store,
        run,
        DriveOptions {
            forks: names.clone(),
            ..Default::default()
        },
        Some(connected),
        verdict.is_some(),
        main,
    )
    .await?;
    let stop_kept = |kept: Option<(crate::opencode::Client, crate::opencode::Server)>| async {
        if let Some((_, server)) = kept {
            server.stop().await;
        }
    };
    if driven.interrupted {
        stop_kept(kept).await;
        return Ok((driven.run, EXIT_INTERRUPTED));
    }
    let failed = names.iter().any(|n| {
        driven
            .run
            .fork(n)
            .is_none_or(|f| f.state != ForkState::Done)
    });
    let mut code = if failed { EXIT_FAILURE } else { 0 };
    let Some(before) = verdict else {
        stop_kept(kept).await;
        return Ok((driven.run, code));
    };
    let opts = judge::Options {
        agent: before
            .judges
            .first()
            .map_or_else(|| judge::DEFAULT_AGENT.to_string(), |j| j.agent.clone()),
        models: before
            .judges
            .iter()
            .filter_map(|j| j.model.clone())
            .collect(),
        criteria,
    };
    let connected = match (kept, &req.server) {
        (Some((client, server)), _) => Some((client, Some(server))),
        (None, Some(url)) => {
            let (client, _) =
                crate::opencode::connect(Some(url), None, &repo.workdir, main).await?;
            Some((client, None))
        }
        (None, None) => None,
    };
    let run = super::judge::judge_again(repo, store, driven.run, &opts, connected, &mut code, main);
    let run = run.await;
    Ok((run, code))
}

/// The new forks, pending: one per model (one on the agent's model without `-m`), named
/// `--name` or `synth` (with the model's name when several, made unique in the run).
fn plan(
    repo: &crate::git::Repo,
    run: &Run,
    req: &Request,
    text: &str,
    agent: &str,
    from: &[String],
) -> Result<Vec<Fork>, CommandError> {
    if let Some(n) = req.name.as_deref().filter(|n| !crate::names::is_valid(n)) {
        return Err(CommandError::usage(format!(
            "fork name `{n}` is not valid: use 1-40 of a-z, 0-9 and -, starting with a letter or digit"
        )));
    }
    if run.forks.is_empty() {
        return Err(CommandError::usage(format!("run {} has no forks", run.run)));
    }
    // Beside the run's forks here; for a run whose forks all worked on hosts, where this
    // machine keeps the run's worktrees (the synthesis works here).
    let here = (run.forks.iter().filter(|f| f.host.is_none()))
        .find_map(|f| f.worktree.parent().map(std::path::Path::to_path_buf));
    let root = match here {
        Some(root) => root,
        None => crate::config::Config::load(Some(&repo.workdir))?.run_worktree_root(repo, &run.run),
    };
    let root = root.as_path();
    let mut taken: HashSet<String> = run.forks.iter().map(|f| f.name.clone()).collect();
    let models: Vec<Option<&String>> = match req.models.is_empty() {
        true => vec![None],
        false => req.models.iter().map(Some).collect(),
    };
    let base = req.name.as_deref().unwrap_or(DEFAULT_NAME);
    let mut forks = Vec::new();
    for model in &models {
        let wanted = match model {
            Some(m) if models.len() > 1 => {
                let part = m.rsplit('/').next().unwrap_or(m);
                crate::names::slug(&format!("{base}-{part}"), crate::names::MAX_NAME)
            }
            _ => base.to_string(),
        };
        let name = match (&req.name, models.len()) {
            (Some(_), 1) if taken.contains(&wanted) => {
                return Err(CommandError::usage(format!(
                    "run {} already has a fork `{wanted}`",
                    run.run
                ))
                .with_hint("pick another name with --name"));
            }
            _ => crate::names::unique(&wanted, &taken),
        };
        taken.insert(name.clone());
        let fork = Fork {
            model: model.cloned(),
            synth: Some(Synth {
                from: from.to_vec(),
            }),
            ..Fork::pending(&run.run, name, root, text.to_string(), agent.to_string())
        };
        if repo.branch_exists(&fork.branch) || fork.worktree.exists() {
            return Err(CommandError::usage(format!(
                "branch {} or worktree {} already exists",
                fork.branch,
                fork.worktree.display()
            ))
            .with_hint("pick another name with --name"));
        }
        forks.push(fork);
    }
    Ok(forks)
}

/// Asks the run's OpenCode, before anything is recorded or made, which agent and model the
/// new forks will use, as `try` does; a name it does not know is refused.
async fn preflight(
    repo: &crate::git::Repo,
    run: &Run,
    server: Option<&str>,
    forks: &mut Vec<Fork>,
    main: MainThread,
) -> Result<Connected, CommandError> {
    let mut probe = run.clone();
    probe.forks = std::mem::take(forks);
    if let Some(url) = server {
        probe.server = Some(url.to_string());
    }
    let checked = check(repo, &mut probe, main).await;
    *forks = probe.forks;
    let checked = checked.map_err(|e| match e {
        PreflightError::Offer(e) => CommandError::usage(e.to_string())
            .with_hint("pass an agent (-a) and a model (-m) OpenCode offers here"),
        PreflightError::Api(e) => CommandError::failure(e.to_string()),
        PreflightError::Start(e) => CommandError::from(e),
    })?;
    // The synthesized forks work here: a server is connected for them.
    checked.ok_or_else(|| CommandError::failure("no OpenCode server for the synthesized forks"))
}
