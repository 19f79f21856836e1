//! `ocfork diff`: every fork of a run against its start commit side by side, one fork's patch,
//! or two forks against each other (`--vs`).
//!
//! # JSON
//!
//! `ocfork diff [RUN] --json` prints one object (`DiffJson`); counts are those of
//! `git diff --numstat` against `start`. A field marked `?` may be absent.
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `run` | string | the run's name |
//! | `base` | string | 40-hex commit the run is based on |
//! | `start` | string | 40-hex commit the forks started from (`base`, or one holding changes carried in with `--include-dirty`) |
//! | `forks` | array | one object per fork |
//! | `forks[].name` | string | the fork's name |
//! | `forks[].commit` | string or null | the commit compared: its branch tip, else the one the run recorded |
//! | `forks[].state` | string | the fork's state (see the run object) |
//! | `forks[].merged` | bool | `ocfork merge` brought it in |
//! | `forks[].files` | array | the files it changed, by path |
//! | `forks[].files[].path` | string | path in the repository |
//! | `forks[].files[].status` | string | `added`, `modified`, `deleted` or `renamed` |
//! | `forks[].files[].insertions` | number | lines added (0 for binary files) |
//! | `forks[].files[].deletions` | number | lines removed |
//! | `forks[].files[].binary` | bool | a binary file, which has no line counts |
//! | `forks[].files[].old_path?` | string | where a renamed file came from |
//! | `forks[].uncommitted?` | array of strings | paths whose work sits uncommitted in the fork's worktree (its commit failed) |
//! | `pairs` | array | one object for every two forks |
//! | `pairs[].a` | string | the first fork |
//! | `pairs[].b` | string | the second fork |
//! | `pairs[].same` | array of strings | files both changed to the same result |
//! | `pairs[].differ` | array of strings | files both changed, to different results |
//! | `pairs[].only_a` | array of strings | files only `a` changed |
//! | `pairs[].only_b` | array of strings | files only `b` changed |
//! | `pairs[].similarity` | number | share of changed lines the two have in common, 0..1 (1.0 for identical changes) |

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::{CmdResult, CommandError};
use crate::compare::{self, ForkChanges, Pair};
use crate::compare::{fork_tip, fork_tips};
use crate::git::{DiffView, Repo};
use crate::state::{ForkRef, Run, Store, Target};

/// Compare the forks of a run: a table of all of them, one fork's patch, or two forks.
///
/// A bare NAME is a fork of the latest run when it has one of that name, else a run.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  ocfork diff                        every fork of the latest run against the base
  ocfork diff redux                  the patch of fork `redux` of the latest run
  ocfork diff todo-store/redux --stat
  ocfork diff redux --vs context     the two forks against each other
  ocfork diff --json")]
pub struct DiffArgs {
    /// A run (all its forks) or a fork: FORK (latest run) or RUN/FORK
    #[arg(value_name = "RUN|REF", add = super::completions::runs_and_forks())]
    target: Option<String>,
    /// Compare the fork with this one instead of the base (FORK of the same run, or RUN/FORK)
    #[arg(long, value_name = "REF", add = super::completions::forks())]
    vs: Option<String>,
    /// Per-file statistics instead of the patch
    #[arg(long)]
    stat: bool,
    /// Print the comparison as JSON
    #[arg(long)]
    json: bool,
    /// Never page the patch
    #[arg(long)]
    no_pager: bool,
    /// Colour the patch and the table: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(long, value_name = "WHEN", value_enum)]
    color: Option<ColorWhen>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// `diff --json`, as the module documents it.
#[derive(Serialize)]
struct DiffJson<'a> {
    run: &'a str,
    base: &'a str,
    /// The commit forks started from: `base`, or one holding uncommitted changes carried in.
    start: &'a str,
    forks: Vec<ForkJson<'a>>,
    pairs: Vec<Pair>,
}

#[derive(Serialize)]
struct ForkJson<'a> {
    name: &'a str,
    commit: Option<&'a str>,
    state: &'a str,
    merged: bool,
    files: &'a [compare::FileChange],
    /// Paths whose work sits uncommitted in the fork's worktree (its commit failed).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    uncommitted: &'a [String],
}

pub async fn cmd_diff(args: DiffArgs) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let target = match &args.target {
        Some(t) => store.resolve_target(t)?,
        None => Target::Run(store.latest()?),
    };
    match target {
        Target::Run(run) => {
            if args.vs.is_some() {
                return Err(
                    CommandError::usage("--vs compares two forks; name the first one")
                        .with_hint("ocfork diff FORK --vs OTHER"),
                );
            }
            run_diff(&repo, &run, &args)
        }
        Target::Fork(fork) => match &args.vs {
            Some(vs) => {
                let other = resolve_vs(&store, &fork, vs)?;
                vs_diff(&repo, &fork, &other, &args)
            }
            None => fork_diff(&repo, &fork, &args),
        },
    }
}

/// The fork `--vs` names: a bare name is looked up in the first fork's run.
fn resolve_vs(store: &Store, first: &ForkRef, vs: &str) -> Result<ForkRef, CommandError> {
    if vs.contains('/') {
        return Ok(store.resolve_fork(vs)?);
    }
    Ok(store.resolve_fork(&format!("{}/{vs}", first.run.run))?)
}

fn view(args: &DiffArgs) -> DiffView {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    DiffView {
        pager: !args.no_pager,
        color: match args.color {
            Some(ColorWhen::Always) => Some(true),
            Some(ColorWhen::Never) => Some(false),
            Some(ColorWhen::Auto) | None if no_color => Some(false),
            Some(ColorWhen::Auto) | None => None,
        },
        stat: args.stat,
    }
}

/// The fork's commit, or an error saying why it has none.
fn tip(repo: &Repo, fork: &ForkRef) -> Result<String, CommandError> {
    let f = fork.fork();
    if !f.state.is_finished() {
        crate::text::eprint_line(format!(
            "ocfork: note: {} is still {}; showing what its branch holds so far",
            fork.qualified(),
            f.state.as_str()
        ));
    }
    fork_tip(repo, f).ok_or_else(|| {
        CommandError::failure(format!(
            "fork {} has no commit: its branch {} does not exist and git has no commit recorded for it",
            fork.qualified(),
            f.branch
        ))
    })
}

/// Warns on stderr when a fork's commit no longer contains the run's start commit (its agent
/// reset its branch below it): merged, it would undo what the start has.
pub(super) fn warn_lost_start(repo: &Repo, run: &Run, fork: &str, commit: &str) {
    if let Some(w) = compare::lost_start(repo, &run.run, fork, &run.start, commit) {
        crate::text::eprint_line(format!("ocfork: warning: {w}"));
    }
}

fn fork_diff(repo: &Repo, fork: &ForkRef, args: &DiffArgs) -> CmdResult {
    let commit = tip(repo, fork)?;
    warn_lost_start(repo, &fork.run, &fork.fork().name, &commit);
    if args.json {
        let changes = compare::changes(
            repo,
            &fork.run.start,
            &[(fork.fork().name.clone(), Some(commit))],
        )
        .map_err(not_compared)?;
        print_comparison(&fork.run, &[fork.fork()], &changes)?;
        return Ok(0);
    }
    Ok(crate::git::show_diff(
        &repo.workdir,
        &fork.run.start,
        &commit,
        view(args),
    )?)
}

fn vs_diff(repo: &Repo, a: &ForkRef, b: &ForkRef, args: &DiffArgs) -> CmdResult {
    let (ca, cb) = (tip(repo, a)?, tip(repo, b)?);
    if args.json {
        if a.run.run != b.run.run {
            return Err(CommandError::usage(format!(
                "--json compares forks of one run; {} and {} are from different runs",
                a.qualified(),
                b.qualified()
            )));
        }
        let forks = [
            (a.fork().name.clone(), Some(ca)),
            (b.fork().name.clone(), Some(cb)),
        ];
        let changes = compare::changes(repo, &a.run.start, &forks).map_err(not_compared)?;
        print_comparison(&a.run, &[a.fork(), b.fork()], &changes)?;
        return Ok(0);
    }
    Ok(crate::git::show_diff(&repo.workdir, &ca, &cb, view(args))?)
}

fn run_diff(repo: &Repo, run: &Run, args: &DiffArgs) -> CmdResult {
    let forks: Vec<(String, Option<String>)> = run
        .forks
        .iter()
        .map(|f| f.name.clone())
        .zip(fork_tips(repo, &run.forks))
        .collect();
    let mut changes = compare::changes(repo, &run.start, &forks).map_err(not_compared)?;
    for (f, c) in run.forks.iter().zip(&mut changes) {
        // A fork that ended done committed everything; one whose commit failed did not.
        if f.state.is_finished() && f.state != crate::state::ForkState::Done {
            // One fork's broken worktree must not keep the others from being compared.
            match crate::git::uncommitted_work(&repo.common_dir, &f.worktree) {
                Ok(paths) => c.uncommitted = paths,
                Err(e) => crate::text::eprint_line(format!(
                    "ocfork: warning: cannot read the worktree of fork {}: {e}",
                    f.name
                )),
            }
        }
        if let Some(commit) = &c.commit {
            warn_lost_start(repo, run, &f.name, commit);
        }
        if let Some(moved) = &f.moved {
            crate::text::eprint_line(format!(
                "ocfork: note: fork {}'s agent had moved its worktree to {moved}; its branch holds that work",
                f.name
            ));
        }
    }
    if args.json {
        let all: Vec<&crate::state::Fork> = run.forks.iter().collect();
        print_comparison(run, &all, &changes)?;
        return Ok(0);
    }
    let color = view(args)
        .color
        .unwrap_or_else(|| std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // Escaped where it is made, but for its own colour codes.
    super::output::print_exact(&crate::ui::diff_table(run, &changes, color))?;
    if args.stat {
        super::output::print(crate::ui::diff_stat(run, &changes))?;
    }
    super::output::print(crate::ui::diff_overlaps(&changes))?;
    Ok(0)
}

/// A comparison git could not make, said in words with git's message under it.
fn not_compared(e: crate::git::GitError) -> CommandError {
    super::git_failed("could not compare the forks with the run's start", e)
}

fn print_comparison(
    run: &Run,
    forks: &[&crate::state::Fork],
    changes: &[ForkChanges],
) -> Result<(), CommandError> {
    let json = DiffJson {
        run: &run.run,
        base: &run.base,
        start: &run.start,
        forks: forks
            .iter()
            .zip(changes)
            .map(|(f, c)| ForkJson {
                name: &f.name,
                commit: c.commit.as_deref(),
                state: f.state.as_str(),
                merged: f.merged,
                files: &c.files,
                uncommitted: &c.uncommitted,
            })
            .collect(),
        pairs: compare::pairs(changes),
    };
    super::print_json(&json)
}
