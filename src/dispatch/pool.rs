//! The pool of OpenCode servers a run's forks are spread over: local `opencode serve`
//! processes ocfork starts (`--servers K`, config `servers`, else [`default_servers`]), or the
//! user's own (`--server URL`, repeatable). A fork goes to the least-loaded live member.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_util::sync::CancellationToken;

use crate::opencode::server::ExitWatch;
use crate::opencode::{Client, EventHub, Server};
use crate::state::SpawnedServer;

/// Forks from which a second server pays on a small machine: measured on 2 cores (issue 13),
/// 2 servers took 0.90x the time of 1 at 8 forks, 0.80x at 16, 0.71x at 32.
const POOL_FROM: usize = 8;
/// Sessions one server holds before its memory mappings near the kernel's default
/// `vm.max_map_count` (65,530; ~1,350 mappings a session measured).
const SESSIONS_PER_SERVER: usize = 40;

/// How many servers to start for `forks` forks on `cores` CPUs when neither `--servers` nor
/// the config says: one below 8 forks; from 8, two, or one per 16 forks, but no more than
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

/// One server of the pool.
pub struct Member {
    /// Where it listens (never its password).
    pub url: String,
    pub client: Client,
    pub hub: EventHub,
    /// Its exit, for servers ocfork started.
    pub exit: Option<ExitWatch>,
    /// Forks working on it now.
    load: AtomicUsize,
}

impl Member {
    fn alive(&self) -> bool {
        self.exit.as_ref().is_none_or(|e| e.borrow().is_none())
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

/// The servers of one run and the event streams followed on them.
pub struct Pool {
    members: Vec<Arc<Member>>,
    spawned: Vec<Server>,
    stop_events: CancellationToken,
}

impl Pool {
    /// The pool around the first server, connected already (a server ocfork started has
    /// answered, so OpenCode's database is migrated and the rest cannot race on it): the
    /// other URLs given, or `more` servers started from `bin` in parallel. A server that
    /// does not start is left out with a warning. Call from the main thread (see
    /// [`Server::spawn`]).
    pub async fn build(
        first: (Client, Option<Server>),
        urls: &[String],
        more: usize,
        bin: Option<&Path>,
        cwd: &Path,
    ) -> Pool {
        let stop_events = CancellationToken::new();
        let mut pool = Pool {
            members: Vec::new(),
            spawned: Vec::new(),
            stop_events,
        };
        pool.add(first.0, first.1);
        let password = std::env::var("OPENCODE_SERVER_PASSWORD").ok();
        for url in urls {
            match Client::new(url, password.as_deref()) {
                Ok(c) => pool.add(c, None),
                Err(e) => eprintln!("ocfork: warning: server {url} left out: {e}"),
            }
        }
        if let (Some(bin), true) = (bin, more > 0) {
            let started =
                futures_util::future::join_all((0..more).map(|_| Server::spawn(bin, cwd))).await;
            for s in started {
                match s {
                    Ok(server) => match Client::new(&server.url, Some(&server.password)) {
                        Ok(c) => pool.add(c, Some(server)),
                        Err(e) => {
                            eprintln!("ocfork: warning: an extra server was left out: {e}");
                            server.stop().await;
                        }
                    },
                    Err(e) => eprintln!("ocfork: warning: an extra server did not start: {e}"),
                }
            }
        }
        if pool.members.len() > 1 {
            eprintln!(
                "ocfork: forks spread over {} OpenCode servers",
                pool.members.len()
            );
        }
        pool
    }

    fn add(&mut self, client: Client, server: Option<Server>) {
        let url = match &server {
            Some(s) => s.url.clone(),
            None => client.base_url().trim_end_matches('/').to_string(),
        };
        let member = Member {
            url,
            hub: EventHub::start(client.clone(), self.stop_events.clone()),
            client,
            exit: server.as_ref().map(Server::exit_watch),
            load: AtomicUsize::new(0),
        };
        self.members.push(Arc::new(member));
        if let Some(s) = server {
            self.spawned.push(s);
        }
    }

    /// A place on the least-loaded live server (the first of equals); None when every
    /// server ocfork started has died.
    pub fn lease(&self) -> Option<Lease> {
        let member = self
            .members
            .iter()
            .filter(|m| m.alive())
            .min_by_key(|m| m.load.load(Ordering::SeqCst))?
            .clone();
        member.load.fetch_add(1, Ordering::SeqCst);
        Some(Lease { member })
    }

    /// The first member, the one `try` checked the run with.
    pub fn first(&self) -> Option<&Arc<Member>> {
        self.members.first()
    }

    /// The servers ocfork started, for the manifest.
    pub fn spawned(&self) -> Vec<SpawnedServer> {
        self.spawned
            .iter()
            .map(|s| SpawnedServer {
                pid: s.pid().max(0) as u32,
                url: s.url.clone(),
            })
            .collect()
    }

    /// Stops following events and stops the servers ocfork started.
    pub async fn stop(self) {
        self.stop_events.cancel();
        futures_util::future::join_all(self.spawned.into_iter().map(Server::stop)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::default_servers;

    #[test]
    fn the_default_follows_forks_and_cores() {
        assert_eq!(default_servers(1, 2), 1);
        assert_eq!(default_servers(7, 2), 1);
        assert_eq!(default_servers(8, 2), 2);
        assert_eq!(default_servers(32, 2), 2);
        assert_eq!(default_servers(64, 2), 2);
        // Never more than 40 sessions a server, whatever the cores.
        assert_eq!(default_servers(100, 2), 3);
        assert_eq!(default_servers(8, 1), 1);
        assert_eq!(default_servers(64, 8), 4);
    }
}
