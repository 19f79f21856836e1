//! Every time limit ocfork waits under, in one place: how long a request, a server start, a
//! stop, a probe may take. Intervals (progress ticks, polls) are not limits and stay where they
//! are used.
//!
//! `OCFORK_TEST_TIMEOUT_SCALE` (a factor in (0, 1], e.g. `0.25`) shortens them all at once, for
//! tests whose subject is not these limits (a stalled server that must be given up on, a
//! server that never starts). Users never need it; a value that is not such a factor is
//! ignored. Defaults that users choose (`--timeout`) are not scaled.

use std::sync::OnceLock;
use std::time::Duration;

/// The variable that scales every limit (see the module's documentation).
pub const SCALE_VAR: &str = "OCFORK_TEST_TIMEOUT_SCALE";

/// The time limits, scaled once per process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// One HTTP request to OpenCode (a turn's prompt is asynchronous; compaction may take long).
    pub request: Duration,
    /// Making a connection to OpenCode.
    pub connect: Duration,
    /// Connecting to a server's event stream.
    pub events_connect: Duration,
    /// An event stream silent this long (heartbeats come every ~10 s) is reconnected.
    pub events_silence: Duration,
    /// Waiting for the event hub's first connection before prompting.
    pub hub_connect: Duration,
    /// A spawned `opencode serve` printing where it listens.
    pub server_start: Duration,
    /// A spawned server's exit after SIGTERM, before SIGKILL. OpenCode 1.18 takes 2 s to exit
    /// on SIGTERM however idle it is (measured: a fresh server with no client), and ocfork
    /// stops a server only once it has read everything it needs and OpenCode has written its
    /// sessions (SQLite, which a kill cannot tear): waiting those 2 s bought nothing but a
    /// slower end of every command that started a server.
    pub server_term: Duration,
    /// Its exit after SIGKILL.
    pub server_kill: Duration,
    /// After Ctrl-C, everything a fork still asks of its server (abort, settle, usage,
    /// disposing its instance) as a whole, from the signal on (`signal::stop_deadline`): a
    /// server that stopped answering holds up a Ctrl-C this long, not the sum of the limits.
    pub fork_stop: Duration,
    /// Aborting a session's turn.
    pub abort: Duration,
    /// Waiting for an aborted turn to show idle.
    pub settle: Duration,
    /// Reading a session's messages for its usage.
    pub usage: Duration,
    /// Disposing a worktree's instance on the server when its fork ends.
    pub dispose: Duration,
    /// The same, by `clean`, on a user's server (all forks at once).
    pub clean_dispose: Duration,
    /// One liveness probe: a server silent this long is busy, not gone.
    pub probe: Duration,
    /// The quick probe after a failed turn (does the server refuse connections now?).
    pub quick_probe: Duration,
    /// Waiting for a server's exit to be seen after a failed turn: own server / external or
    /// refusing one (probed, so slower to be seen).
    pub exit_seen: Duration,
    pub exit_seen_probed: Duration,
    /// The longest the other fresh forks wait for the pioneer's refresh (`dispatch/opening`).
    pub opening: Duration,
    /// After a compaction request answered, the wait for its `session.compacted` event.
    pub compacted: Duration,
    /// The driver's runtime finishing its tasks at exit.
    pub shutdown: Duration,
}

impl Timeouts {
    /// The limits ocfork ships with.
    pub fn defaults() -> Timeouts {
        let s = Duration::from_secs;
        Timeouts {
            request: s(120),
            connect: s(10),
            events_connect: s(30),
            events_silence: s(35),
            hub_connect: s(10),
            server_start: s(60),
            server_term: Duration::from_millis(500),
            server_kill: s(2),
            fork_stop: s(10),
            abort: s(5),
            settle: s(5),
            usage: s(10),
            dispose: s(10),
            clean_dispose: s(20),
            probe: s(5),
            quick_probe: s(2),
            exit_seen: s(2),
            exit_seen_probed: s(8),
            opening: s(20),
            compacted: s(10),
            shutdown: s(1),
        }
    }

    /// Every limit times `factor`.
    pub fn scaled(factor: f64) -> Timeouts {
        let d = Timeouts::defaults();
        let f = |x: Duration| x.mul_f64(factor);
        Timeouts {
            request: f(d.request),
            connect: f(d.connect),
            events_connect: f(d.events_connect),
            events_silence: f(d.events_silence),
            hub_connect: f(d.hub_connect),
            server_start: f(d.server_start),
            server_term: f(d.server_term),
            server_kill: f(d.server_kill),
            fork_stop: f(d.fork_stop),
            abort: f(d.abort),
            settle: f(d.settle),
            usage: f(d.usage),
            dispose: f(d.dispose),
            clean_dispose: f(d.clean_dispose),
            probe: f(d.probe),
            quick_probe: f(d.quick_probe),
            exit_seen: f(d.exit_seen),
            exit_seen_probed: f(d.exit_seen_probed),
            opening: f(d.opening),
            compacted: f(d.compacted),
            shutdown: f(d.shutdown),
        }
    }

    /// The limits for a scale given as text: the defaults unless it is a factor in (0, 1].
    pub fn from_scale(scale: Option<&str>) -> Timeouts {
        match scale.and_then(|s| s.trim().parse::<f64>().ok()) {
            Some(f) if f > 0.0 && f <= 1.0 => Timeouts::scaled(f),
            _ => Timeouts::defaults(),
        }
    }
}

/// This process's limits: the defaults, scaled by [`SCALE_VAR`] when it is set.
pub fn get() -> &'static Timeouts {
    static LIMITS: OnceLock<Timeouts> = OnceLock::new();
    LIMITS.get_or_init(|| {
        let scale = std::env::var(SCALE_VAR).ok();
        Timeouts::from_scale(scale.as_deref())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scale_shortens_every_limit_and_nonsense_is_ignored() {
        let d = Timeouts::defaults();
        let q = Timeouts::from_scale(Some("0.25"));
        assert_eq!(q.request, d.request / 4);
        assert_eq!(q.fork_stop, d.fork_stop / 4);
        assert_eq!(q.server_kill, d.server_kill / 4);
        for bad in [
            None,
            Some(""),
            Some("fast"),
            Some("0"),
            Some("-1"),
            Some("2"),
        ] {
            assert_eq!(Timeouts::from_scale(bad), d, "{bad:?}");
        }
    }
}
