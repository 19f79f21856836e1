//! The pool of OpenCode servers a run's forks are spread over: local `opencode serve`
//! processes ocfork starts (`--servers K`, config `servers`, else [`default_servers`]), or the
//! user's own (`--server URL`, repeatable); on a host (`try --host`), the servers ocfork
//! started there (`[[host]] servers`). A fork goes to the least-loaded live member.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::opencode::server::ExitWatch;
use crate::opencode::{Client, EventHub, MainThread, Server, liveness};
use crate::state::SpawnedServer;

/// Forks from which a second server pays on a small machine. Measured on 2 cores with
/// ocfork-bench (BENCHMARKS.md, 2026-12-02): at 8 forks one server was as fast as two
/// (0.85 of the one-server script against 0.90-0.99) for 20% less CPU time and 550 MB less
/// memory; at 16, on two servers, ocfork took 0.87 of the time of the one-server script.
const POOL_FROM: usize = 16;
/// Sessions one server holds before its memory mappings near the kernel's default
/// `vm.max_map_count` (65,530; ~1,350 mappings a session measured).
const SESSIONS_PER_SERVER: usize = 40;

/// How many servers to start for `forks` forks on `cores` CPUs when neither `--servers` nor
/// the config says: one below 16 forks; from 16, two, or one per 16 forks, but no more than
/// the cores (4 servers on 2 cores were slower than 1); and always enough that no server
/// holds more than 40 sessions.
pub fn default_servers(forks: usize, cores: usize) -> usize {
    let by_cpu = if forks < POOL_FROM {
        1
    } else {
        forks.div_ceil(16).max(2).min(cores.max(1))
    };
    by_cpu.max(forks.div_ceil(SESSIONS_PER_SERVER)).max(1)
}

/// CPUs this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Which of servers with these loads (forks working on each) takes the next fork: the
/// least loaded, the first of equals; None without servers. `try`'s pool and session forks
/// (which count the forks the run store records on each server) both pick by it.
pub fn least_loaded(loads: impl IntoIterator<Item = usize>) -> Option<usize> {
    loads
        .into_iter()
        .enumerate()
        .min_by_key(|&(i, load)| (load, i))
        .map(|(i, _)| i)
}

/// One server of the pool.
pub struct Member {
    /// Where it listens (never its password).
    pub url: String,
    pub client: Client,
    pub hub: EventHub,
    /// Set once it is gone: its process exited (servers ocfork started), or it refuses
    /// connections (the user's; see [`liveness`]). A busy server is never taken for gone.
    pub exit: Option<ExitWatch>,
    /// Forks working on it now.
    load: AtomicUsize,
}

impl Member {
    /// What was seen of its end (its process exited, or it refuses connections), once it is
    /// gone; None while it is there, however slowly it answers.
    pub fn gone(&self) -> Option<String> {
        self.exit.as_ref().and_then(|e| e.borrow().clone())
    }

    fn alive(&self) -> bool {
        self.gone().is_none()
    }

    /// Whether a request that failed was this server going: its end, once seen within a
    /// grace (the failed request may have noticed before the exit was reaped). `probed`
    /// (someone else's server, watched by probing) and a server that refuses connections now
    /// get the longer grace, since probing takes seconds to see it.
    pub async fn gone_after_failure(&self, probed: bool) -> Option<String> {
        let mut exit = self.exit.clone()?;
        let limits = crate::timeouts::get();
        let refused =
            liveness::probe(&self.client, limits.quick_probe).await == liveness::Liveness::Gone;
        let grace = match probed || refused {
            true => limits.exit_seen_probed,
            false => limits.exit_seen,
        };
        let waited = tokio::time::timeout(grace, exit.wait_for(|e| e.is_some())).await;
        match waited {
            Ok(Ok(status)) => Some(status.clone().unwrap_or_default()),
            _ => None,
        }
    }
}

/// A fork's place on a member, given back when dropped.
pub struct Lease {
    pub member: Arc<Member>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.member.load.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The servers of one run and the event streams followed on them. Servers ocfork starts
/// beyond the first join while the first fork is already at work ([`Pool::grow`]).
pub struct Pool {
    members: RwLock<Vec<Arc<Member>>>,
    spawned: Mutex<Vec<Server>>,
    stop_events: CancellationToken,
    /// True once every server that was to start has started or failed to.
    complete: watch::Sender<bool>,
    /// Whether the one lease that need not wait for the rest of the pool was taken.
    early_taken: AtomicBool,
    /// Held while a lease picks the least-loaded member and takes its place there, so that
    /// forks leasing at the same moment see each other's places.
    picking: Mutex<()>,
}

impl Pool {
    /// The pool around the first server, connected already, and the other URLs given. A
    /// URL that is no server address is left out with a warning. With `growing`, leases
    /// (but one early one) wait for [`Pool::grow`].
    pub fn build(first: (Client, Option<Server>), urls: &[String], growing: bool) -> Pool {
        let pool = Pool::empty(CancellationToken::new(), growing);
        pool.add(first.0, first.1);
        let password = std::env::var("OPENCODE_SERVER_PASSWORD").ok();
        for url in urls {
            match Client::new(url, password.as_deref()) {
                Ok(c) => pool.add(c, None),
                Err(e) => eprintln!("ocfork: warning: server {url} left out: {e}"),
            }
        }
        if !growing {
            pool.announce();
        }
        pool
    }

    /// The pool of servers started and watched elsewhere (a host's, `try --host`): each
    /// client with what is set once its server is gone. Its event streams end with `stop`.
    pub fn watched(servers: Vec<(Client, ExitWatch)>, stop: CancellationToken) -> Pool {
        let pool = Pool::empty(stop, false);
        for (client, exit) in servers {
            let url = client.base_url().trim_end_matches('/').to_string();
            pool.push(url, client, exit);
        }
        pool
    }

    fn empty(stop_events: CancellationToken, growing: bool) -> Pool {
        Pool {
            members: RwLock::new(Vec::new()),
            spawned: Mutex::new(Vec::new()),
            stop_events,
            complete: watch::channel(!growing).0,
            early_taken: AtomicBool::new(false),
            picking: Mutex::new(()),
        }
    }

    /// Starts `more` servers from `bin` in parallel and adds those that answer; a server
    /// that does not start is left out with a warning. Call only after the first server
    /// answered (OpenCode migrates its database on the first start, and servers starting
    /// together race on that), on the main thread (`main`; see [`MainThread`]).
    pub async fn grow(&self, more: usize, bin: &Path, cwd: &Path, main: MainThread) {
        let starts = (0..more).map(|_| Server::spawn(bin, cwd, main));
        let started = futures_util::future::join_all(starts).await;
        for s in started {
            match s {
                Ok(server) => match Client::new(&server.url, Some(&server.password)) {
                    Ok(c) => self.add(c, Some(server)),
                    Err(e) => {
                        eprintln!("ocfork: warning: an extra server was left out: {e}");
                        server.stop().await;
                    }
                },
                Err(e) => eprintln!("ocfork: warning: an extra server did not start: {e}"),
            }
        }
        self.announce();
        self.complete.send_replace(true);
    }

    fn announce(&self) {
        let n = self.members().len();
        if n > 1 {
            eprintln!("ocfork: forks spread over {n} OpenCode servers");
        }
    }

    fn members(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Member>>> {
        self.members.read().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, client: Client, server: Option<Server>) {
        let exit = match &server {
            Some(s) => s.exit_watch(),
            None => liveness::watch_refusals(client.clone(), self.stop_events.clone()),
        };
        let url = match &server {
            Some(s) => s.url.clone(),
            None => client.base_url().trim_end_matches('/').to_string(),
        };
        self.push(url, client, exit);
        if let Some(s) = server {
            self.spawned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(s);
        }
    }

    fn push(&self, url: String, client: Client, exit: ExitWatch) {
        let member = Member {
            url,
            hub: EventHub::start(client.clone(), self.stop_events.clone()),
            client,
            exit: Some(exit),
            load: AtomicUsize::new(0),
        };
        self.members
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(member));
    }

    /// A place on the least-loaded live server (the first of equals), once the pool is
    /// complete; None when every server ocfork started has died. With `early`, the first
    /// such lease of the run is given at once, on the servers there are (the gate's
    /// pioneer, whose turn is what the others wait for anyway).
    pub async fn lease(&self, early: bool) -> Option<Lease> {
        let at_once = early && !self.early_taken.swap(true, Ordering::SeqCst);
        if !at_once {
            let mut complete = self.complete.subscribe();
            let _ = complete.wait_for(|c| *c).await;
        }
        let _picking = self.picking.lock().unwrap_or_else(|e| e.into_inner());
        let live: Vec<_> = self
            .members()
            .iter()
            .filter(|m| m.alive())
            .cloned()
            .collect();
        let member = live
            .get(least_loaded(
                live.iter().map(|m| m.load.load(Ordering::SeqCst)),
            )?)?
            .clone();
        member.load.fetch_add(1, Ordering::SeqCst);
        Some(Lease { member })
    }

    /// The first member, the one `try` checked the run with.
    pub fn first(&self) -> Option<Arc<Member>> {
        self.members().first().cloned()
    }

    /// The servers ocfork started, for the manifest.
    pub fn spawned(&self) -> Vec<SpawnedServer> {
        self.spawned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|s| SpawnedServer {
                pid: s.pid().max(0) as u32,
                url: s.url.clone(),
            })
            .collect()
    }

    /// Stops following events and stops the servers ocfork started.
    pub async fn stop(self) {
        self.stop_keeping(false).await;
    }

    /// [`Pool::stop`], but the first server, when ocfork started it, is left running and
    /// handed back with its client, for more work on the same run (`try --judge`).
    pub async fn stop_keeping_first(self) -> Option<(Client, Server)> {
        self.stop_keeping(true).await
    }

    async fn stop_keeping(self, keep_first: bool) -> Option<(Client, Server)> {
        self.stop_events.cancel();
        let first = self.first();
        let mut spawned = self.spawned.into_inner().unwrap_or_else(|e| e.into_inner());
        let kept = match first {
            Some(m) if keep_first => spawned
                .iter()
                .position(|s| s.url == m.url)
                .map(|i| (m.client.clone(), spawned.remove(i))),
            _ => None,
        };
        futures_util::future::join_all(spawned.into_iter().map(Server::stop)).await;
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::{Pool, default_servers, least_loaded};
    use crate::opencode::Client;

    /// Many forks leasing at the same moment end up spread evenly: picking the least-loaded
    /// member and taking a place on it is one step.
    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    async fn leases_taken_at_once_spread_evenly() {
        for _ in 0..300 {
            leases_spread_once().await;
        }
    }

    async fn leases_spread_once() {
        // Nothing listens there: leasing never talks to the servers.
        let client = |port: u16| Client::new(&format!("http://127.0.0.1:{port}"), None);
        let first = client(9).expect("client");
        let pool = std::sync::Arc::new(Pool::build(
            (first, None),
            &["http://127.0.0.1:7".to_string()],
            false,
        ));
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(400));
        let tasks: Vec<_> = (0..400)
            .map(|_| {
                let (pool, start) = (pool.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    pool.lease(false).await
                })
            })
            .collect();
        let mut on = std::collections::HashMap::<String, usize>::new();
        let mut held = Vec::new();
        for t in tasks {
            // Every lease is held to the end, as forks hold theirs through their turn.
            let lease = t.await.expect("task").expect("a lease");
            *on.entry(lease.member.url.clone()).or_default() += 1;
            held.push(lease);
        }
        let counts: Vec<usize> = on.values().copied().collect();
        assert_eq!(counts.len(), 2, "{on:?}");
        assert!(counts[0].abs_diff(counts[1]) <= 1, "{on:?}");
        pool.stop_events.cancel();
    }

    #[test]
    fn the_least_loaded_is_the_first_of_equals() {
        assert_eq!(least_loaded([2, 1, 1]), Some(1));
        assert_eq!(least_loaded([0, 0]), Some(0));
        assert_eq!(least_loaded([3, 4, 2]), Some(2));
        assert_eq!(least_loaded([]), None);
    }

    #[test]
    fn the_default_follows_forks_and_cores() {
        assert_eq!(default_servers(1, 2), 1);
        assert_eq!(default_servers(8, 2), 1);
        assert_eq!(default_servers(15, 2), 1);
        assert_eq!(default_servers(16, 2), 2);
        assert_eq!(default_servers(32, 2), 2);
        assert_eq!(default_servers(64, 2), 2);
        // Never more than 40 sessions a server, whatever the cores.
        assert_eq!(default_servers(100, 2), 3);
        assert_eq!(default_servers(16, 1), 1);
        assert_eq!(default_servers(64, 8), 4);
    }
}
