//! Ignored files a fork needs (`.env`, local config): those of the main tree that match
//! `.worktreeinclude` (gitignore syntax) or a `--copy` glob are copied into a new worktree.
//! Only files git ignores in the main tree AND would ignore in the worktree are copied, so
//! `git add -A` in the fork can never commit them. OpenCode's own project config that git
//! does not track (`opencode.json`, `.opencode/`) is copied too, so forks run with the config
//! the user runs with; the list of copies keeps it out of the fork's commits.

use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::{GitError, Result, git};

/// The file at the repo root that lists ignored files to copy into every fork.
pub const INCLUDE_FILE: &str = ".worktreeinclude";

/// What [`copy_ignored`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    /// Paths copied, relative to the tree's top.
    pub copied: Vec<String>,
    /// Matching paths left out because git would not ignore them in the worktree (tracked
    /// there, or not ignored by the worktree's own `.gitignore`).
    pub skipped: Vec<String>,
}

/// The patterns of `.worktreeinclude` in `main` plus `globs`; None when there are none.
fn matcher(main: &Path, globs: &[String]) -> Result<Option<Gitignore>> {
    let file = main.join(INCLUDE_FILE);
    if !file.is_file() && globs.is_empty() {
        return Ok(None);
    }
    let mut builder = GitignoreBuilder::new(main);
    if file.is_file()
        && let Some(e) = builder.add(&file)
    {
        return Err(GitError::Pattern {
            what: format!("cannot read {}", file.display()),
            error: Box::new(e),
        });
    }
    for glob in globs {
        builder
            .add_line(None, glob)
            .map_err(|e| GitError::Pattern {
                what: format!("--copy `{glob}` is not a valid pattern"),
                error: Box::new(e),
            })?;
    }
    let m = builder.build().map_err(|e| GitError::Pattern {
        what: format!("bad pattern in {}", file.display()),
        error: Box::new(e),
    })?;
    Ok(Some(m))
}

/// Checks `.worktreeinclude` and the globs without copying anything.
pub fn check_patterns(main: &Path, globs: &[String]) -> Result<()> {
    matcher(main, globs).map(|_| ())
}

/// Which of `paths` (ignored files of `main`) `.worktreeinclude` or `globs` select.
pub fn selected(main: &Path, globs: &[String], paths: &[String]) -> Result<Vec<String>> {
    let Some(m) = matcher(main, globs)? else {
        return Ok(Vec::new());
    };
    Ok(paths
        .iter()
        .filter(|p| m.matched_path_or_any_parents(p, false).is_ignore())
        .cloned()
        .collect())
}

/// Copies the ignored files of `main` that the patterns select into the same place in
/// `worktree`.
pub fn copy_ignored(main: &Path, worktree: &Path, globs: &[String]) -> Result<Copied> {
    let wanted = wanted(main, globs)?;
    if wanted.is_empty() {
        return Ok(Copied::default());
    }
    let ignored_there = ignored_in(worktree, &wanted)?;
    let mut result = Copied::default();
    for path in wanted {
        if !ignored_there.contains(&path) {
            result.skipped.push(path);
            continue;
        }
        copy_entry(&main.join(&path), &worktree.join(&path))?;
        result.copied.push(path);
    }
    Ok(result)
}

/// The ignored files of `main` that `.worktreeinclude` or `globs` select, relative to its top.
pub fn wanted(main: &Path, globs: &[String]) -> Result<Vec<String>> {
    let Some(m) = matcher(main, globs)? else {
        return Ok(Vec::new());
    };
    let out = git(
        main,
        [
            "ls-files",
            "-z",
            "--others",
            "--ignored",
            "--exclude-standard",
        ],
    )?;
    Ok(split_z(&out.stdout)
        .filter(|p| m.matched_path_or_any_parents(p, false).is_ignore())
        .collect())
}

/// Which of `paths` git ignores in `dir` (tracked files never count as ignored).
fn ignored_in(dir: &Path, paths: &[String]) -> Result<Vec<String>> {
    let mut input = Vec::new();
    for p in paths {
        input.extend_from_slice(p.as_bytes());
        input.push(0);
    }
    let failed = |stderr: String| GitError::Failed {
        args: "check-ignore -z --stdin".into(),
        dir: dir.to_path_buf(),
        stderr,
    };
    let mut cmd = super::command(dir);
    cmd.args(["check-ignore", "-z", "--stdin"]);
    let out = super::run(cmd, Some(&input))?;
    // Exit 1 means "none of them is ignored".
    match out.status.code() {
        Some(0) | Some(1) => Ok(split_z(&out.stdout).collect()),
        _ => Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )),
    }
}

fn split_z(raw: &[u8]) -> impl Iterator<Item = String> + '_ {
    raw.split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
}

/// Copies one file or symlink, making its parent folders.
fn copy_entry(from: &Path, to: &Path) -> Result<()> {
    let err = |what: &'static str, p: &Path, error: std::io::Error| GitError::Io {
        what,
        path: p.to_path_buf(),
        error,
    };
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err("create", parent, e))?;
    }
    let meta = std::fs::symlink_metadata(from).map_err(|e| err("read", from, e))?;
    if meta.file_type().is_symlink() {
        let target: PathBuf = std::fs::read_link(from).map_err(|e| err("read", from, e))?;
        std::os::unix::fs::symlink(&target, to).map_err(|e| err("create", to, e))?;
    } else {
        std::fs::copy(from, to).map_err(|e| err("copy to", to, e))?;
    }
    Ok(())
}

/// Files OpenCode writes into `.opencode/` itself (its plugin dependency).
const OPENCODE_OWN: [&str; 5] = [
    ".opencode/node_modules/",
    ".opencode/package.json",
    ".opencode/package-lock.json",
    ".opencode/bun.lock",
    ".opencode/.gitignore",
];

/// OpenCode's project config in `main` that git does not track (`opencode.json`,
/// `opencode.jsonc`, `.opencode/...`, OpenCode's own files there left out): the untracked
/// files, or with `ignored` the ignored ones.
pub fn opencode_config(main: &Path, ignored: bool) -> Vec<String> {
    let mut args = vec!["ls-files", "-z", "--others", "--exclude-standard"];
    if ignored {
        args.push("--ignored");
    }
    args.extend_from_slice(&["--", "opencode.json", "opencode.jsonc", ".opencode"]);
    let Ok(out) = git(main, &args) else {
        return Vec::new();
    };
    split_z(&out.stdout)
        .filter(|p| !OPENCODE_OWN.iter().any(|own| p.starts_with(own)))
        .collect()
}

/// OpenCode's project config in `main` that git does not hold: the untracked files, then the
/// ignored ones (see [`opencode_config`]).
pub fn opencode_config_not_held(main: &Path) -> Vec<String> {
    let mut paths = opencode_config(main, false);
    paths.extend(opencode_config(main, true));
    paths
}

/// Copies OpenCode's untracked and ignored project config from `main` into `worktree` where
/// the worktree has no such file (its checkout, or `--include-dirty`, brought its own), so
/// the fork's sessions run with the config the user runs with. Returns the paths copied.
pub fn carry_opencode_config(main: &Path, worktree: &Path) -> Result<Vec<String>> {
    let mut carried = Vec::new();
    for path in opencode_config_not_held(main) {
        let to = worktree.join(&path);
        if std::fs::symlink_metadata(&to).is_ok() || carried.contains(&path) {
            continue;
        }
        copy_entry(&main.join(&path), &to)?;
        carried.push(path);
    }
    Ok(carried)
}

/// Copies into a freshly made worktree and warns on stderr about files left out. Everything
/// copied is listed in the worktree's [`crate::paths::COPIED_LIST`], which keeps it out of the
/// fork's commits.
pub fn copy_into_new_worktree(main: &Path, worktree: &Path, globs: &[String]) -> Result<()> {
    let mut done = copy_ignored(main, worktree, globs)?;
    done.copied.extend(carry_opencode_config(main, worktree)?);
    if !done.copied.is_empty() {
        let list = super::copied_list(worktree)?;
        let mut text = done.copied.join("\0");
        text.push('\0');
        crate::private_fs::write(&list, text.as_bytes()).map_err(|error| GitError::Io {
            what: "write",
            path: list.clone(),
            error,
        })?;
    }
    if !done.skipped.is_empty() {
        crate::text::eprint_line(format!(
            "ocfork: warning: not copied into {} because git would not ignore them there: {}",
            worktree.display(),
            done.skipped.join(", ")
        ));
    }
    Ok(())
}
