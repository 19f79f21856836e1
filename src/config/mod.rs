//! Defaults for `ocfork try` from `.ocfork.toml` at the repo root (shared by a team) and
//! `$XDG_CONFIG_HOME/ocfork/config.toml` (personal), merged with the repo's file winning, and
//! each value remembering where it came from.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

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
    ports: Option<Spanned<u16>>,
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
    pub ports: Option<Setting<u16>>,
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

    /// The folder for the worktrees of `run`, for `try` and session forks alike.
    pub fn run_worktree_root(&self, repo: &crate::git::Repo, run: &str) -> PathBuf {
        self.worktree_folder(&repo.workdir).join(run)
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
        ports: high.ports.or(low.ports),
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
    let invalid = |span: Option<std::ops::Range<usize>>, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: span.map_or(1, |s| line_of(text, s.start)),
        message,
    };
    let raw: RawFile =
        toml::from_str(text).map_err(|e| invalid(e.span(), plain_words(e.message().trim())))?;
    let from = |span: std::ops::Range<usize>| Source::File {
        path: path.to_path_buf(),
        line: line_of(text, span.start),
    };
    let text_setting = |v: Option<Spanned<String>>, key: &str| -> Result<_, ConfigError> {
        match v {
            Some(s) if s.get_ref().trim().is_empty() => Err(invalid(
                Some(s.span()),
                format!("`{key}` must not be empty"),
            )),
            Some(s) => Ok(Some(Setting {
                source: from(s.span()),
                value: s.into_inner(),
            })),
            None => Ok(None),
        }
    };
    let mut layer = Layer {
        agent: text_setting(raw.agent, "agent")?,
        setup: text_setting(raw.setup, "setup")?,
        check: text_setting(raw.check, "check")?,
        ..Layer::default()
    };
    if let Some(j) = raw.jobs {
        if *j.get_ref() == 0 {
            return Err(invalid(Some(j.span()), "`jobs` must be at least 1".into()));
        }
        layer.jobs = Some(Setting {
            source: from(j.span()),
            value: j.into_inner(),
        });
    }
    if let Some(k) = raw.servers {
        if *k.get_ref() == 0 {
            return Err(invalid(
                Some(k.span()),
                "`servers` must be at least 1".into(),
            ));
        }
        layer.servers = Some(Setting {
            source: from(k.span()),
            value: k.into_inner(),
        });
    }
    if let Some(m) = raw.models {
        if let Some(bad) = m
            .get_ref()
            .iter()
            .find(|m| crate::opencode::types::ModelRef::parse(m).is_none())
        {
            return Err(invalid(
                Some(m.span()),
                format!("model `{bad}` is not of the form provider/model"),
            ));
        }
        layer.models = Some(Setting {
            source: from(m.span()),
            value: m.into_inner(),
        });
    }
    if let Some(t) = raw.timeout {
        let value = humantime::parse_duration(t.get_ref())
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                invalid(
                    Some(t.span()),
                    format!(
                        "`timeout` \"{}\" is not a duration like 90s, 30m or 1h",
                        t.get_ref()
                    ),
                )
            })?;
        layer.timeout = Some(Setting {
            source: from(t.span()),
            value,
        });
    }
    if let Some(p) = raw.ports {
        let max = crate::dispatch::ports::MAX_BLOCK;
        if !(1..=max).contains(p.get_ref()) {
            return Err(invalid(
                Some(p.span()),
                format!("`ports` must be between 1 and {max}"),
            ));
        }
        layer.ports = Some(Setting {
            source: from(p.span()),
            value: p.into_inner(),
        });
    }
    if let Some(w) = raw.worktree_root {
        let source = from(w.span());
        let value = expand_root(w.get_ref(), repo_root)
            .ok_or_else(|| invalid(Some(w.span()), "`worktree_root` must not be empty".into()))?;
        layer.worktree_root = Some(Setting { value, source });
    }
    layer.judge = raw.judge.map(|j| Setting {
        source: from(j.span()),
        value: j.into_inner(),
    });
    Ok(layer)
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
mod tests {
    use super::*;

    #[test]
    fn names_line_of_unknown_key() {
        let text = "jobs = 2\n\nmodel = \"a/b\"\n";
        let err = parse_layer(text, Path::new("/r/.ocfork.toml"), None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/r/.ocfork.toml:3: "), "{msg}");
        assert!(msg.contains("model"), "{msg}");
    }

    #[test]
    fn names_line_of_bad_type_and_value() {
        let err = parse_layer(
            "agent = \"x\"\njobs = \"four\"\n",
            Path::new("c.toml"),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("c.toml:2: "), "{err}");
        let err = parse_layer("\ntimeout = \"soon\"\n", Path::new("c.toml"), None)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:2: "), "{err}");
    }

    #[test]
    fn relative_root_is_under_the_repo() {
        let layer = parse_layer(
            "worktree_root = \"../wt\"\n",
            Path::new("c"),
            Some(Path::new("/r/app")),
        )
        .unwrap();
        // Lexically normalised, as `config` shows it.
        assert_eq!(layer.worktree_root.unwrap().value, PathBuf::from("/r/wt"));
    }
}
