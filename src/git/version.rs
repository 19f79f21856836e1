//! The git ocfork runs: `git merge-tree --write-tree --merge-base` (the merge check, carrying
//! uncommitted changes onto another base) came with git 2.40, so the version is checked once,
//! the first time ocfork needs that, and an older git is named in a clear error.

use std::sync::OnceLock;

use super::{GitError, Result};

/// The oldest git with `merge-tree --write-tree --merge-base`.
const NEEDED: (u32, u32) = (2, 40);

/// Ok when git is new enough for `merge-tree --write-tree --merge-base`; asks git once.
pub fn require_merge_tree() -> Result<()> {
    static CHECKED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let out = std::process::Command::new("git")
                .arg("--version")
                .output()
                .map_err(|e| format!("cannot run git: {e}"))?;
            check(&String::from_utf8_lossy(&out.stdout))
        })
        .clone()
        .map_err(GitError::Version)
}

/// Ok for the text of `git --version` when it names a new enough git (or one whose number
/// cannot be read: then git itself has the last word).
fn check(text: &str) -> std::result::Result<(), String> {
    let Some(version) = text.trim().strip_prefix("git version ") else {
        return Ok(());
    };
    let mut parts = version.split(['.', ' ', '-']).map(|p| p.parse::<u32>());
    let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    if (major, minor) >= NEEDED {
        return Ok(());
    }
    Err(format!(
        "ocfork needs git {}.{} or newer (for `git merge-tree --write-tree --merge-base`); this is git {version}",
        NEEDED.0, NEEDED.1
    ))
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn reads_the_version() {
        assert!(check("git version 2.47.3\n").is_ok());
        assert!(check("git version 2.40.0.windows.1").is_ok());
        assert!(check("git version 3.0.0").is_ok());
        let err = check("git version 2.39.2 (Apple Git-143)\n").unwrap_err();
        assert!(
            err.contains("git 2.40 or newer") && err.contains("2.39.2"),
            "{err}"
        );
        assert!(check("something else").is_ok());
    }
}
