//! `ocfork completions SHELL` and `ocfork man`: shell completions and man pages from the same
//! clap definitions the parser uses. Completion is dynamic (clap_complete's `CompleteEnv`): the
//! script asks `ocfork` at every TAB, so run and fork names come from the repository.

use std::ffi::OsStr;
use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};

use super::{CmdResult, CommandError};
use crate::state::{Run, Store};

/// The environment variable that makes `ocfork` answer a shell's completion request.
pub const COMPLETE_VAR: &str = "COMPLETE";

/// Print a shell completion script.
///
/// The script calls back into ocfork at every TAB (with `COMPLETE=SHELL` set), so commands,
/// flags, and the runs and forks of the repository you are in complete.
#[derive(Args, Debug)]
#[command(after_help = "Example:
  ocfork completions bash > ~/.local/share/bash-completion/completions/ocfork
  ocfork completions zsh > ~/.zfunc/_ocfork
  ocfork completions fish > ~/.config/fish/completions/ocfork.fish")]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub fn cmd_completions(args: CompletionsArgs) -> CmdResult {
    let cmd = super::Cli::command();
    let name = args.shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let shell = shells.completer(&name).ok_or_else(|| {
        CommandError::usage(format!("no dynamic completion for the shell `{name}`"))
    })?;
    // What the script runs at a TAB: this binary as it was called, as `COMPLETE=SHELL ocfork`
    // would register it (a relative path is made absolute).
    let mut completer = std::env::args_os()
        .next()
        .map_or_else(|| PathBuf::from(cmd.get_name()), PathBuf::from);
    if completer.components().count() > 1
        && let Ok(cwd) = std::env::current_dir()
    {
        completer = cwd.join(completer);
    }
    let mut script = Vec::new();
    shell.write_registration(
        COMPLETE_VAR,
        cmd.get_name(),
        cmd.get_name(),
        &completer.to_string_lossy(),
        &mut script,
    )?;
    super::output::print_bytes(&script)?;
    Ok(0)
}

/// Answers the shell's completion request and exits, when `COMPLETE` is set.
pub fn complete_if_asked() {
    clap_complete::CompleteEnv::with_factory(super::Cli::command)
        .var(COMPLETE_VAR)
        .complete();
}

/// Completes a run name of the repository around the current directory.
pub fn runs() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| candidates(current, true, false))
}

/// Completes a fork reference: `FORK` of the latest run, or `RUN/FORK`.
pub fn forks() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| candidates(current, false, true))
}

/// Completes a run or a fork reference (`ocfork diff`).
pub fn runs_and_forks() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| candidates(current, true, true))
}

/// Completes a fork name of the run named earlier on the line, else of the latest run.
pub fn fork_names() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let runs = known_runs();
        let line: Vec<String> = std::env::args().collect();
        let run = runs.iter().find(|r| line.contains(&r.run)).or(runs.first());
        let names = run.map(|r| r.forks.iter().map(|f| (f.name.clone(), f.state.as_str())));
        matching(current, names.into_iter().flatten())
    })
}

/// The runs of the repository around the current directory, newest first; none outside one.
/// Read only: completing never changes a manifest.
fn known_runs() -> Vec<Run> {
    let Some(repo) = std::env::current_dir()
        .ok()
        .and_then(|cwd| crate::git::Repo::discover(&cwd).ok())
    else {
        return Vec::new();
    };
    let store = Store::new(&repo.common_dir);
    let mut runs: Vec<Run> = store
        .names()
        .unwrap_or_default()
        .iter()
        .filter_map(|n| store.load(n).ok())
        .collect();
    runs.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.run.cmp(&a.run))
    });
    runs
}

fn candidates(current: &OsStr, with_runs: bool, with_forks: bool) -> Vec<CompletionCandidate> {
    let runs = known_runs();
    let mut names: Vec<(String, &str)> = Vec::new();
    // A fork `clean` removed whole (worktree and branch) is no longer there to name.
    let repo = std::env::current_dir()
        .ok()
        .and_then(|cwd| crate::git::Repo::discover(&cwd).ok());
    let there = |f: &crate::state::Fork| {
        f.worktree.exists() || repo.as_ref().is_some_and(|r| r.branch_exists(&f.branch))
    };
    if with_forks && let Some(latest) = runs.first() {
        names.extend(
            latest
                .forks
                .iter()
                .filter(|f| there(f))
                .map(|f| (f.name.clone(), f.state.as_str())),
        );
    }
    if with_runs {
        names.extend(runs.iter().map(|r| (r.run.clone(), r.state.as_str())));
    }
    if with_forks {
        for r in &runs {
            names.extend(
                r.forks
                    .iter()
                    .filter(|f| there(f))
                    .map(|f| (format!("{}/{}", r.run, f.name), f.state.as_str())),
            );
        }
    }
    matching(current, names.into_iter())
}

/// The names that start with what is typed so far, each with its state as the description.
fn matching<'a>(
    current: &OsStr,
    names: impl Iterator<Item = (String, &'a str)>,
) -> Vec<CompletionCandidate> {
    let typed = current.to_string_lossy();
    let mut seen = std::collections::HashSet::new();
    names
        .filter(|(n, _)| n.starts_with(typed.as_ref()) && seen.insert(n.clone()))
        .map(|(n, state)| CompletionCandidate::new(n).help(Some(state.to_string().into())))
        .collect()
}

/// Print the man page (roff), or write one page per command into a folder.
#[derive(Args, Debug)]
#[command(after_help = "Example:
  ocfork man | man -l -
  ocfork man --dir /usr/local/share/man/man1")]
pub struct ManArgs {
    /// Write ocfork.1 and ocfork-COMMAND.1 for every command into this folder
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn cmd_man(args: ManArgs) -> CmdResult {
    let cmd = super::Cli::command();
    let Some(dir) = args.dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page)?;
        super::output::print_bytes(&page)?;
        return Ok(0);
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| CommandError::failure(format!("cannot create {}: {e}", dir.display())))?;
    clap_mangen::generate_to(cmd, &dir).map_err(|e| {
        CommandError::failure(format!(
            "cannot write man pages into {}: {e}",
            dir.display()
        ))
    })?;
    eprintln!("ocfork: man pages written to {}", dir.display());
    Ok(0)
}
