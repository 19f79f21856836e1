//! What every worktree of a repository shares and an agent in a fork could still change: the
//! stash, the branches outside `ocfork/`, and the main working tree. Read before and after a
//! run, so that what changed meanwhile is said, and stash entries that went are kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Repo, Result};

/// The shared state at one moment.
#[derive(Clone, Debug, Default)]
pub struct SharedState {
    /// The stash entries' commits, newest first.
    stash: Vec<String>,
    /// Branches outside `ocfork/`, with their commits.
    branches: BTreeMap<String, String>,
    /// The main tree's changed and untracked files: git's status letters, size and mtime.
    tree: BTreeMap<String, (String, u64, i128)>,
}

impl Repo {
    /// The shared state now; paths under `skip` (the run's worktrees, when they sit inside
    /// the main tree) are left out of the main tree's.
    pub fn shared_state(&self, skip: &Path) -> Result<SharedState> {
        let stash = self
            .git(["log", "-g", "--format=%H", "refs/stash", "--"])
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let out = self.git([
            "for-each-ref",
            "--format=%(objectname) %(refname:strip=2)",
            "refs/heads/",
        ])?;
        let branches = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, name)| !name.starts_with("ocfork/"))
            .map(|(id, name)| (name.to_string(), id.to_string()))
            .collect();
        let entries =
            super::merge::status_entries(self.workdir.as_path(), &["--ignore-submodules=all"])?;
        let skip = skip.strip_prefix(&self.workdir).ok().map(PathBuf::from);
        let mut tree = BTreeMap::new();
        for (xy, path, _) in entries {
            let path = String::from_utf8_lossy(&path).into_owned();
            if skip
                .as_ref()
                .is_some_and(|s| !s.as_os_str().is_empty() && Path::new(&path).starts_with(s))
            {
                continue;
            }
            let meta = std::fs::symlink_metadata(self.workdir.join(&path)).ok();
            let size = meta.as_ref().map_or(0, |m| m.len());
            let mtime = meta
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i128);
            let xy = String::from_utf8_lossy(&xy).into_owned();
            tree.insert(path, (xy, size, mtime));
        }
        Ok(SharedState {
            stash,
            branches,
            tree,
        })
    }

    /// What changed from `before` to `after`, in words, keeping each stash entry that went
    /// as `refs/ocfork/<run>/stash/<n>` so it can be brought back.
    pub fn shared_changes(
        &self,
        run: &str,
        before: &SharedState,
        after: &SharedState,
    ) -> Vec<String> {
        let mut said = Vec::new();
        let gone: Vec<&String> = before
            .stash
            .iter()
            .filter(|s| !after.stash.contains(s))
            .collect();
        for (n, id) in gone.iter().enumerate() {
            let kept = format!("refs/ocfork/{run}/stash/{n}");
            let saved = self.git(["update-ref", &kept, id.as_str()]).is_ok();
            said.push(if saved {
                format!(
                    "your stash lost entry {} while the run ran (an agent's `git stash pop` or `drop`?); kept as {kept}: `git stash store -m restored {id}` puts it back",
                    super::short_id(id)
                )
            } else {
                format!(
                    "your stash lost entry {id} while the run ran; `git stash store -m restored {id}` puts it back"
                )
            });
        }
        let new_stash = after
            .stash
            .iter()
            .filter(|s| !before.stash.contains(s))
            .count();
        if new_stash > 0 {
            said.push(format!(
                "your stash gained {new_stash} entr{} while the run ran (`git stash list`)",
                if new_stash == 1 { "y" } else { "ies" }
            ));
        }
        for (name, id) in &after.branches {
            match before.branches.get(name) {
                None => said.push(format!(
                    "branch {name} was made while the run ran (at {}); it is not the run's, so ocfork leaves it",
                    super::short_id(id)
                )),
                Some(old) if old != id => said.push(format!(
                    "branch {name} moved while the run ran, from {} to {}",
                    super::short_id(old),
                    super::short_id(id)
                )),
                Some(_) => {}
            }
        }
        for (name, id) in &before.branches {
            if !after.branches.contains_key(name) {
                said.push(format!(
                    "branch {name} was deleted while the run ran; `git branch {name} {id}` brings it back"
                ));
            }
        }
        let changed: Vec<&String> = after
            .tree
            .iter()
            .filter(|(p, v)| before.tree.get(*p) != Some(v))
            .map(|(p, _)| p)
            .chain(before.tree.keys().filter(|p| !after.tree.contains_key(*p)))
            .collect();
        if !changed.is_empty() {
            let mut list: Vec<&str> = changed.iter().take(10).map(|s| s.as_str()).collect();
            if changed.len() > 10 {
                list.push("...");
            }
            said.push(format!(
                "files in your working tree {} changed while the run ran (by an agent writing outside its worktree, or by you): {}",
                self.workdir.display(),
                list.join(", ")
            ));
        }
        said
    }
}
