//! The command that opens OpenCode's TUI on a fork's session, in the fork's worktree:
//! `opencode <worktree> --session <id>`, or `opencode attach <url> --dir <worktree> --session
//! <id>` for a run driven through `--server`, or, for a fork on a host, `ssh -t HOST 'cd
//! <worktree> && exec opencode <worktree> --session <id>'`; for `ocfork attach` to run (or
//! print) and for `ocfork ui` to run on the user's terminal and come back.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::opencode::ServerError;
use crate::opencode::version::VersionError;
use crate::state::{ForkRef, ForkState};

crate::fault::error_enum! {
    /// Why OpenCode's TUI cannot be opened on the fork.
    #[derive(Debug, thiserror::Error)]
    pub enum AttachError {
        #[error("{name} has no OpenCode session yet (state {})", state.as_str())]
        NoSession { name: String, state: ForkState },
        #[error("the worktree of {name} is gone ({})", worktree.display())]
        WorktreeGone {
            name: String,
            worktree: PathBuf,
            branch: String,
        },
        #[error("{name} works on host {host}: {message}")]
        OnHost {
            name: String,
            host: String,
            message: String,
        },
    }
    wraps transparent { Binary(ServerError), Version(VersionError) }
    meaning(self) {
        AttachError::WorktreeGone { name, branch, .. } => Meaning::failure().hint(format!(
            "its work is on branch {branch}; `ocfork continue {name} TEXT` makes the worktree again from it"
        )),
        AttachError::NoSession { .. } | AttachError::OnHost { .. } => Meaning::user(),
    }
}

/// The worktree of a fork, or an error saying where its work is when the worktree is gone.
pub fn existing_worktree(found: &ForkRef) -> Result<&Path, AttachError> {
    let fork = found.fork();
    if fork.worktree.is_dir() {
        return Ok(&fork.worktree);
    }
    Err(AttachError::WorktreeGone {
        name: found.qualified(),
        worktree: fork.worktree.clone(),
        branch: fork.branch.clone(),
    })
}

/// OpenCode's TUI on one fork's session.
#[derive(Debug, Clone)]
pub struct AttachCommand {
    pub bin: PathBuf,
    pub args: Vec<OsString>,
    /// The fork's worktree, where it runs (for a fork on a host, the main tree here).
    pub dir: PathBuf,
    /// The host whose OpenCode it runs (checked when the fork ran there), over ssh.
    pub host: Option<String>,
}

/// The command for `found`, with the opencode binary `opencode` (else `$OCFORK_OPENCODE`, else
/// the one the run used when it is still there, else `opencode` on PATH).
pub fn command(found: &ForkRef, opencode: Option<&Path>) -> Result<AttachCommand, AttachError> {
    let (run, fork) = (&found.run, found.fork());
    let Some(session) = &fork.session else {
        return Err(AttachError::NoSession {
            name: found.qualified(),
            state: fork.state,
        });
    };
    if let Some(host) = &fork.host {
        return on_host(found, host, session);
    }
    existing_worktree(found)?;
    let bin = binary(opencode, run.opencode.as_deref())?;
    let mut args: Vec<OsString> = Vec::new();
    if let Some(url) = &run.server {
        args.extend(["attach".into(), url.into(), "--dir".into()]);
    }
    args.extend([
        fork.worktree.clone().into_os_string(),
        "--session".into(),
        session.into(),
    ]);
    Ok(AttachCommand {
        bin,
        args,
        dir: fork.worktree.clone(),
        host: None,
    })
}

/// `ssh -t HOST 'cd <worktree> && exec <the host's opencode> <worktree> --session <id>'`, with
/// the host's `[[host]]` table and `$OCFORK_SSH` as `try --host` uses them.
fn on_host(found: &ForkRef, host: &str, session: &str) -> Result<AttachCommand, AttachError> {
    let fail = |message: String| AttachError::OnHost {
        name: found.qualified(),
        host: host.to_string(),
        message,
    };
    let run = &found.run;
    let config = crate::config::Config::load(Some(&run.repo))
        .map_err(|e| fail(e.to_string()))?
        .layer
        .hosts;
    let named = crate::config::hosts::named(&[host.to_string()], &config);
    let Some(cfg) = named.first() else {
        return Err(fail("no such host".into()));
    };
    let quote = crate::text::shell_quote;
    let tree = quote(&found.fork().worktree.to_string_lossy());
    let opencode = match cfg.opencode.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", quote(rest)),
        None => quote(&cfg.opencode),
    };
    let there = format!(
        "cd {tree} && exec {opencode} {tree} --session {}",
        quote(session)
    );
    let mut args: Vec<OsString> = vec!["-t".into()];
    if let Some(file) = crate::host::ssh_config_file().map_err(fail)? {
        args.extend(["-F".into(), file.into_os_string()]);
    }
    args.extend(["--".into(), cfg.ssh.clone().into(), there.into()]);
    Ok(AttachCommand {
        bin: "ssh".into(),
        args,
        dir: run.repo.clone(),
        host: Some(host.to_string()),
    })
}

impl AttachCommand {
    /// The command line as a POSIX shell reads it back.
    pub fn shell_words(&self) -> String {
        let words: Vec<String> = std::iter::once(self.bin.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|w| crate::text::shell_quote(&w.to_string_lossy()))
            .collect();
        words.join(" ")
    }

    /// Refuses a binary of an OpenCode ocfork does not support: OpenCode 2's TUI would migrate
    /// the data directory the V1 servers share.
    pub async fn check(&self) -> Result<(), AttachError> {
        if self.host.is_some() {
            return Ok(());
        }
        crate::opencode::version::check_binary(&self.bin).await?;
        Ok(())
    }

    /// The process to run (after [`check`](Self::check)), in the fork's worktree.
    pub fn process(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.bin);
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .env("PWD", &self.dir);
        cmd
    }
}

/// The flag, else `$OCFORK_OPENCODE`, else the binary the run was driven with (when it is still
/// there), else `opencode` on PATH.
fn binary(flag: Option<&Path>, used: Option<&Path>) -> Result<PathBuf, ServerError> {
    let env_set = std::env::var_os("OCFORK_OPENCODE").is_some_and(|v| !v.is_empty());
    if flag.is_none()
        && !env_set
        && let Some(p) = used.filter(|p| p.is_file())
    {
        return Ok(p.to_path_buf());
    }
    crate::opencode::find_binary(flag)
}
