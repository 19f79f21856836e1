//! `ocfork completions SHELL` and the hidden `ocfork man`: shell completions and man pages
//! generated from the same clap definitions the parser uses.

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use super::{CmdResult, CommandError};

/// Print a shell completion script.
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
    let mut cmd = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "ocfork", &mut script);
    super::output::print_bytes(&script)?;
    Ok(0)
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
