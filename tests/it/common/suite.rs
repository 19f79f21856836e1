//! Two `opencode serve` for the whole test process (one per test thread), serving in turn
//! every world that asks for one ([`World::on_suite_server`]): a server start costs ~5
//! CPU-seconds, and most tests that run `try` are about the forks' life, not about the server `try` spawns. Each such world keeps
//! its own repository and its own scripted model: the server's inline config names no model
//! address, and the world's repository has an `opencode.json` (ignored through
//! `.git/info/exclude`, so in no commit) saying where its model is, which ocfork carries into
//! every fork's worktree as it carries a user's uncommitted OpenCode config.
//!
//! Tests about the server itself (spawned, stopped, killed, pooled, its password, the
//! version it reports) keep a server of their own. Under `cargo nextest` each test process
//! starts its own suite servers, as each started its own before.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::serve::Serve;
use super::{World, script};

/// How many suite servers a test process starts. OpenCode answers on one thread: one server
/// for two test threads ran at a full core while the other sat idle.
const SERVERS: usize = 2;

static SUITE: [OnceLock<(World, Serve)>; SERVERS] = [OnceLock::new(), OnceLock::new()];
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One of the process's suite servers, in turn, each started at its first call.
pub fn suite_server() -> &'static Serve {
    &suite(NEXT.fetch_add(1, Ordering::Relaxed) % SERVERS).1
}

/// Suite server `i`. The first installs the plugin's dependencies itself: the others, and
/// every other test server, get its (see [`seed_plugin_deps`]).
fn suite(i: usize) -> &'static (World, Serve) {
    SUITE[i].get_or_init(|| {
        let name = format!("suite{i}");
        let dir = super::shared::process_dir(&name);
        super::shared::on_a_lasting_thread(&name, move || {
            let w = World::in_dir(dir, script(Vec::new()), Duration::ZERO);
            let config = ocfork_scripted::opencode_config_without_model();
            let env = [("OPENCODE_CONFIG_CONTENT", config.as_str())];
            let srv = if i == 0 {
                let srv = Serve::start_for_suite(&w, &env);
                // The first session boots an instance, which installs the plugin's
                // dependencies into the config folder: the seed of every other server's.
                srv.create_session(&w.repo);
                srv
            } else {
                Serve::start_for_process_with(&w, &env)
            };
            (w, srv)
        })
    })
}

/// Gives the world's OpenCode config the dependencies of ocfork's plugin as the suite's server
/// installed them (`package.json`, `package-lock.json`, `node_modules` linked): with them in
/// place OpenCode installs nothing when it loads the plugin.
pub fn seed_plugin_deps(w: &World) {
    let to = w.tmp.path().join("xdg/config/opencode");
    let link = to.join("node_modules");
    if std::fs::symlink_metadata(&link).is_ok() {
        return;
    }
    let (seed, _) = suite(0);
    let from = seed.tmp.path().join("xdg/config/opencode");
    std::fs::create_dir_all(&to).expect("mkdir the world's OpenCode config");
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(from.join(file), to.join(file))
            .unwrap_or_else(|e| panic!("the suite server's {file} (plugin deps): {e}"));
    }
    std::os::unix::fs::symlink(from.join("node_modules"), &link).expect("link node_modules");
}

/// Where ocfork keeps the `opencode --version` it read (its user cache, see
/// `opencode::version_cache`): under the world's own XDG cache folder.
fn version_cache(w: &World) -> PathBuf {
    w.tmp.path().join("xdg/cache/ocfork/opencode-versions")
}

/// The first world's kept version, shared with the worlds after it.
fn suite_version_cache() -> PathBuf {
    suite(0).0.tmp.path().join("ocfork-opencode-versions")
}

/// Gives the world what ocfork kept of the binary's `opencode --version` in a world before
/// (the same binary, whose version a world's first command would otherwise read again, most
/// of a CPU-second), when one has. Copied as ocfork wrote it: the harness does not read it.
pub fn seed_version_cache(w: &World) {
    let (from, to) = (suite_version_cache(), version_cache(w));
    if from.is_file() && !to.exists() {
        let dir = to.parent().expect("a folder");
        std::fs::create_dir_all(dir).expect("mkdir the world's ocfork cache");
        std::fs::copy(&from, &to).expect("copy the kept version");
    }
}

/// Keeps the version this world's ocfork read for the worlds after it (the first one only).
pub fn keep_version_cache(w: &World) {
    let (from, to) = (version_cache(w), suite_version_cache());
    if from.is_file() && !to.exists() {
        let aside = to.with_extension(format!("{}", std::process::id()));
        if std::fs::copy(&from, &aside).is_ok() {
            let _ = std::fs::rename(&aside, &to);
        }
    }
}

/// Points OpenCode sessions in `repo` (and, once ocfork carries the file, in its forks) at
/// `model_url` through an `opencode.json` git ignores there, and makes the repository a
/// project of its own for OpenCode.
///
/// OpenCode names a project by its repository's first commit (cached in `.git/opencode`), and
/// every test's repository starts with the same commit (fixed files, author and dates): on one
/// server they would all be one project, each test's worktrees listed in every other's. A
/// user's repositories have commits of their own; here the cache gets an id of its own.
pub fn point_at_model(repo: &std::path::Path, model_url: &str) {
    let common = super::git(repo, &["rev-parse", "--git-common-dir"]);
    let id = project_id(repo);
    std::fs::write(repo.join(common.trim()).join("opencode"), id).expect("write .git/opencode");
    std::fs::write(
        repo.join("opencode.json"),
        ocfork_scripted::project_config(model_url),
    )
    .expect("write opencode.json");
    let exclude = super::git(repo, &["rev-parse", "--git-path", "info/exclude"]);
    let exclude = repo.join(exclude.trim());
    let mut text = std::fs::read_to_string(&exclude).unwrap_or_default();
    if !text.lines().any(|l| l == "/opencode.json") {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("/opencode.json\n");
        if let Some(dir) = exclude.parent() {
            std::fs::create_dir_all(dir).expect("mkdir info");
        }
        std::fs::write(&exclude, text).expect("write info/exclude");
    }
}

/// A project id (40 hex digits, as OpenCode's are) of this process and `repo`.
fn project_id(repo: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    repo.hash(&mut h);
    format!(
        "{:08x}{:016x}{:016x}",
        std::process::id(),
        h.finish(),
        h.finish().rotate_left(17)
    )
}
