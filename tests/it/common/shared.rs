//! One world and one real `opencode serve` shared by the tests of a module that are not about
//! server handling (the session tool's relays, a session's forks, the offer): a server start
//! costs ~5 CPU-seconds, more than most such tests' own work. Each test still makes its own
//! sessions (and, where it needs one, its own directory), and asserts only on what its own
//! prompts caused: the model's log is shared, so a test filters it by its own texts.
//!
//! The module's script is the union of its tests' rules, so their `when` texts must not
//! match each other's prompts. Under `cargo nextest` (a process per test) each test gets a
//! server of its own, as before.
//!
//! The world lives in `$CARGO_TARGET_TMPDIR/ocfork-shared-<pid>-<name>` (statics are never
//! dropped): the server dies with the test process (parent-death signal), and the folders
//! of test processes that are gone are removed when the next one starts.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use super::serve::Serve;
use super::{Rule, World, procs, script};

/// A module's shared world and server.
pub struct Shared {
    pub w: World,
    pub srv: Serve,
}

/// The module's shared world and server in `cell`, started at the first call with the
/// scripted model following `rules()`.
pub fn shared(
    cell: &'static OnceLock<Shared>,
    name: &str,
    rules: fn() -> Vec<Rule>,
) -> &'static Shared {
    cell.get_or_init(|| {
        let dir = process_dir(name);
        on_a_lasting_thread(name, move || {
            let w = World::in_dir(dir, script(rules()), Duration::ZERO);
            let srv = Serve::start_for_process(&w);
            Shared { w, srv }
        })
    })
}

/// Runs `start` on a thread that lives as long as the test process and returns what it made:
/// a server's parent-death signal fires when the thread that started it ends.
pub fn on_a_lasting_thread<T: Send + 'static>(
    name: &str,
    start: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if tx.send(start()).is_ok() {
            loop {
                std::thread::park();
            }
        }
    });
    rx.recv()
        .unwrap_or_else(|_| panic!("the OpenCode server of {name} did not start"))
}

/// A folder for a world that lives as long as the test process (see the module's note).
pub fn process_dir(name: &str) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    remove_leftovers(root);
    tempfile::Builder::new()
        .prefix(&format!("ocfork-shared-{}-{name}-", std::process::id()))
        .tempdir_in(root)
        .expect("tempdir")
}

/// Removes the shared worlds of test processes that are gone.
fn remove_leftovers(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let pid = name
            .strip_prefix("ocfork-shared-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !procs::alive(pid)
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
