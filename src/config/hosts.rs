//! The `[[host]]` tables: machines `try --host NAME` runs forks on, over the system's OpenSSH.

use serde::Deserialize;

/// Where ocfork keeps its things on a host when its table does not say.
pub const DEFAULT_HOST_DIR: &str = "~/.cache/ocfork";

/// A `[[host]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHost {
    name: Option<String>,
    ssh: Option<String>,
    opencode: Option<String>,
    dir: Option<String>,
    servers: Option<usize>,
    jobs: Option<usize>,
}

/// One host: what `--host` names, and how to reach and use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// What `--host` names (the table's `name`, else its `ssh`).
    pub name: String,
    /// What `ssh` connects to: an alias of `~/.ssh/config`, `user@host`, `ssh://user@host:port`.
    pub ssh: String,
    /// The opencode binary on the host (default: `opencode` on the host's PATH).
    pub opencode: String,
    /// Where ocfork keeps mirrors and worktrees on the host (`~/` is the host's home).
    pub dir: String,
    /// OpenCode servers on the host to spread its forks over (default 1).
    pub servers: Option<usize>,
    /// Forks prompting at once on the host.
    pub jobs: Option<usize>,
}

impl HostConfig {
    /// A host named on the command line with no table: ssh gets the name as it is.
    pub fn plain(name: &str) -> HostConfig {
        HostConfig {
            name: name.to_string(),
            ssh: name.to_string(),
            opencode: "opencode".into(),
            dir: DEFAULT_HOST_DIR.into(),
            servers: None,
            jobs: None,
        }
    }
}

pub(super) fn check(raw: Vec<RawHost>) -> Result<Vec<HostConfig>, String> {
    let mut hosts: Vec<HostConfig> = Vec::new();
    for h in raw {
        let ssh = match (h.ssh, &h.name) {
            (Some(s), _) => s,
            (None, Some(n)) => n.clone(),
            (None, None) => return Err("a [[host]] needs `ssh` or `name`".into()),
        };
        let name = h.name.unwrap_or_else(|| ssh.clone());
        if name == "local" || name.trim().is_empty() || ssh.trim().is_empty() {
            return Err(format!(
                "[[host]] `{name}`: the name must not be empty or `local`"
            ));
        }
        if hosts.iter().any(|o| o.name == name) {
            return Err(format!("[[host]] `{name}` is there twice"));
        }
        if h.servers == Some(0) || h.jobs == Some(0) {
            return Err(format!(
                "[[host]] `{name}`: `servers` and `jobs` must be at least 1"
            ));
        }
        hosts.push(HostConfig {
            name,
            ssh,
            opencode: h.opencode.unwrap_or_else(|| "opencode".into()),
            dir: h.dir.unwrap_or_else(|| DEFAULT_HOST_DIR.into()),
            servers: h.servers,
            jobs: h.jobs,
        });
    }
    Ok(hosts)
}

/// `high`'s hosts, and those of `low` that `high` does not name.
pub(super) fn merge(high: Vec<HostConfig>, low: Vec<HostConfig>) -> Vec<HostConfig> {
    let mut all = high;
    for h in low {
        if !all.iter().any(|o| o.name == h.name) {
            all.push(h);
        }
    }
    all
}

/// The hosts `names` mean: their `[[host]]` tables, else ssh destinations as given. `local`
/// (this machine) is left out.
pub fn named(names: &[String], config: &[HostConfig]) -> Vec<HostConfig> {
    let mut out: Vec<HostConfig> = Vec::new();
    for n in names.iter().filter(|n| n.as_str() != "local") {
        if out.iter().any(|h| &h.name == n) {
            continue;
        }
        let found = config.iter().find(|h| &h.name == n).cloned();
        out.push(found.unwrap_or_else(|| HostConfig::plain(n)));
    }
    out
}
