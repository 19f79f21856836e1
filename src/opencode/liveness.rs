//! Whether an OpenCode server is gone or only busy, decided in one place. A server is gone when
//! its process exited or a connection to it is refused (nothing listens any more). A slow
//! answer or a timeout is a busy server: under load one takes seconds to answer, and one
//! stopped for 12 s was measured finishing every turn it had, so waiting on it costs only
//! time, which a fork's own time limit bounds.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::server::ExitWatch;
use super::{ApiError, Client};

/// What one request said about its server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// It answered, even with an error status.
    Alive,
    /// No answer in time, or an answer cut short: the server may be busy; ask again.
    Busy,
    /// The connection was refused: nothing listens there any more.
    Gone,
}

impl Liveness {
    /// What `result` of a request says about the server.
    pub fn of<T>(result: &Result<T, ApiError>) -> Liveness {
        match result {
            Ok(_) => Liveness::Alive,
            Err(e) => Liveness::of_error(e),
        }
    }

    /// What a failed request says about the server.
    pub fn of_error(err: &ApiError) -> Liveness {
        match err {
            ApiError::Status { .. } => Liveness::Alive,
            e if refused(e) => Liveness::Gone,
            _ => Liveness::Busy,
        }
    }
}

/// The connection was refused: the io error under the HTTP client's says so.
fn refused(err: &ApiError) -> bool {
    let ApiError::Connect { source, .. } = err else {
        return false;
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Asks the server whether it is there (`GET /global/health`, which opens no instance),
/// waiting at most `limit`: no answer by then is [`Liveness::Busy`].
pub async fn probe(client: &Client, limit: Duration) -> Liveness {
    match tokio::time::timeout(limit, client.health()).await {
        Ok(result) => Liveness::of(&result),
        Err(_) => Liveness::Busy,
    }
}

/// Runs `call` again while its server is busy, a second apart, so a slow server costs time
/// rather than the work; the caller bounds the whole (a deadline, Ctrl-C). Only for requests
/// that may be repeated (reads, or a reply whose repeat the server refuses).
pub async fn patiently<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    loop {
        let result = call().await;
        if Liveness::of(&result) != Liveness::Busy {
            return result;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Refusals in a row that make a server gone: one alone could be a port changing hands.
const REFUSALS: u32 = 2;

/// Watches a server ocfork did not start (so it cannot see the process exit), by probing it
/// every second: set once it refuses connections (its owner quit OpenCode, or it was killed),
/// so forks on it are committed within seconds rather than after their time limit. A server
/// that answers late, or not yet, is busy and keeps being waited for.
pub fn watch_refusals(client: Client, stop: CancellationToken) -> ExitWatch {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let mut refusals = 0;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.cancelled() => return,
            }
            let seen = tokio::select! {
                seen = probe(&client, crate::timeouts::get().probe) => seen,
                _ = stop.cancelled() => return,
            };
            refusals = match seen {
                Liveness::Gone => refusals + 1,
                Liveness::Alive => 0,
                Liveness::Busy => refusals,
            };
            if refusals >= REFUSALS {
                let url = client.base_url().trim_end_matches('/');
                let _ = tx.send(Some(format!("at {url} refuses connections")));
                return;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(port: u16) -> Client {
        Client::new(&format!("http://127.0.0.1:{port}"), None).expect("client")
    }

    #[tokio::test]
    async fn a_refused_connection_is_gone() {
        let port = {
            let l = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
            l.local_addr().expect("addr").port()
        };
        assert_eq!(
            probe(&client(port), Duration::from_secs(5)).await,
            Liveness::Gone
        );
        let watched = watch_refusals(client(port), CancellationToken::new());
        let mut watched = watched;
        let gone = tokio::time::timeout(Duration::from_secs(10), watched.wait_for(|e| e.is_some()))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|e| e.clone()));
        assert!(
            gone.is_some_and(|e| e.contains("refuses connections")),
            "not seen gone"
        );
    }

    #[tokio::test]
    async fn a_server_that_does_not_answer_is_busy() {
        // Connections are accepted by the kernel and never answered, as by a stopped server.
        let silent = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = silent.local_addr().expect("addr").port();
        assert_eq!(
            probe(&client(port), Duration::from_millis(300)).await,
            Liveness::Busy
        );
        let mut watched = watch_refusals(client(port), CancellationToken::new());
        let waited =
            tokio::time::timeout(Duration::from_secs(4), watched.wait_for(|e| e.is_some())).await;
        assert!(waited.is_err(), "a silent server was taken for gone");
        drop(silent);
    }
}
