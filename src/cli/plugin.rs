//! `ocfork plugin install`: puts the OpenCode plugin that gives agents the `session` tool into
//! the project's `.opencode/plugin/` or the user's OpenCode config.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{CmdResult, CommandError};

/// Manage the OpenCode plugin that gives agents the `session` tool.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ocfork plugin install --global")]
pub struct PluginArgs {
    #[command(subcommand)]
    action: PluginAction,
}

#[derive(Subcommand, Debug)]
enum PluginAction {
    /// Write the plugin for this project (.opencode/plugin/ocfork.ts) or, with --global, for
    /// every project ($XDG_CONFIG_HOME/opencode/plugin/ocfork.ts)
    #[command(after_help = "Example:\n  ocfork plugin install\n  ocfork plugin install --global")]
    Install {
        /// Install into the user's OpenCode config instead of this project
        #[arg(long)]
        global: bool,
        /// Replace a file of that name that ocfork did not write
        #[arg(long)]
        force: bool,
    },
}

/// First line of every plugin file ocfork writes.
const MARKER: &str = "// ocfork-plugin:";

pub async fn cmd_plugin(args: PluginArgs) -> CmdResult {
    let PluginAction::Install { global, force } = args.action;
    let dir = if global {
        global_dir()?
    } else {
        project_dir()?
    };
    let path = dir.join("ocfork.ts");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && !existing.starts_with(MARKER)
        && !force
    {
        return Err(CommandError::usage(format!(
            "{} exists and was not written by ocfork",
            path.display()
        ))
        .with_hint("pass --force to replace it"));
    }
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| CommandError::failure(format!("cannot find the ocfork binary: {e}")))?;
    let source = plugin_source(&exe)?;
    crate::private_fs::create_dir_all(&dir)
        .map_err(|e| CommandError::failure(format!("cannot create {}: {e}", dir.display())))?;
    std::fs::write(&path, source)
        .map_err(|e| CommandError::failure(format!("cannot write {}: {e}", path.display())))?;
    super::output::println_during_change(path.display().to_string());
    eprintln!(
        "ocfork: installed the `session` tool; OpenCode loads it at its next start (it calls {})",
        exe.display()
    );
    if !global {
        eprintln!(
            "hint: OpenCode installs the plugin's dependency into .opencode/ of every worktree; `--global` avoids that for forks"
        );
    }
    Ok(0)
}

fn plugin_source(exe: &Path) -> Result<String, CommandError> {
    let quoted = serde_json::to_string(&exe.to_string_lossy())?;
    Ok(crate::relay::PLUGIN_SOURCE.replace("\"@OCFORK_BIN@\"", &quoted))
}

fn global_dir() -> Result<PathBuf, CommandError> {
    crate::paths::opencode_global_plugins()
        .ok_or_else(|| CommandError::usage("neither XDG_CONFIG_HOME nor HOME is set"))
}

fn project_dir() -> Result<PathBuf, CommandError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CommandError::usage(format!("cannot read the current directory: {e}")))?;
    let root = crate::git::Repo::discover(&cwd)
        .map(|r| r.workdir)
        .unwrap_or(cwd);
    Ok(root.join(".opencode").join("plugin"))
}
