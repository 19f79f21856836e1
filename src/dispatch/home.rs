//! Forks' branches fetched home from a host's mirror: forks that end while a fetch is under
//! way wait for it and go home together in the next one, so forks ending together cost one
//! `git fetch` over the connection, not one each.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::host::Host;

/// What a fetch came to, for every fork whose branch it carried.
type Fetched = Result<(), String>;

/// A branch waiting to come home: its name, the commit it comes home as, and its fork.
type Waiting = (String, String, oneshot::Sender<Fetched>);

/// The fetches home from one host's mirror of one repository.
pub struct Homecoming {
    host: Arc<Host>,
    workdir: PathBuf,
    mirror: String,
    /// Branches waiting for the next fetch, each with its tip and the fork waiting on it.
    waiting: Mutex<Vec<Waiting>>,
    /// Held while a fetch runs.
    turn: tokio::sync::Mutex<()>,
}

impl Homecoming {
    pub fn new(host: Arc<Host>, workdir: PathBuf, mirror: String) -> Homecoming {
        Homecoming {
            host,
            workdir,
            mirror,
            waiting: Mutex::new(Vec::new()),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Brings `branch` home from the host's mirror as `tip` (replacing the local one), with
    /// whatever other branches are waiting by the time a fetch can start.
    pub async fn fetch(&self, branch: &str, tip: &str) -> Fetched {
        let (tx, rx) = oneshot::channel();
        (self.lock_waiting()).push((branch.to_string(), tip.to_string(), tx));
        {
            let _turn = self.turn.lock().await;
            // Empty when the fetch before took this branch along.
            let batch = std::mem::take(&mut *self.lock_waiting());
            let forks: Vec<(&str, &str)> = (batch.iter())
                .map(|(b, t, _)| (b.as_str(), t.as_str()))
                .collect();
            let together = self.fetch_now(&forks).await;
            let alone = together.is_err() && batch.len() > 1;
            for (branch, tip, tx) in batch {
                let fetched = match &together {
                    // One branch git refused fails the whole fetch: each goes alone, so
                    // only its own fork fails.
                    Err(_) if alone => self.fetch_now(&[(&branch, &tip)]).await,
                    other => other.clone(),
                };
                let _ = tx.send(fetched);
            }
        }
        rx.await
            .unwrap_or_else(|_| Err("the fetch home was dropped".into()))
    }

    async fn fetch_now(&self, forks: &[(&str, &str)]) -> Fetched {
        (self.host)
            .fetch_home(&self.workdir, &self.mirror, forks)
            .await
            .map_err(|e| e.to_string())
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}
