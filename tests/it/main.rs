//! ocfork's integration tests, one binary (`cargo test --test it`) whose modules each cover one
//! feature end to end: real git, the real `ocfork` binary, real OpenCode and the scripted model.
//! One binary links the crate once instead of once per file, as ripgrep's `tests/tests.rs` does.
//!
//! Run one module or one test: `cargo test --test it diff::` or `cargo test --test it diff_vs`.
//!
//! To add a test module `foo`:
//! 1. write `tests/it/foo.rs`, opening with a `//!` line saying what it covers, and
//!    `use crate::common::*;` for the harness: `world(rules)` (or `World::new(script(rules))`,
//!    `World::with_delay`) with rules from `writes`/`says`/`bash`; `w.run(args)` then `json`,
//!    `ok`, `exits_with`, `stderr`; `w.try_json(code, args)`; `w.spawn(args, out, err)` for a
//!    run in the background; `fork(run, name)`, `worktree_of(fork)`, `read(path)`;
//!    `wait_until(limit, || cond)` for every poll; `crate::common::serve::Serve` for a real
//!    `opencode serve` (`Serve::prompted`, `srv.session(..)`), `crate::common::procs` for
//!    processes. Time limits are for not hanging, never asserts on speed;
//! 2. add `mod foo;` below, in alphabetical order;
//! 3. a file moved here from `tests/foo.rs`: drop its `mod common;`, write `crate::common::` for
//!    `common::`, and rename its insta snapshots `tests/snapshots/foo__NAME.snap` to
//!    `tests/it/snapshots/it__foo__NAME.snap` (and their `source:` line); a proptest
//!    `foo.proptest-regressions` file moves next to it; its copies of harness helpers
//!    (`Script { .., default_reply: "ok" }`, `fn fork`, poll loops) become the ones above.
//!    A `tests/*.rs` left outside this tree builds as a binary of its own, linking the crate.
//!
//! A helper two modules need goes into `common/`, not into a copy.

mod common;

mod agent_git;
mod agent_shared;
mod clean;
mod commit_policy;
mod completions;
mod config;
mod demo;
mod diff;
mod faults_busy;
mod faults_concurrency;
mod faults_crash;
mod faults_disk;
mod faults_hints;
mod faults_model;
mod faults_output;
mod faults_security;
mod faults_text;
mod fork_env;
mod hosts;
mod include;
mod iterate;
mod json_docs;
mod judge;
mod merge;
mod names_prop;
mod naming;
mod odd_repos;
mod offer;
mod opencode_version;
mod pipes;
mod plugin_install;
mod pool;
mod report;
mod second_day;
mod session_fork;
mod session_gone;
mod session_pool;
mod session_tool;
mod session_verdict;
mod small_truths;
mod status_list;
mod synth;
mod try_basic;
mod try_lifecycle;
mod try_options;
mod try_queue;
mod tui;
