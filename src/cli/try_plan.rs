//! The run `try` records before anything starts: every flag and config value checked, the
//! approaches parsed and named, the base resolved, and one pending fork per approach x model.

use std::collections::HashSet;

use super::{DEFAULT_AGENT, DEFAULT_TIMEOUT, TryArgs};
use crate::cli::CommandError;
use crate::names;
use crate::state::{Fork, Run, Store};

/// Checks everything the user gave and plans the run with every fork pending.
pub(super) fn plan(
    args: &TryArgs,
    repo: &crate::git::Repo,
    store: &Store,
) -> Result<Run, CommandError> {
    let task = match &args.task_file {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            CommandError::usage(format!("cannot read the task file {}: {e}", p.display()))
        })?),
        None => args.task.clone(),
    };
    let loaded = crate::config::Config::load(Some(&repo.workdir))?;
    let config = loaded.layer.clone();
    let (judged, _) = args.judge_and_synth(&config);
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
    let max_ports = crate::dispatch::ports::MAX_BLOCK;
    if args.ports.is_some_and(|p| !(1..=max_ports).contains(&p)) {
        return Err(CommandError::usage(format!(
            "--ports must be between 1 and {max_ports}"
        )));
    }
    let ports = args.ports.or(config.ports.map(|p| p.value));
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
    for url in &args.server {
        crate::opencode::Client::new(url, None)?;
    }
    if args.servers == Some(0) {
        return Err(CommandError::usage("--servers must be at least 1"));
    }
    let pool_size = args.servers.or(config.servers.map(|k| k.value));
    // Forks only on hosts need no OpenCode here (unless --opencode names one), but a judge
    // or a synthesis after them works here.
    let hosts_only = !args.hosts.is_empty() && !args.hosts.iter().any(|h| h == "local") && !judged;
    let opencode = match args.server.is_empty() {
        false => None,
        true if hosts_only && args.opencode.is_none() => crate::opencode::find_binary(None).ok(),
        true => Some(crate::opencode::find_binary(args.opencode.as_deref())?),
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
    let root = loaded.run_worktree_root(repo, &run_name);
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
        task,
        forks,
        pid: Some(std::process::id()),
        pid_start: crate::procfs::start_time(std::process::id()),
        check_command: check,
        setup_command: setup,
        timeout_ms: Some(timeout.as_millis() as u64),
        jobs,
        copy: args.copy.clone(),
        server: args.server.first().cloned(),
        pool_urls: args.server.clone(),
        pool_size,
        opencode,
        ports,
        ..Run::new(run_name, repo.workdir.clone(), base, start)
    };
    Ok(run)
}

/// The approaches given, each with a name; explicit names must not repeat.
fn parse_approaches(specs: &[String]) -> Result<Vec<names::Approach>, CommandError> {
    let approaches = specs
        .iter()
        .map(|a| names::parse_approach(a).map_err(CommandError::usage))
        .collect::<Result<Vec<_>, _>>()?;
    for note in approaches.iter().filter_map(names::unnamed_note) {
        eprintln!("ocfork: note: {note}");
    }
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

/// Says that uncommitted changes in the main tree stay out of the forks.
fn warn_dirty(repo: &crate::git::Repo) {
    let Ok(mut dirty) = repo.dirty_paths() else {
        return;
    };
    // OpenCode's config is carried into the forks (and named on its own line).
    let carried = crate::git::include::opencode_config(&repo.workdir, false);
    dirty.retain(|p| {
        !carried
            .iter()
            .any(|c| p.as_path() == std::path::Path::new(c))
    });
    if !dirty.is_empty() {
        eprintln!(
            "ocfork: warning: the main tree has uncommitted changes ({} file{}); they do not reach the forks unless you pass --include-dirty",
            dirty.len(),
            if dirty.len() == 1 { "" } else { "s" }
        );
    }
}
