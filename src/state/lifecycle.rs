//! A fork's life as methods, the one place its state, its `end` and its error change
//! together: back in the queue, a step of its turn begun, ended for a reason, interrupted
//! when its driver went away, merged.

use super::{EndReason, Fork, ForkState};

/// A step of a fork's turn before it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnStep {
    /// `--setup` runs.
    Setup,
    /// The agent works.
    Running,
    /// `--check` runs.
    Checking,
}

impl TurnStep {
    /// The fork's state while the step runs.
    pub fn state(self) -> ForkState {
        match self {
            TurnStep::Setup => ForkState::Setup,
            TurnStep::Running => ForkState::Running,
            TurnStep::Checking => ForkState::Checking,
        }
    }
}

impl Fork {
    /// Back in the queue for a turn (a new run, `resume`, `continue`): pending, its last end
    /// and error forgotten.
    pub fn requeue(&mut self) {
        self.state = ForkState::Pending;
        self.error = None;
        self.end = None;
    }

    /// Begins a step of its turn. The agent's step forgets an error of an earlier turn.
    pub fn begin(&mut self, step: TurnStep) {
        self.end = None;
        self.state = step.state();
        if step == TurnStep::Running {
            self.error = None;
        }
    }

    /// Ends the turn for `reason`, whose state it takes. `error` says what failed; without one
    /// an unfinished error stays, except on a fork that is done.
    pub fn finish(&mut self, reason: EndReason, error: Option<String>) {
        let state = reason.state();
        self.state = state;
        self.end = Some(reason);
        self.activity = None;
        self.error = error.or(self.error.take().filter(|_| state != ForkState::Done));
    }

    /// Ends a fork that was not finished when its driver went away: `interrupted`, for
    /// `resume`. A finished fork stays as it is. Returns whether it changed.
    pub fn interrupt(&mut self, why: &str) -> bool {
        if self.state.is_finished() {
            return false;
        }
        self.state = ForkState::Interrupted;
        self.end = Some(EndReason::DriverGone);
        self.activity = None;
        self.error.get_or_insert_with(|| why.to_string());
        true
    }

    /// Records that `merge` brought the fork's `commit` in.
    pub fn mark_merged(&mut self, commit: &str) {
        self.merged = true;
        self.commit = Some(commit.to_string());
    }
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
