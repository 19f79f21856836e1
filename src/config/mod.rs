//! Defaults for `ocfork try` from `.ocfork.toml` at the repo root (shared by a team) and
//! `$XDG_CONFIG_HOME/ocfork/config.toml` (personal), merged with the repo's file winning, and
//! each value remembering where it came from.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

pub mod hosts;
pub use hosts::HostConfig;

/// Loopback ports in each fork's block when neither `--ports` nor a config file says.
pub const DEFAULT_PORTS: u16 = 10;
/// The largest block `--ports` (or `ports` in a config file) accepts.
pub const MAX_PORTS: u16 = 1000;

impl crate::fault::Fault for ConfigError {
    fn meaning(&self) -> crate::fault::Meaning {
        match self {
            ConfigError::Read { .. } | ConfigError::Invalid { .. } => {
                crate::fault::Meaning::config()
            }
        }
    }
}

/// The repo's file, at the top of the main working tree.
pub const REPO_FILE: &str = ".ocfork.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    Flag,
    Env(&'static str),
    File { path: PathBuf, line: usize },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::Flag => write!(f, "flag"),
            Source::Env(name) => write!(f, "${name}"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

/// The keys of a config file, exactly as written (TOML types checked, meaning not yet).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    jobs: Option<Spanned<usize>>,
    servers: Option<Spanned<usize>>,
    agent: Option<Spanned<String>>,
    models: Option<Spanned<Vec<String>>>,
    setup: Option<Spanned<String>>,
    check: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    worktree_root: Option<Spanned<String>>,
    judge: Option<Spanned<bool>>,
    synth: Option<Spanned<bool>>,
    ports: Option<Spanned<u16>>,
    host: Option<Vec<hosts::RawHost>>,
}

/// What one file sets, checked.
#[derive(Clone, Debug, Default)]
pub struct Layer {
    pub jobs: Option<Setting<usize>>,
    /// OpenCode servers `try` starts and spreads the forks over.
    pub servers: Option<Setting<usize>>,
    pub agent: Option<Setting<String>>,
    pub models: Option<Setting<Vec<String>>>,
    pub setup: Option<Setting<String>>,
    pub check: Option<Setting<String>>,
    pub timeout: Option<Setting<Duration>>,
    pub worktree_root: Option<Setting<PathBuf>>,
    /// `try` judges the forks once they all finished.
    pub judge: Option<Setting<bool>>,
    /// `try` judges, synthesizes one more fork from the best, and judges again.
    pub synth: Option<Setting<bool>>,
    pub ports: Option<Setting<u16>>,
    /// The `[[host]]` tables.
    pub hosts: Vec<HostConfig>,
}

/// Both files merged: the repo's values win over the user's. Unset keys are None.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub layer: Layer,
    /// The files that were read, user's first.
    pub files: Vec<PathBuf>,
}

impl Config {
    /// Reads the user's file and, inside a repository, the repo's file. Missing files are fine.
    pub fn load(repo_root: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let repo_file = repo_root.map(|r| r.join(REPO_FILE));
        for path in crate::paths::user_config_file()
            .into_iter()
            .chain(repo_file)
        {
            if let Some(layer) = read_layer(&path, repo_root)? {
                config.layer = merge(layer, config.layer);
                config.files.push(path);
            }
        }
        Ok(config)
    }

    /// Folder that holds the runs' worktree folders, when the environment or a file sets one:
    /// `$OCFORK_WORKTREE_ROOT` wins over the files.
    pub fn worktree_root(&self, repo_root: &Path) -> Option<Setting<PathBuf>> {
        if let Some(env) = std::env::var_os("OCFORK_WORKTREE_ROOT").filter(|v| !v.is_empty()) {
            return Some(Setting {
                value: normalize(&repo_root.join(PathBuf::from(env))),
                source: Source::Env("OCFORK_WORKTREE_ROOT"),
            });
        }
        self.layer.worktree_root.clone()
    }

    /// The folder of the runs' worktree folders: [`Config::worktree_root`] when set, else
    /// `<repo-parent>/<repo-name>.ocfork`.
    pub fn worktree_folder(&self, repo_root: &Path) -> PathBuf {
        self.worktree_root(repo_root)
            .map(|s| s.value)
            .unwrap_or_else(|| crate::paths::default_worktree_root(repo_root))
    }

    /// The folder for the worktrees of `run`, for `try` and session forks alike: next to the
    /// main working tree by default, also from a linked worktree (a session fork started in a
    /// fork's worktree does not nest its run inside that fork's folder).
    pub fn run_worktree_root(&self, repo: &crate::git::Repo, run: &str) -> PathBuf {
        self.worktree_folder(&repo.main_workdir()).join(run)
    }
}

/// `high`'s values, and `low`'s where `high` has none.
fn merge(high: Layer, low: Layer) -> Layer {
    Layer {
        jobs: high.jobs.or(low.jobs),
        servers: high.servers.or(low.servers),
        agent: high.agent.or(low.agent),
        models: high.models.or(low.models),
        setup: high.setup.or(low.setup),
        check: high.check.or(low.check),
        timeout: high.timeout.or(low.timeout),
        worktree_root: high.worktree_root.or(low.worktree_root),
        judge: high.judge.or(low.judge),
        synth: high.synth.or(low.synth),
        ports: high.ports.or(low.ports),
        hosts: hosts::merge(high.hosts, low.hosts),
    }
}

/// Reads and checks one file; None when it does not exist.
fn read_layer(path: &Path, repo_root: Option<&Path>) -> Result<Option<Layer>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse_layer(&text, path, repo_root).map(Some)
}

/// Parses a config file's text; errors name the file and line.
pub fn parse_layer(
    text: &str,
    path: &Path,
    repo_root: Option<&Path>,
) -> Result<Layer, ConfigError> {
    let file = File { path, text };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        file.invalid(line, plain_words(e.message().trim()))
    })?;
    let not_empty = |key: &'static str| {
        move |v: String| match v.trim().is_empty() {
            true => Err(format!("`{key}` must not be empty")),
            false => Ok(v),
        }
    };
    let at_least_1 = |key: &'static str| {
        move |n: usize| match n {
            0 => Err(format!("`{key}` must be at least 1")),
            n => Ok(n),
        }
    };
    Ok(Layer {
        agent: file.setting(raw.agent, not_empty("agent"))?,
        setup: file.setting(raw.setup, not_empty("setup"))?,
        check: file.setting(raw.check, not_empty("check"))?,
        jobs: file.setting(raw.jobs, at_least_1("jobs"))?,
        servers: file.setting(raw.servers, at_least_1("servers"))?,
        models: file.setting(raw.models, |models| {
            match models
                .iter()
                .find(|m| crate::opencode::types::ModelRef::parse(m).is_none())
            {
                Some(bad) => Err(format!("model `{bad}` is not of the form provider/model")),
                None => Ok(models),
            }
        })?,
        timeout: file.setting(raw.timeout, |t| match humantime::parse_duration(&t) {
            Ok(d) if d.is_zero() => Err(format!("`timeout` \"{t}\" must be longer than zero")),
            Ok(d) => Ok(d),
            Err(_) => Err(format!(
                "`timeout` \"{t}\" is not a duration like 90s, 30m or 1h"
            )),
        })?,
        ports: file.setting(raw.ports, |p| {
            let max = MAX_PORTS;
            match (1..=max).contains(&p) {
                true => Ok(p),
                false => Err(format!("`ports` must be between 1 and {max}")),
            }
        })?,
        worktree_root: file.setting(raw.worktree_root, |w| {
            expand_root(&w, repo_root).ok_or_else(|| "`worktree_root` must not be empty".into())
        })?,
        judge: file.setting(raw.judge, Ok)?,
        synth: file.setting(raw.synth, Ok)?,
        hosts: hosts::check(raw.host.unwrap_or_default()).map_err(|m| {
            let line = text.find("[[host]]").map_or(1, |at| line_of(text, at));
            file.invalid(line, m)
        })?,
    })
}

/// The config file being parsed, for errors and sources that name its lines.
struct File<'a> {
    path: &'a Path,
    text: &'a str,
}

impl File<'_> {
    fn invalid(&self, line: usize, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            message,
        }
    }

    /// The setting for a key the file may set, its value checked (and converted) by `check`,
    /// whose error message is reported at the key's line.
    fn setting<T, U>(
        &self,
        value: Option<Spanned<T>>,
        check: impl FnOnce(T) -> Result<U, String>,
    ) -> Result<Option<Setting<U>>, ConfigError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let line = line_of(self.text, value.span().start);
        let value = check(value.into_inner()).map_err(|m| self.invalid(line, m))?;
        let source = Source::File {
            path: self.path.to_path_buf(),
            line,
        };
        Ok(Some(Setting { source, value }))
    }
}

/// `~/x` is under the home folder; a relative path is relative to the repo root.
fn expand_root(raw: &str, repo_root: Option<&Path>) -> Option<PathBuf> {
    if raw.trim().is_empty() {
        return None;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let path = match (raw.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(raw),
    };
    Some(normalize(&match repo_root {
        Some(root) if path.is_relative() => root.join(path),
        _ => path,
    }))
}

/// `a/./b/../c` as `a/c`, by the text alone (the folder need not exist yet).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            c => out.push(c),
        }
    }
    out
}

/// The TOML reader's message with Rust's type names in words: "expected usize" becomes
/// "expected a whole number".
fn plain_words(message: &str) -> String {
    [
        ("expected usize", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        (
            "expected a sequence",
            "expected a list in brackets, like [\"a/b\"]",
        ),
        ("invalid type: sequence", "invalid type: list"),
        ("invalid type: integer", "invalid type: number"),
    ]
    .iter()
    .fold(message.to_string(), |m, (from, to)| m.replace(from, to))
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests;
