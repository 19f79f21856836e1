//! `try`'s checks with the server before any worktree or branch is made: the agent and the
//! model of every fork, as OpenCode will pick them, recorded in the run; and a note on
//! OpenCode config in the main tree that git does not hold, which every fork gets a copy of.

use std::path::Path;

use crate::git::Repo;
use crate::opencode::offer::{ModelSource, Offer, OfferError};
use crate::opencode::{ApiError, Client, ConnectError, MainThread, Server};
use crate::state::Run;

crate::fault::error_enum! {
    /// Why the checks did not pass (the CLI says what to do about each).
    #[derive(Debug, thiserror::Error)]
    pub enum PreflightError {}
    wraps transparent {
        /// The server does not offer what the run asks for.
        Offer(OfferError),
        /// The server did not answer, or answered with an error.
        Api(ApiError),
        /// The server could not be started, or is of a version ocfork does not work with.
        Start(ConnectError),
    }
    meaning(self) {}
}

/// A server ready to drive the run: the `--server` given, or one ocfork started.
pub type Connected = (Client, Option<Server>);

/// Connects as the run says, reads what the server offers for the repo, and sets the `model`
/// of every fork here (not on a host) to the one its session will use. Prints the choice on
/// stderr. A server ocfork started (on the main thread, `main`) is stopped when a check fails,
/// else handed back for the run. None, with nothing started, when every fork works on a host.
pub async fn check(
    repo: &Repo,
    run: &mut Run,
    main: MainThread,
) -> Result<Option<Connected>, PreflightError> {
    if run.forks.iter().all(|f| f.host.is_some()) {
        return Ok(None);
    }
    let (client, server) = super::connect_run(repo, run, main).await?;
    let checked = match others_supported(run).await {
        Ok(()) => choose(&client, &repo.workdir, run).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(()) => Ok(Some((client, server))),
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
    for fork in run.forks.iter_mut().filter(|f| f.host.is_none()) {
        let choice = offer.choose(&fork.agent, fork.model.as_deref())?;
        if !models.contains(&choice.model) {
            models.push(choice.model.clone());
        }
        source = choice.source;
        fork.model = Some(choice.model);
    }
    if let Some(agent) = (run.forks.iter().find(|f| f.host.is_none())).map(|f| f.agent.clone()) {
        let noun = if models.len() == 1 { "model" } else { "models" };
        crate::text::eprint_line(format!(
            "ocfork: agent {agent}, {noun} {} ({source})",
            models.join(", ")
        ));
    }
    Ok(())
}

/// OpenCode config files of the main tree that git does not hold for the forks: not
/// committed, and neither brought by `--include-dirty` (untracked files) nor by
/// `.worktreeinclude` or `--copy` (ignored files). Each fork gets a copy, kept out of its
/// commits; one line each says so.
pub fn config_carried(repo: &Repo, include_dirty: bool, copy: &[String]) -> Vec<String> {
    use crate::git::include::{opencode_config, selected};
    let mut carried = Vec::new();
    if !include_dirty {
        carried.extend(opencode_config(&repo.workdir, false));
    }
    let ignored = opencode_config(&repo.workdir, true);
    let copied = selected(&repo.workdir, copy, &ignored).unwrap_or_default();
    carried.extend(ignored.into_iter().filter(|p| !copied.contains(p)));
    carried
        .into_iter()
        .map(|path| {
            format!("{path} is not committed: each fork gets a copy of it, left out of its commits")
        })
        .collect()
}
