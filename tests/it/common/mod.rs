//! Shared test harness: hermetic temp repos with fixed authors and dates, the scripted model on
//! a free loopback port, the real `opencode` binary, and the real `ocfork` binary.

#![allow(dead_code)]

pub mod env;
pub mod finished;
pub mod outputs;
pub mod poll;
pub mod procs;
pub mod rules;
pub mod serve;
pub mod session;
pub mod shared;
pub mod sshd;
pub mod suite;
pub mod world;

pub use env::*;
pub use outputs::*;
pub use poll::*;
pub use rules::*;
pub use world::*;

#[allow(unused_imports)]
pub use ocfork_scripted::{BlockingModelServer, Failure, Options, Rule, Script, Step};
