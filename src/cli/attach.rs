//! `ocfork attach REF`: OpenCode's TUI on a fork's session, in the fork's worktree.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, CommandError};

/// Open OpenCode's TUI on a fork's session.
#[derive(Args, Debug)]
#[command(
    after_help = "Runs `opencode <worktree> --session <id>`, or `opencode attach <url> --dir <worktree> \
--session <id>` for a run driven through --server.

Example:
  ocfork attach redux
  ocfork attach redux-vs-context/context --print"
)]
pub struct AttachArgs {
    /// The fork: FORK (in the latest run) or RUN/FORK
    #[arg(value_name = "REF", add = super::completions::forks())]
    reference: String,
    /// The opencode binary (else $OCFORK_OPENCODE, else the one the run used, else `opencode` on PATH)
    #[arg(long, value_name = "PATH")]
    opencode: Option<PathBuf>,
    /// Print the command instead of running it
    #[arg(long)]
    print: bool,
}

pub async fn cmd_attach(args: AttachArgs) -> CmdResult {
    let (_, store) = super::repo_and_store()?;
    let found = store.resolve_fork(&args.reference)?;
    let (run, fork) = (&found.run, found.fork());
    let Some(session) = &fork.session else {
        return Err(CommandError::usage(format!(
            "{} has no OpenCode session yet (state {})",
            found.qualified(),
            fork.state.as_str()
        )));
    };
    super::existing_worktree(&found)?;
    let bin = binary(args.opencode.as_deref(), run.opencode.as_deref())?;
    let mut argv: Vec<OsString> = Vec::new();
    if let Some(url) = &run.server {
        argv.extend(["attach".into(), url.into(), "--dir".into()]);
    }
    argv.extend([
        fork.worktree.clone().into_os_string(),
        "--session".into(),
        session.into(),
    ]);
    if args.print {
        let words: Vec<String> = std::iter::once(bin.into_os_string())
            .chain(argv)
            .map(|w| shell_quote(&w.to_string_lossy()))
            .collect();
        super::output::println(words.join(" "))?;
        return Ok(0);
    }
    // OpenCode 2's TUI would migrate the data directory the V1 servers share.
    crate::opencode::version::check_binary(&bin).await?;
    let err = std::process::Command::new(&bin)
        .args(&argv)
        .current_dir(&fork.worktree)
        .env("PWD", &fork.worktree)
        .exec();
    Err(CommandError::failure(format!(
        "cannot run {}: {err}",
        bin.display()
    )))
}

/// The flag, else `$OCFORK_OPENCODE`, else the binary the run was driven with (when it is still
/// there), else `opencode` on PATH.
fn binary(
    flag: Option<&std::path::Path>,
    used: Option<&std::path::Path>,
) -> Result<PathBuf, CommandError> {
    let env_set = std::env::var_os("OCFORK_OPENCODE").is_some_and(|v| !v.is_empty());
    if flag.is_none()
        && !env_set
        && let Some(p) = used.filter(|p| p.is_file())
    {
        return Ok(p.to_path_buf());
    }
    Ok(crate::opencode::find_binary(flag)?)
}

/// A word as a POSIX shell reads it back.
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
