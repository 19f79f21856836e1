//! Each fork's block of loopback ports, handed to its `--setup` and `--check` as
//! `$OCFORK_PORT`: reserved when the fork first needs it, every port bindable on 127.0.0.1 at
//! that moment, never overlapping another fork's block in this process, freed when it ends.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

pub use crate::config::{DEFAULT_PORTS as DEFAULT_BLOCK, MAX_PORTS as MAX_BLOCK};

/// Blocks are taken from below Linux's default ephemeral range (32768-60999), so the
/// kernel does not hand their ports to outgoing connections.
const LOW: u32 = 20000;
const HIGH: u32 = 32768;

/// The blocks reserved in this process, by `run/fork`: one driver process may drive several
/// runs' forks (session relays), so the registry is the process's, not one run's.
fn registry() -> &'static Mutex<HashMap<String, (u16, u16)>> {
    static BLOCKS: OnceLock<Mutex<HashMap<String, (u16, u16)>>> = OnceLock::new();
    BLOCKS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn key(run: &str, fork: &str) -> String {
    format!("{run}/{fork}")
}

/// The first port of the fork's block of `size` ports, reserving one if it has none yet.
pub fn reserve(run: &str, fork: &str, size: u16) -> Result<u16, String> {
    let size = size.clamp(1, MAX_BLOCK);
    let mut blocks = match registry().lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some((first, n)) = blocks.get(&key(run, fork))
        && *n == size
    {
        return Ok(*first);
    }
    let taken: Vec<(u16, u16)> = blocks.values().copied().collect();
    let slots = (HIGH - LOW) / u32::from(size);
    let offset = {
        use rand::RngExt;
        rand::rng().random_range(0..slots)
    };
    for i in 0..slots {
        let first = LOW + ((offset + i) % slots) * u32::from(size);
        let Ok(first) = u16::try_from(first) else {
            continue;
        };
        let overlaps = taken
            .iter()
            .any(|&(f, n)| first < f.saturating_add(n) && f < first.saturating_add(size));
        if !overlaps && bindable(first, size) {
            blocks.insert(key(run, fork), (first, size));
            return Ok(first);
        }
    }
    Err(format!(
        "found no {size} free loopback ports in {LOW}-{HIGH} for its OCFORK_PORT"
    ))
}

/// Frees the fork's block once it no longer runs anything.
pub fn release(run: &str, fork: &str) {
    let mut blocks = match registry().lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    blocks.remove(&key(run, fork));
}

/// True when every port of the block can be listened on at 127.0.0.1 right now.
fn bindable(first: u16, size: u16) -> bool {
    (0..size).all(|i| {
        first
            .checked_add(i)
            .is_some_and(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test: the registry is the process's, and the second half takes every block.
    #[test]
    fn blocks_never_overlap_skip_ports_in_use_and_are_kept_per_fork() {
        let a = reserve("ports-test", "a", 10).expect("a");
        let b = reserve("ports-test", "b", 10).expect("b");
        assert!(a + 10 <= b || b + 10 <= a, "{a} and {b} overlap");
        assert_eq!(reserve("ports-test", "a", 10).expect("a again"), a);
        release("ports-test", "a");
        release("ports-test", "b");

        // A port someone listens on is in no block, even when every block is taken.
        let held = (LOW as u16..HIGH as u16)
            .find_map(|p| std::net::TcpListener::bind(("127.0.0.1", p)).ok())
            .expect("a free port");
        let port = held.local_addr().expect("addr").port();
        let mut got = Vec::new();
        while let Ok(first) = reserve("ports-all", &format!("f{}", got.len()), 100) {
            got.push(first);
        }
        assert!(got.len() > 100, "only {} blocks", got.len());
        for first in &got {
            assert!(!(*first..first + 100).contains(&port), "{port} handed out");
        }
        for i in 0..got.len() {
            release("ports-all", &format!("f{i}"));
        }
    }
}
