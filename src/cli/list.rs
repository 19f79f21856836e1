//! `ocfork list`: the runs of this repository, newest first.

use clap::Args;
use serde::Serialize;

use super::CmdResult;

/// List the runs in this repository, newest first.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ocfork list --json")]
pub struct ListArgs {
    /// Print an array of {run, base, state, created_at, forks}
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
            created_at: &r.created_at,
            forks: r.forks.len(),
        })
        .collect();
    if args.json {
        super::print_json(&entries)?;
    } else {
        for e in &entries {
            super::output::println(format!(
                "{:<40}  {:<8}  {}  {} fork{}  base {}",
                e.run,
                e.state,
                e.created_at,
                e.forks,
                if e.forks == 1 { "" } else { "s" },
                &e.base[..e.base.len().min(12)]
            ))?;
        }
    }
    Ok(0)
}
