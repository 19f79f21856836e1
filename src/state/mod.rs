//! Run manifests: the schema-1 record of a run and its forks, stored atomically in the
//! repository's common git dir under `ocfork/runs/`, one JSON file per run.
//!
//! # JSON: the run object (schema 1)
//!
//! `ocfork try --json`, `status --json`, `wait --json`, `resume --json` and `continue --json`
//! print one run object, the manifest as it is kept on disk ([`Run`] and [`Fork`] serialized).
//! Fields are only ever added; a field marked `?` may be absent. `tests/it/json_docs.rs` checks
//! that this table names exactly the fields a real run prints.
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `schema` | number | 1 |
//! | `run` | string | the run's name, e.g. `redux-vs-context-api` |
//! | `repo` | string | absolute path of the main worktree |
//! | `base` | string | 40-hex commit the run is based on |
//! | `start` | string | 40-hex commit every fork starts from: `base`, or one on top of it holding the main tree's changes (`--include-dirty`) |
//! | `task` | string or null | the shared task |
//! | `state` | string | `running`, `done` (every fork `done`), `cancelled` (Ctrl-C stopped a fork) or `failed` (all ended, one not `done`) |
//! | `created_at` | string | RFC 3339 (UTC, milliseconds) |
//! | `pid` | number or null | the process driving the run |
//! | `pid_start` | number or null | that process's start time (clock ticks since boot) |
//! | `check_command` | string or null | `--check` |
//! | `setup_command` | string or null | `--setup` |
//! | `timeout_ms` | number or null | `--timeout`, per fork |
//! | `jobs` | number or null | `-j`; null means all at once |
//! | `server` | string or null | URL given with `--server` (never its password); the first when repeated |
//! | `pool_urls` | array of strings | every URL given with `--server`, in order: the user's servers the forks are spread over |
//! | `pool_size` | number or null | `--servers` (or config `servers`): servers to start; null picks from the forks and CPUs |
//! | `opencode` | string or null | the opencode binary used to spawn a server |
//! | `dispatched` | bool | every fork was handed to the queue (`--detach` returns then) |
//! | `copy` | array of strings | `--copy` globs |
//! | `ports?` | number | `--ports`: loopback ports in each fork's block (absent: the default, 10) |
//! | `judge?` | object | the verdict of `ocfork judge`, once it ran: evidence per fork, each judge's session, model and ranking, the final ranking with reasons (`state::verdict::Verdict`) |
//! | `judge.stale?` | array of strings | forks `ocfork continue` changed after the verdict, which no longer judges them as they are (`merge --best` refuses it; `ocfork judge` again makes a fresh one) |
//! | `warnings?` | array of strings | what changed while the run ran outside the forks' worktrees: stash entries that went (kept as `refs/ocfork/<run>/stash/<n>`), branches outside `ocfork/` made, moved or deleted, files of the main working tree changed |
//! | `spawned_server` | object or null | the `opencode serve` the driver runs, while it runs |
//! | `spawned_server.pid` | number | its pid |
//! | `spawned_server.url` | string | where it listens (127.0.0.1) |
//! | `spawned_servers` | array | every `opencode serve` the driver runs (the pool), while it runs; the first is `spawned_server` |
//! | `spawned_servers[].pid` | number | its pid |
//! | `spawned_servers[].url` | string | where it listens (127.0.0.1) |
//! | `forks` | array | one object per fork, in the order given |
//! | `forks[].name` | string | the fork's name, `[a-z0-9][a-z0-9-]{0,39}` |
//! | `forks[].prompt` | string | the full prompt sent (task plus approach) |
//! | `forks[].agent` | string | OpenCode agent |
//! | `forks[].model` | string or null | `provider/model`; null is OpenCode's default |
//! | `forks[].state` | string | `pending`, `setup`, `running`, `checking`, `done`, `failed`, `timeout`, `cancelled` or `interrupted` |
//! | `forks[].merged` | bool | `ocfork merge` brought it into a branch |
//! | `forks[].branch` | string | `ocfork/<run>/<fork>` |
//! | `forks[].worktree` | string | absolute path of its worktree (gone after `clean`) |
//! | `forks[].session` | string or null | OpenCode session id, `ses_...` |
//! | `forks[].server` | string or null | URL of the pool member that ran its latest turn (never its password) |
//! | `forks[].commit` | string or null | 40-hex commit holding its work |
//! | `forks[].files_changed` | number | files changed against `start` |
//! | `forks[].insertions` | number | lines added, as `git diff --numstat` counts |
//! | `forks[].deletions` | number | lines removed |
//! | `forks[].check` | object or null | the `--check` result; null without `--check` |
//! | `forks[].check.command` | string | the command |
//! | `forks[].check.exit_code` | number or null | null when killed by a signal or it could not start |
//! | `forks[].check.duration_ms` | number | how long it ran |
//! | `forks[].duration_ms` | number | time of its finished turns |
//! | `forks[].started_at` | string or null | RFC 3339 start of its latest turn; null while it waits (while it runs, its time so far is `duration_ms` plus the time since) |
//! | `forks[].tokens` | object or null | tokens the model used |
//! | `forks[].tokens.input` | number | input tokens |
//! | `forks[].tokens.output` | number | output tokens |
//! | `forks[].cost` | number or null | cost OpenCode reported |
//! | `forks[].error` | string or null | what failed: OpenCode's or git's error, a timeout, ... |
//! | `forks[].end?` | string | why it ended, once it has: `done`, `agent_error`, `timeout`, `cancelled`, `server_exited`, `server_gone`, `no_server`, `setup_failed`, `worktree_failed`, `commit_failed`, `host_gone` (the connection to its host dropped; `interrupted`) or `driver_gone` (the process driving it went away; `interrupted`) |
//! | `forks[].tool_calls` | number | tool calls its agent made so far |
//! | `forks[].activity` | string or null | what it does beyond its state, e.g. `retrying (attempt 2)` |
//! | `forks[].follow_ups` | array of strings | prompts sent later with `ocfork continue`, oldest first |
//! | `forks[].moved?` | string | where its agent had moved the worktree's HEAD off the fork's branch when its latest turn ended (`branch NAME`, `a detached HEAD at ID`); its work was committed to the fork's branch all the same and the worktree put back on it |
//! | `forks[].host?` | string | the host (`try --host`, a `[[host]]` name) it works on; absent on this machine; `worktree` is then a path on that host |
//! | `forks[].synth?` | object | a fork `ocfork synth` wrote from others |
//! | `forks[].synth.from` | array of strings | the forks whose work its prompt held, in that order |
//! | `forks[].driver?` | object | the process driving this fork when not the run's (forks of `ocfork session fork`) |
//! | `forks[].driver.pid` | number | its pid |
//! | `forks[].driver.pid_start` | number or null | its start time (clock ticks since boot) |

mod clock;
mod driver;
mod error;
mod fork;
mod lifecycle;
mod lock;
mod resolve;
mod run;
mod store;
mod synth;
pub mod verdict;

pub use clock::now_rfc3339;
pub use driver::Driver;
pub use error::StateError;
pub use fork::{Check, EndReason, Fork, ForkState, Tokens, check_cell};
pub use lifecycle::TurnStep;
pub use lock::DriverLock;
pub use resolve::{ForkRef, Target};
pub use run::{Run, RunState, SpawnedServer};
pub use store::Store;
pub use synth::Synth;

/// Version of the JSON written by `--json` and kept on disk.
pub const SCHEMA: u32 = 1;

#[cfg(test)]
mod end_tests;
#[cfg(test)]
mod store_tests;
