//! The process driving a run or a fork, known by pid and start time so that a reused pid is
//! not taken for it.

use serde::{Deserialize, Serialize};

/// A process by pid and start time, so a reused pid is not taken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    pub pid: u32,
    pub pid_start: Option<u64>,
}

impl Driver {
    /// This process.
    pub fn current() -> Driver {
        Driver::of(std::process::id())
    }

    pub fn of(pid: u32) -> Driver {
        Driver {
            pid,
            pid_start: crate::procfs::start_time(pid),
        }
    }

    pub fn alive(&self) -> bool {
        crate::procfs::start_time(self.pid).is_some_and(|t| Some(t) == self.pid_start)
    }
}
