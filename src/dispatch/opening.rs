//! The first fork's prompt goes alone, so OpenCode registers the run's worktrees once.
//!
//! When an instance's first turn starts, OpenCode refreshes the project's list of directories:
//! it runs `git worktree list` in every directory of the project it has not yet classified, all
//! at once, and records the worktrees found as copies of the project. Forks whose first turns
//! start together each find all the others unclassified, so N forks spawn N² `git` processes
//! (measured at 64 forks on 2 cores: ~7,000 at once, and no fork made a tool call within 5
//! minutes). Once one refresh has recorded the worktrees, the others find only the project's
//! own checkout to list. So one fork (the pioneer) sends its prompt first; the others wait
//! until its server says the project's directories were updated, its turn ends, or
//! [`bound`] passes. OpenCode keeps that record in its database, which the servers of a pool
//! share, so one pioneer serves every server of the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::opencode::Event;
use crate::opencode::Kind;

/// Fresh forks from which the pioneer goes first: below, the refresh storm is small (N² of
/// a few) and waiting for the pioneer would cost more than it saves.
pub const FROM: usize = 8;
/// The longest the others wait for the pioneer's refresh (`timeouts::Timeouts::opening`).
pub fn bound() -> Duration {
    crate::timeouts::get().opening
}

/// The gate the first prompts of a run pass.
pub struct Opening {
    taken: AtomicBool,
    open: watch::Sender<bool>,
}

/// What a fork is to do at the gate.
pub enum Turn {
    /// Go first, then [`Opening::open_after`].
    Pioneer,
    /// Go now: the gate is open.
    Go,
}

impl Opening {
    /// A gate for `fresh` forks without a session yet; None when they are too few to need one.
    pub fn for_forks(fresh: usize) -> Option<Arc<Opening>> {
        (fresh >= FROM).then(|| {
            Arc::new(Opening {
                taken: AtomicBool::new(false),
                open: watch::channel(false).0,
            })
        })
    }

    /// Waits for the fork's turn at the gate: the first to ask goes at once as the pioneer,
    /// the others once the gate opens.
    pub async fn pass(self: &Arc<Self>) -> Turn {
        if !self.taken.swap(true, Ordering::SeqCst) {
            // The bound runs from here, so a pioneer stuck making its session holds no one.
            let gate = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(bound()).await;
                gate.open();
            });
            return Turn::Pioneer;
        }
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|o| *o).await;
        Turn::Go
    }

    /// Opens the gate once `events` (subscribed before the pioneer's prompt) carries the
    /// refresh's update, or `bound` passes; [`Opening::open`] opens it sooner.
    pub fn open_after(self: &Arc<Self>, mut events: broadcast::Receiver<Event>, bound: Duration) {
        let gate = self.clone();
        tokio::spawn(async move {
            let updated = async {
                loop {
                    match events.recv().await {
                        Ok(e) if e.is(&Kind::ProjectDirectoriesUpdated) => return,
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            };
            let _ = tokio::time::timeout(bound, updated).await;
            gate.open();
        });
    }

    /// Lets every waiting fork go (the pioneer's turn ended, or it could not prompt).
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}

/// Opens the gate it holds when dropped.
pub struct OpenOnDrop(pub Option<Arc<Opening>>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        if let Some(gate) = &self.0 {
            gate.open();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_goes_alone_and_the_rest_on_the_update() {
        assert!(Opening::for_forks(FROM - 1).is_none());
        let gate = Opening::for_forks(FROM).expect("a gate");
        assert!(matches!(gate.pass().await, Turn::Pioneer));
        let (tx, rx) = broadcast::channel(8);
        gate.open_after(rx, Duration::from_secs(60));
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { matches!(gate.pass().await, Turn::Go) }
        });
        let other = Event::Server {
            directory: None,
            kind: Kind::SessionStatus,
            properties: serde_json::Value::Null,
        };
        tx.send(other).expect("send");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "another event does not open the gate"
        );
        let update = Event::Server {
            directory: None,
            kind: Kind::ProjectDirectoriesUpdated,
            properties: serde_json::Value::Null,
        };
        tx.send(update).expect("send");
        let went = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(matches!(went, Ok(Ok(true))), "the update opens the gate");
    }

    #[tokio::test]
    async fn the_bound_opens_the_gate_without_an_update() {
        let gate = Opening::for_forks(FROM).expect("a gate");
        assert!(matches!(gate.pass().await, Turn::Pioneer));
        let (_tx, rx) = broadcast::channel(8);
        gate.open_after(rx, Duration::from_millis(50));
        let went = tokio::time::timeout(Duration::from_secs(5), gate.pass()).await;
        assert!(matches!(went, Ok(Turn::Go)));
    }
}
