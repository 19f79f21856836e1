//! `ocfork list`: the runs of this repository, newest first.
//!
//! # JSON
//!
//! `ocfork list --json` prints an array, newest run first, of objects (`Entry`):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `[].run` | string | the run's name |
//! | `[].base` | string | 40-hex commit it is based on |
//! | `[].state` | string | `running`, `done` or `failed` |
//! | `[].created_at` | string | RFC 3339 |
//! | `[].forks` | number | how many forks it has |
//! | `[].merged` | number | how many of them `ocfork merge` brought in |
//! | `[].cleaned` | bool | no fork has its worktree any more (`ocfork clean`; kept branches may remain) |

use clap::Args;
use serde::Serialize;

use super::CmdResult;

/// List the runs in this repository, newest first.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ocfork list --json")]
pub struct ListArgs {
    /// Print an array of {run, base, state, created_at, forks, merged, cleaned}
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Entry<'a> {
    run: &'a str,
    base: &'a str,
    state: &'a str,
    created_at: &'a str,
    forks: usize,
    /// Forks `ocfork merge` brought in.
    merged: usize,
    /// True when no fork has its worktree any more (`ocfork clean` removed them; kept
    /// branches may remain).
    cleaned: bool,
    /// The state as the table says it (`interrupted` for a run `resume` picks up).
    #[serde(skip)]
    shown: &'a str,
}

pub async fn cmd_list(args: ListArgs) -> CmdResult {
    let (_, store) = super::repo_and_store()?;
    let (runs, bad) = store.all()?;
    for e in &bad {
        eprintln!("ocfork: warning: {e}");
    }
    let entries: Vec<Entry> = runs
        .iter()
        .map(|r| Entry {
            run: &r.run,
            base: &r.base,
            state: r.state.as_str(),
            shown: r.shown_state(),
            created_at: &r.created_at,
            forks: r.forks.len(),
            merged: r.forks.iter().filter(|f| f.merged).count(),
            cleaned: !r.forks.is_empty() && r.forks.iter().all(|f| !f.worktree.exists()),
        })
        .collect();
    if args.json {
        super::print_json(&entries)?;
    } else {
        for e in &entries {
            let mut notes = String::new();
            let state = e.shown;
            if e.merged > 0 {
                notes.push_str(&format!(", {} merged", e.merged));
            }
            if e.cleaned {
                notes.push_str(", cleaned");
            }
            super::output::println(format!(
                "{:<40}  {:<8}  {}  {} fork{}{notes}  base {}",
                e.run,
                state,
                e.created_at,
                e.forks,
                if e.forks == 1 { "" } else { "s" },
                crate::git::short_id(e.base)
            ))?;
        }
    }
    Ok(0)
}
