//! Waiting in tests: the one poll loop ([`wait_until`]) and commands started in the background
//! with their output kept.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What a polled condition returns: `true` or `Some(value)` once it holds.
pub trait Holds {
    type Value;
    fn holds(self) -> Option<Self::Value>;
}

impl Holds for bool {
    type Value = ();
    fn holds(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Holds for Option<T> {
    type Value = T;
    fn holds(self) -> Option<T> {
        self
    }
}

/// Polls `check` until it holds (every 50 ms at first, backing off to 500 ms) and returns what
/// it held with, or None once `limit` has passed without it holding. The one poll loop of the
/// tests: callers assert on the None with what they waited for.
pub fn wait_until<H: Holds>(limit: Duration, mut check: impl FnMut() -> H) -> Option<H::Value> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        if let Some(v) = check().holds() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// A command started in the background with its stdout and stderr kept for
/// `wait_with_output`, as the tests that act on a run while it goes do.
pub trait Background {
    fn in_background(&mut self) -> Child;
}

impl Background for Command {
    fn in_background(&mut self) -> Child {
        self.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ocfork starts")
    }
}
