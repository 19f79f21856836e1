//! The fork queue: drives a run's forks over a pool of OpenCode servers, at most `jobs`
//! prompting at once, each fork from setup through its agent's turn, its check and its
//! commit, with the manifest saved at every state change (by one writer thread, see
//! [`record`]).

mod claim;
mod drive;
mod fork;
mod home;
mod opening;
pub mod pool;
pub mod ports;
pub mod preflight;
mod record;
pub mod remote;
mod step;
mod turn;
mod worktrees;

pub use drive::{DriveError, DriveOptions, RunView, drive, drive_with};
pub use fork::{Shared, commit_message, run_fork};
pub use record::RunHandle;

/// The OpenCode server `run` works on: the `--server` it names (its password from
/// `OPENCODE_SERVER_PASSWORD`), else a new one started in the repository from the run's
/// binary (on the main thread, `main`), returned too so the caller stops it.
pub async fn connect_run(
    repo: &crate::git::Repo,
    run: &crate::state::Run,
    main: crate::opencode::MainThread,
) -> Result<(crate::opencode::Client, Option<crate::opencode::Server>), crate::opencode::ConnectError>
{
    let (url, bin) = (run.server.as_deref(), run.opencode.as_deref());
    crate::opencode::connect(url, bin, &repo.workdir, main).await
}
