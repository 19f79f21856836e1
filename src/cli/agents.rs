//! `ocfork agents`: the agents OpenCode offers in this directory, as the `session` tool
//! accepts them.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{CmdResult, CommandError};
use crate::opencode::MainThread;

/// List the agents OpenCode offers here (name, mode, description).
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ocfork agents\n  ocfork agents --json --server http://127.0.0.1:4096"
)]
pub struct AgentsArgs {
    /// A running `opencode serve` (password from OPENCODE_SERVER_PASSWORD); else ocfork starts one
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The opencode binary when no --server is given
    #[arg(long, value_name = "PATH")]
    opencode: Option<PathBuf>,
    /// Print a JSON array of {name, mode, description, model}
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct AgentRow {
    name: String,
    mode: Option<String>,
    description: Option<String>,
    /// The agent's own model (`provider/model`), when its config names one.
    model: Option<String>,
}

pub async fn cmd_agents(args: AgentsArgs, main: MainThread) -> CmdResult {
    let cwd = std::env::current_dir()
        .map_err(|e| CommandError::usage(format!("cannot read the current directory: {e}")))?;
    let (client, server) =
        super::session::connect(args.server.as_deref(), args.opencode.as_deref(), main).await?;
    let listed = crate::opencode::offer::Agents::read(&client, &cwd).await;
    if let Some(s) = server {
        s.stop().await;
    }
    let rows: Vec<AgentRow> = listed?
        .list()
        .iter()
        .map(|a| AgentRow {
            name: a.name.clone(),
            mode: a.mode.clone(),
            description: a.description.as_deref().map(|d| d.trim().to_string()),
            model: a.model.as_ref().map(|m| m.spec()),
        })
        .collect();
    if args.json {
        super::print_json(&rows)?;
        return Ok(0);
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4);
    for r in &rows {
        let desc = r.description.as_deref().unwrap_or("");
        // The table shows the first sentence; --json has the whole text.
        let line = desc.lines().next().unwrap_or("");
        let first = line.find(". ").map_or(line, |i| &line[..=i]);
        super::output::println(format!(
            "{:width$}  {:8}  {first}",
            r.name,
            r.mode.as_deref().unwrap_or("-")
        ))?;
    }
    Ok(0)
}
