//! The process driving a run or a fork, known by pid and start time so that a reused pid is
//! not taken for it.

use std::fs;

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
            pid_start: process_start_time(pid),
        }
    }

    pub fn alive(&self) -> bool {
        process_start_time(self.pid).is_some_and(|t| Some(t) == self.pid_start)
    }
}

/// Start time of a process in clock ticks since boot (field 22 of `/proc/PID/stat`), or None
/// when there is no such process.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let state = rest.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    rest.split_whitespace().nth(19)?.parse().ok()
}
