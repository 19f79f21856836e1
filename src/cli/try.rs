//! `ocfork try`: record a run of forks, one per approach (x model), and drive it to the end,
//! or hand it to a background driver with `--detach`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{CmdResult, CommandError, EXIT_INTERRUPTED};
use crate::dispatch::preflight::Connected;
use crate::dispatch::{DriveOptions, drive_with};
use crate::names;
use crate::opencode::offer::OfferError;
use crate::state::{Fork, Run, RunState, SCHEMA, Store};
use crate::ui::LiveView;

/// `--agent` when neither the flag nor a config file names one.
const DEFAULT_AGENT: &str = "build";
/// `--timeout` when neither the flag nor a config file sets one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Fork one task into several approaches, each an OpenCode session in its own worktree.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ocfork try -t \"Add a todo store in src/\" \"redux=Use Redux\" \"context=Use the Context API\""
)]
pub struct TryArgs {
    /// Approaches: "prompt text" or "name=prompt text"
    #[arg(required = true, value_name = "APPROACH")]
    approaches: Vec<String>,
    /// Shared task; each fork's prompt is the task plus its approach
    #[arg(short = 't', long = "task", value_name = "TEXT")]
    task: Option<String>,
    /// Read the shared task from a file
    #[arg(long, value_name = "PATH", conflicts_with = "task")]
    task_file: Option<PathBuf>,
    /// OpenCode agent for every fork [default: build]
    #[arg(short, long, value_name = "NAME")]
    agent: Option<String>,
    /// Model as provider/model; repeat to try every approach with every model
    #[arg(short, long = "model", value_name = "PROV/MODEL")]
    models: Vec<String>,
    /// Commit the forks start from
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    base: String,
    /// Copy the main tree's uncommitted and untracked changes into every fork
    #[arg(long)]
    include_dirty: bool,
    /// Name of the run
    #[arg(short = 'n', long = "name", value_name = "RUN")]
    name: Option<String>,
    /// Forks prompting at once (default: all)
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    jobs: Option<usize>,
    /// Command run in each worktree before prompting (e.g. "npm ci")
    #[arg(long, value_name = "CMD")]
    setup: Option<String>,
    /// Command run in each worktree after its agent finished (e.g. "cargo test")
    #[arg(long, value_name = "CMD")]
    check: Option<String>,
    /// Time limit per fork (e.g. 30m, 90s) [default: 30m]
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Copy ignored files matching GLOB (gitignore syntax) from the main tree into each fork,
    /// as `.worktreeinclude` does; repeatable
    #[arg(long = "copy", value_name = "GLOB")]
    copy: Vec<String>,
    /// Use a running `opencode serve` (password from OPENCODE_SERVER_PASSWORD)
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The opencode binary (else $OCFORK_OPENCODE, else `opencode` on PATH)
    #[arg(long, value_name = "PATH")]
    opencode: Option<PathBuf>,
    /// Return once every fork is dispatched; `ocfork wait` picks it up
    #[arg(long)]
    detach: bool,
    /// Print the run as JSON on stdout when it ends
    #[arg(long)]
    json: bool,
    /// Judge the forks (`ocfork judge`) once every fork has finished (config key `judge`)
    #[arg(long)]
    judge: bool,
}

pub async fn cmd_try(args: TryArgs) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let mut run = plan(&args, &repo, &store)?;
    let connected = preflight(&repo, &mut run, &args).await?;
    store.create(&run).map_err(|e| {
        CommandError::from(e)
            .with_hint("pick another name with -n, or look at it with `ocfork status`")
    })?;
    if args.detach {
        // The background driver connects on its own.
        let stopping = tokio::spawn(async move {
            if let (_, Some(server)) = connected {
                server.stop().await;
            }
        });
        let detached = detach(&repo, &store, run, args.json).await;
        let _ = stopping.await;
        return detached;
    }
    let driven = drive_with::<LiveView>(
        &repo,
        &store,
        run,
        DriveOptions { forks: Vec::new() },
        Some(connected),
    )
    .await?;
    let mut code = super::run_exit_code(&driven.run);
    let judge = args.judge
        || crate::config::Config::load(Some(&repo.workdir))?
            .layer
            .judge
            .is_some_and(|j| j.value);
    let run = match judge && !driven.interrupted {
        true => super::judge::after_try(&repo, &store, driven.run, &mut code).await,
        false => driven.run,
    };
    super::output::after_work(finish(&run, args.json))?;
    if let Some(line) = failed_checks(&run) {
        eprintln!("ocfork: {line}");
    }
    if driven.interrupted {
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(code)
}

/// Says that uncommitted changes in the main tree stay out of the forks.
fn warn_dirty(repo: &crate::git::Repo) {
    let Ok(dirty) = repo.dirty_paths() else {
        return;
    };
    if !dirty.is_empty() {
        eprintln!(
            "ocfork: warning: the main tree has uncommitted changes ({} file{}); they do not reach the forks unless you pass --include-dirty",
            dirty.len(),
            if dirty.len() == 1 { "" } else { "s" }
        );
    }
}

/// "the check `CMD` failed in 1 of 2 forks: b (exit 3)", when any check failed.
fn failed_checks(run: &Run) -> Option<String> {
    let failed: Vec<String> = run
        .forks
        .iter()
        .filter_map(|f| {
            let c = f.check.as_ref().filter(|c| c.exit_code != Some(0))?;
            Some(match c.exit_code {
                Some(code) => format!("{} (exit {code})", f.name),
                None => format!("{} (did not finish)", f.name),
            })
        })
        .collect();
    let command = run
        .forks
        .iter()
        .find_map(|f| f.check.as_ref())?
        .command
        .clone();
    (!failed.is_empty()).then(|| {
        format!(
            "the check `{command}` failed in {} of {} fork{}: {}",
            failed.len(),
            run.forks.len(),
            if run.forks.len() == 1 { "" } else { "s" },
            failed.join(", ")
        )
    })
}

/// Asks the server, before anything is recorded or made, which agent and model every fork
/// will use (refusing names it does not know), and warns about OpenCode config the forks
/// will not get. A typo in `--server` or its password leaves nothing behind either.
async fn preflight(
    repo: &crate::git::Repo,
    run: &mut Run,
    args: &TryArgs,
) -> Result<Connected, CommandError> {
    use crate::dispatch::preflight::{PreflightError, check, config_left_behind};
    for warning in config_left_behind(repo, args.include_dirty, &args.copy) {
        eprintln!("ocfork: warning: {warning}");
    }
    check(repo, run).await.map_err(|e| match e {
        PreflightError::Offer(e) => {
            let hint = match &e {
                OfferError::UnknownAgent { .. } => {
                    "pass one of them with -a, or set `agent` in ocfork's config"
                }
                OfferError::NoModel => {
                    "configure a provider in opencode.json, or pass -m provider/model"
                }
                _ => "pass -m provider/model with a model OpenCode offers here",
            };
            CommandError::usage(e.to_string()).with_hint(hint)
        }
        PreflightError::Api(e) if args.server.is_some() => CommandError::usage(e.to_string())
            .with_hint("check --server and OPENCODE_SERVER_PASSWORD"),
        PreflightError::Api(e) => CommandError::failure(e.to_string()),
        PreflightError::Start(e) => CommandError::from(e),
    })
}

/// Prints the run's result: JSON, or the status table.
pub fn finish(run: &Run, json: bool) -> Result<(), CommandError> {
    if json {
        super::print_json(run)
    } else {
        super::output::print(crate::ui::status_table(run))
    }
}

/// Checks everything the user gave and plans the run with every fork pending.
fn plan(args: &TryArgs, repo: &crate::git::Repo, store: &Store) -> Result<Run, CommandError> {
    let task = match &args.task_file {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            CommandError::usage(format!("cannot read the task file {}: {e}", p.display()))
        })?),
        None => args.task.clone(),
    };
    let loaded = crate::config::Config::load(Some(&repo.workdir))?;
    let configured_root = loaded.worktree_root(&repo.workdir);
    let config = loaded.layer;
    let timeout = match &args.timeout {
        Some(t) => humantime::parse_duration(t).map_err(|e| {
            CommandError::usage(format!("--timeout `{t}` is not a duration: {e}"))
                .with_hint("use a value like 90s, 30m or 1h")
        })?,
        None => config.timeout.map_or(DEFAULT_TIMEOUT, |t| t.value),
    };
    if timeout.is_zero() {
        return Err(CommandError::usage("--timeout must be longer than zero"));
    }
    if args.jobs == Some(0) {
        return Err(CommandError::usage("--jobs must be at least 1"));
    }
    crate::git::include::check_patterns(&repo.workdir, &args.copy)
        .map_err(|e| CommandError::usage(e.to_string()))?;
    let jobs = args.jobs.or(config.jobs.map(|j| j.value));
    let agent = args
        .agent
        .clone()
        .or(config.agent.map(|a| a.value))
        .unwrap_or_else(|| DEFAULT_AGENT.to_string());
    let setup = args.setup.clone().or(config.setup.map(|s| s.value));
    let check = args.check.clone().or(config.check.map(|c| c.value));
    let models = if args.models.is_empty() {
        config.models.map(|m| m.value).unwrap_or_default()
    } else {
        args.models.clone()
    };
    for m in &models {
        if crate::opencode::types::ModelRef::parse(m).is_none() {
            return Err(CommandError::usage(format!(
                "model `{m}` is not of the form provider/model"
            )));
        }
    }
    if agent.trim().is_empty() {
        return Err(CommandError::usage("--agent must not be empty"));
    }
    if let Some(url) = &args.server {
        crate::opencode::Client::new(url, None)?;
    }
    let opencode = match &args.server {
        Some(_) => None,
        None => Some(crate::opencode::find_binary(args.opencode.as_deref())?),
    };
    let approaches = parse_approaches(&args.approaches)?;

    let base = resolve_base(repo, &args.base)?;
    let start = if args.include_dirty {
        repo.snapshot_dirty(&base)?.unwrap_or_else(|| base.clone())
    } else {
        warn_dirty(repo);
        base.clone()
    };

    let planned = fork_plan(&approaches, models);

    let run_name = match &args.name {
        Some(n) if names::is_valid(n) => n.clone(),
        Some(n) => {
            return Err(CommandError::usage(format!(
                "run name `{n}` is not valid: use 1-40 of a-z, 0-9 and -, starting with a letter or digit"
            )));
        }
        None => {
            let existing: HashSet<String> = store.names()?.into_iter().collect();
            let fork_names: Vec<String> = planned.iter().map(|p| p.0.clone()).collect();
            names::unique(&names::run_name(&fork_names), &existing)
        }
    };
    if store.path(&run_name).exists() {
        return Err(
            CommandError::from(crate::state::StateError::Taken(run_name))
                .with_hint("pick another name with -n, or look at it with `ocfork status`"),
        );
    }
    let root = match configured_root {
        Some(r) => r.value.join(&run_name),
        None => crate::git::worktree_root(repo, &run_name),
    };
    let forks: Vec<Fork> = planned
        .into_iter()
        .map(|(name, text, model)| {
            let prompt = match &task {
                Some(t) if !t.trim().is_empty() => format!("{}\n\n{}", t.trim_end(), text),
                _ => text,
            };
            Fork {
                model,
                ..Fork::pending(&run_name, name, &root, prompt, agent.clone())
            }
        })
        .collect();
    for f in &forks {
        if repo.branch_exists(&f.branch) {
            return Err(CommandError::usage(format!(
                "branch {} already exists; choose another run name with -n",
                f.branch
            )));
        }
        if f.worktree.exists() {
            return Err(CommandError::usage(format!(
                "{} already exists; choose another run name with -n or set OCFORK_WORKTREE_ROOT",
                f.worktree.display()
            )));
        }
    }
    let run = Run {
        schema: SCHEMA,
        run: run_name,
        repo: repo.workdir.clone(),
        base,
        start,
        task,
        state: RunState::Running,
        created_at: crate::state::now_rfc3339(),
        forks,
        pid: Some(std::process::id()),
        pid_start: crate::state::process_start_time(std::process::id()),
        check_command: check,
        setup_command: setup,
        timeout_ms: Some(timeout.as_millis() as u64),
        jobs,
        copy: args.copy.clone(),
        server: args.server.clone(),
        opencode,
        dispatched: false,
        spawned_server: None,
        judge: None,
    };
    Ok(run)
}

/// The approaches given, each with a name; explicit names must not repeat.
fn parse_approaches(specs: &[String]) -> Result<Vec<names::Approach>, CommandError> {
    let approaches = specs
        .iter()
        .map(|a| names::parse_approach(a).map_err(CommandError::usage))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = HashSet::new();
    for a in approaches.iter().filter(|a| a.explicit) {
        if !seen.insert(a.name.clone()) {
            return Err(CommandError::usage(format!(
                "two approaches are named `{}`",
                a.name
            )));
        }
    }
    Ok(approaches)
}

/// The commit `--base` names; on an unborn HEAD, the error says so.
fn resolve_base(repo: &crate::git::Repo, rev: &str) -> Result<String, CommandError> {
    match repo.resolve_commit(rev) {
        Ok(b) => Ok(b),
        Err(e) if rev == "HEAD" => {
            repo.head()?;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// One (fork name, approach text, model) per approach, or per approach x model when several
/// models are given; names are unique, explicit ones kept as given where possible.
fn fork_plan(
    approaches: &[names::Approach],
    models: Vec<String>,
) -> Vec<(String, String, Option<String>)> {
    let models: Vec<Option<String>> = if models.is_empty() {
        vec![None]
    } else {
        models.into_iter().map(Some).collect()
    };
    let mut taken: HashSet<String> = approaches
        .iter()
        .filter(|a| a.explicit)
        .map(|a| a.name.clone())
        .collect();
    let mut planned = Vec::new();
    for a in approaches {
        for m in &models {
            let base_name = match m {
                Some(m) if models.len() > 1 => {
                    let model_part = m.rsplit('/').next().unwrap_or(m);
                    let want = names::slug(&format!("{}-{}", a.name, model_part), names::MAX_NAME);
                    if want.is_empty() {
                        a.name.clone()
                    } else {
                        want
                    }
                }
                _ => a.name.clone(),
            };
            let name = if a.explicit && models.len() == 1 {
                base_name
            } else {
                names::unique(&base_name, &taken)
            };
            taken.insert(name.clone());
            planned.push((name, a.text.clone(), m.clone()));
        }
    }
    planned
}

/// Starts a background driver for the run and returns once it dispatched every fork.
async fn detach(repo: &crate::git::Repo, store: &Store, run: Run, json: bool) -> CmdResult {
    use std::os::unix::fs::OpenOptionsExt;
    let exe = std::env::current_exe()?;
    let log_path = store.dir().join(format!("{}.log", run.run));
    let log = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(|e| CommandError::failure(format!("cannot create {}: {e}", log_path.display())))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["__drive", &run.run])
        .current_dir(&repo.workdir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .process_group(0);
    use std::os::unix::process::CommandExt;
    let mut child = cmd.spawn()?;
    let pid = child.id();
    loop {
        let current = store.load(&run.run)?;
        if current.dispatched || current.state != RunState::Running {
            eprintln!(
                "ocfork: run {} dispatched in the background (pid {pid}); `ocfork wait {}` picks it up",
                run.run, run.run
            );
            super::output::after_work(finish(&current, json))?;
            return Ok(0);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let current = store.load_checked(&run.run)?;
            super::output::after_work(finish(&current, json))?;
            return Err(CommandError::failure(format!(
                "the background driver exited early ({status}); see {}",
                log_path.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
