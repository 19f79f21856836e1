//! The hermetic environment every process of a test runs in: the real opencode binary, git
//! with no global or system config, fixed identity and dates, and none of the developer's
//! variables that could change a result.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::stdout_of;

/// The real opencode binary: `$OCFORK_OPENCODE`, else the project-local install. A missing
/// binary fails the test (everywhere, not only on CI), saying how to install it.
pub fn opencode_bin() -> PathBuf {
    let local =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/opencode/node_modules/.bin/opencode");
    std::env::var_os("OCFORK_OPENCODE")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| local.is_file().then_some(local))
        .unwrap_or_else(|| {
            panic!(
                "opencode not found: run `bash scripts/install-opencode` (the pinned OpenCode into \
                 .tools/opencode) or set OCFORK_OPENCODE to an opencode binary"
            )
        })
}

/// Runs git in `dir`, panicking with its stderr when it fails. Hermetic (see [`hermetic`]),
/// and no global config at all: the test's repositories are what the test made them.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    hermetic(&mut cmd)
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    stdout_of(&mut cmd, &format!("git {args:?}"))
}

/// Makes `cmd` independent of the developer's shell, as jj's tests are: every variable that
/// changes what git, OpenCode or ocfork do (`GIT_*`, `OPENCODE_*`, `OCFORK_*`, `XDG_*`, the
/// locale, `EMAIL`, editors, pagers, colours) is removed, the locale is fixed (`C.UTF-8`: git's
/// messages in English, UTF-8 for tmux and file names), git reads no system config, and the
/// fixed identity and dates of [`git_env_pairs`] are set. `PATH` and the certificate variables
/// stay. Callers then set `HOME` (and `XDG_*`) to the test's own directories.
pub fn hermetic(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_none_or(leaks) {
            cmd.env_remove(name);
        }
    }
    cmd.env("LC_ALL", "C.UTF-8").envs(git_env())
}

/// A variable of the developer's environment that could change a test's result.
fn leaks(name: &str) -> bool {
    const PREFIXES: [&str; 6] = ["GIT_", "OPENCODE_", "OCFORK_", "XDG_", "LC_", "CLICOLOR"];
    const NAMES: [&str; 11] = [
        "LANG",
        "LANGUAGE",
        "EMAIL",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "NO_COLOR",
        "FORCE_COLOR",
        "TZ",
        "COMPLETE",
        "TMUX",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

/// The fixed git identity and dates every process in a test gets.
pub fn git_env_pairs() -> Vec<(&'static str, &'static str)> {
    git_env()
}

fn git_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GIT_AUTHOR_NAME", "Test Author"),
        ("GIT_AUTHOR_EMAIL", "author@example.com"),
        ("GIT_COMMITTER_NAME", "Test Author"),
        ("GIT_COMMITTER_EMAIL", "author@example.com"),
        ("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z"),
        ("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
    ]
}
