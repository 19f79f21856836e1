//! One subscription to OpenCode's `/global/event` stream shared by every fork. Events are
//! fanned out on a broadcast channel; after a reconnect or a lag subscribers get
//! [`Event::Resync`] and must reconcile with `GET /session/status`, since events are not replayed.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::Client;

/// The event types ocfork acts on, each named once (as OpenCode 1.18 sends them); any other
/// type is `Other`, which nothing acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `session.status`: busy, retry or idle.
    SessionStatus,
    /// `session.idle` (can repeat).
    SessionIdle,
    /// `session.error`: the turn failed.
    SessionError,
    /// `session.compacted`: a summary was written.
    SessionCompacted,
    /// `message.part.updated`: e.g. a tool call.
    MessagePartUpdated,
    /// `permission.asked`: a tool waits for an answer.
    PermissionAsked,
    /// `project.directories.updated`: OpenCode recorded a project's worktrees.
    ProjectDirectoriesUpdated,
    Other(String),
}

impl Kind {
    const NAMED: [(Kind, &'static str); 7] = [
        (Kind::SessionStatus, "session.status"),
        (Kind::SessionIdle, "session.idle"),
        (Kind::SessionError, "session.error"),
        (Kind::SessionCompacted, "session.compacted"),
        (Kind::MessagePartUpdated, "message.part.updated"),
        (Kind::PermissionAsked, "permission.asked"),
        (
            Kind::ProjectDirectoriesUpdated,
            "project.directories.updated",
        ),
    ];

    /// The kind of an event type as the server names it.
    pub fn from_name(name: &str) -> Kind {
        Kind::NAMED
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| Kind::Other(name.to_string()))
    }

    /// The server's name for it.
    pub fn name(&self) -> &str {
        match self {
            Kind::Other(n) => n,
            known => Kind::NAMED
                .iter()
                .find(|(k, _)| k == known)
                .map_or("", |(_, n)| n),
        }
    }
}

/// One event from the server, or a marker that some events may have been missed.
#[derive(Clone, Debug)]
pub enum Event {
    Server {
        directory: Option<String>,
        kind: Kind,
        properties: Value,
    },
    Resync,
}

impl Event {
    /// The event's type; None for [`Event::Resync`].
    pub fn kind(&self) -> Option<&Kind> {
        match self {
            Event::Server { kind, .. } => Some(kind),
            Event::Resync => None,
        }
    }

    /// The event's type as the server named it; empty for [`Event::Resync`].
    pub fn kind_name(&self) -> &str {
        self.kind().map_or("", Kind::name)
    }

    /// True when this is an event of type `kind`.
    pub fn is(&self, kind: &Kind) -> bool {
        self.kind() == Some(kind)
    }

    pub fn properties(&self) -> &Value {
        match self {
            Event::Server { properties, .. } => properties,
            Event::Resync => &Value::Null,
        }
    }

    /// The session an event is about, wherever the event type keeps it.
    pub fn session_id(&self) -> Option<&str> {
        let p = self.properties();
        [
            "/sessionID",
            "/info/sessionID",
            "/part/sessionID",
            "/info/id",
        ]
        .iter()
        .find_map(|ptr| p.pointer(ptr).and_then(Value::as_str))
        .filter(|id| id.starts_with("ses"))
    }

    fn parse(data: &str) -> Option<Event> {
        let v: Value = serde_json::from_str(data).ok()?;
        let (directory, payload) = match v.get("payload") {
            Some(p) => (
                v.get("directory").and_then(Value::as_str).map(String::from),
                p.clone(),
            ),
            None => (None, v),
        };
        let kind = payload.get("type")?.as_str()?;
        if kind == "sync" {
            return None;
        }
        let kind = Kind::from_name(kind);
        let properties = payload.get("properties").cloned().unwrap_or(Value::Null);
        Some(Event::Server {
            directory,
            kind,
            properties,
        })
    }
}

/// The shared event stream.
#[derive(Clone)]
pub struct EventHub {
    tx: broadcast::Sender<Event>,
    connected: tokio::sync::watch::Receiver<bool>,
}

impl EventHub {
    /// Starts following `/global/event` until `stop` is cancelled, reconnecting with backoff.
    pub fn start(client: Client, stop: CancellationToken) -> EventHub {
        let (tx, _) = broadcast::channel(8192);
        let (conn_tx, connected) = tokio::sync::watch::channel(false);
        let hub = EventHub { tx, connected };
        let tx = hub.tx.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            let mut first = true;
            while !stop.is_cancelled() {
                let url = client.url("/global/event", None);
                // A server still booting may accept the connection and never answer.
                let request = client
                    .http()
                    .get(url)
                    .header("accept", "text/event-stream")
                    .send();
                let resp = tokio::select! {
                    r = tokio::time::timeout(crate::timeouts::get().events_connect, request) => r,
                    _ = stop.cancelled() => break,
                };
                match resp {
                    Ok(Ok(r)) if r.status().is_success() => {
                        backoff = Duration::from_millis(100);
                        let _ = conn_tx.send(true);
                        if !first {
                            let _ = tx.send(Event::Resync);
                        }
                        first = false;
                        let mut stream = r.bytes_stream().eventsource();
                        loop {
                            // The server sends a heartbeat every 10 s; silence means a dead link.
                            let item = tokio::select! {
                                i = tokio::time::timeout(crate::timeouts::get().events_silence, stream.next()) => i.ok().flatten(),
                                _ = stop.cancelled() => None,
                            };
                            match item {
                                Some(Ok(ev)) => {
                                    if let Some(e) = Event::parse(&ev.data) {
                                        let _ = tx.send(e);
                                    }
                                }
                                Some(Err(_)) | None => break,
                            }
                        }
                        let _ = conn_tx.send(false);
                    }
                    _ => {}
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {},
                    _ = stop.cancelled() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
                let _ = tx.send(Event::Resync);
            }
        });
        hub
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Waits until the stream is connected (so events of a prompt sent next are not missed).
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let mut rx = self.connected.clone();
        tokio::time::timeout(limit, rx.wait_for(|c| *c))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn every_kind_has_one_name_and_back() {
        for (kind, name) in Kind::NAMED {
            assert_eq!(Kind::from_name(name), kind);
            assert_eq!(kind.name(), name);
        }
        assert_eq!(Kind::from_name("tui.toast.show").name(), "tui.toast.show");
    }
}
