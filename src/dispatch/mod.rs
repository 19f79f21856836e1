//! The fork queue: drives a run's forks over a pool of OpenCode servers, at most `jobs`
//! prompting at once, each fork from setup through its agent's turn, its check and its
//! commit, with the manifest saved at every state change (by one writer thread, see
//! [`record`]).

mod claim;
mod drive;
mod fork;
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
