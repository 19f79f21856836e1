//! `try`'s checks with the server before any worktree or branch is made: the agent and the
//! model of every fork, as OpenCode will pick them, recorded in the run; and a warning for
//! OpenCode config in the main tree that the forks will not get.

use std::path::Path;

use crate::git::Repo;
use crate::opencode::offer::{ModelSource, Offer, OfferError};
use crate::opencode::{ApiError, Client, Server};
use crate::state::Run;

/// Why the checks did not pass.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// The server does not offer what the run asks for.
    #[error(transparent)]
    Offer(#[from] OfferError),
    /// The server did not answer, or answered with an error.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The server could not be started.
    #[error(transparent)]
    Start(#[from] anyhow::Error),
}

/// A server ready to drive the run: the `--server` given, or one ocfork started.
pub type Connected = (Client, Option<Server>);

/// Connects as the run says, reads what the server offers for the repo, and sets every
/// fork's `model` to the one its session will use. Prints the choice on stderr. A server
/// ocfork started is stopped when a check fails, else handed back for the run.
pub async fn check(repo: &Repo, run: &mut Run) -> Result<Connected, PreflightError> {
    let (client, server) = crate::opencode::connect(
        run.server.as_deref(),
        run.opencode.as_deref(),
        &repo.workdir,
    )
    .await?;
    let checked = match others_supported(run).await {
        Ok(()) => choose(&client, &repo.workdir, run).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(()) => Ok((client, server)),
        Err(e) => {
            if let Some(s) = server {
                s.stop().await;
            }
            Err(e)
        }
    }
}

/// The run's other `--server`s are of an OpenCode ocfork supports (the first was checked
/// when connecting).
async fn others_supported(run: &Run) -> Result<(), PreflightError> {
    let password = std::env::var("OPENCODE_SERVER_PASSWORD").ok();
    for url in run.pool_urls.iter().skip(1) {
        let client = Client::new(url, password.as_deref())?;
        crate::opencode::version::check_server(&client)
            .await
            .map_err(|e| PreflightError::Start(e.into()))?;
    }
    Ok(())
}

async fn choose(client: &Client, dir: &Path, run: &mut Run) -> Result<(), PreflightError> {
    let offer = Offer::read(client, dir).await?;
    let mut models: Vec<String> = Vec::new();
    let mut source = ModelSource::Asked;
    for fork in &mut run.forks {
        let choice = offer.choose(&fork.agent, fork.model.as_deref())?;
        if !models.contains(&choice.model) {
            models.push(choice.model.clone());
        }
        source = choice.source;
        fork.model = Some(choice.model);
    }
    if let Some(agent) = run.forks.first().map(|f| f.agent.clone()) {
        let noun = if models.len() == 1 { "model" } else { "models" };
        eprintln!(
            "ocfork: agent {agent}, {noun} {} ({source})",
            models.join(", ")
        );
    }
    Ok(())
}

/// Files OpenCode writes into `.opencode/` itself (its plugin dependency).
const OPENCODE_OWN: [&str; 5] = [
    ".opencode/node_modules/",
    ".opencode/package.json",
    ".opencode/package-lock.json",
    ".opencode/bun.lock",
    ".opencode/.gitignore",
];

/// OpenCode config files of the main tree that the forks will not get: not committed, and
/// neither brought by `--include-dirty` (untracked files) nor copied by `.worktreeinclude` or
/// `--copy` (ignored files). One warning line each, naming the ways to bring it along.
pub fn config_left_behind(repo: &Repo, include_dirty: bool, copy: &[String]) -> Vec<String> {
    let list = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["ls-files", "-z", "--others", "--exclude-standard"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "opencode.json", "opencode.jsonc", ".opencode"]);
        let Ok(out) = crate::git::git(&repo.workdir, &args) else {
            return Vec::new();
        };
        out.stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .filter(|p| !OPENCODE_OWN.iter().any(|own| p.starts_with(own)))
            .collect()
    };
    let mut warnings = Vec::new();
    if !include_dirty {
        for path in list(&[]) {
            warnings.push(format!(
                "{path} is not committed, so the forks will not see it: commit it, or pass --include-dirty"
            ));
        }
    }
    let ignored = list(&["--ignored"]);
    let copied = crate::git::include::selected(&repo.workdir, copy, &ignored).unwrap_or_default();
    for path in ignored.into_iter().filter(|p| !copied.contains(p)) {
        warnings.push(format!(
            "{path} is ignored by git, so the forks will not see it: pass --copy {path}, list it in .worktreeinclude, or commit it"
        ));
    }
    warnings
}
