//! ocfork: try several approaches to one coding task in parallel with OpenCode agents,
//! each in its own git worktree, then compare them and merge the winner back.

pub mod cli;
pub mod compare;
pub mod config;
pub mod dispatch;
pub mod fault;
pub mod git;
pub mod host;
pub mod judge;
pub mod lockfile;
pub mod names;
pub mod opencode;
pub mod ops;
pub mod paths;
pub mod private_fs;
pub mod procfs;
pub mod relay;
pub mod report;
pub mod signal;
pub mod state;
pub mod synth;
pub mod text;
pub mod timeouts;
pub mod tui;
pub mod ui;

#[cfg(test)]
mod layers_tests;
