//! Disk and permission failures while making a fork's worktree: a clear error naming the path,
//! and nothing half-registered — no branch, no worktree entry, nothing for `git worktree prune`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::*;

fn world_a() -> World {
    suite_world(vec![writes("Use a", &[("a.txt", "a\n")])])
}

/// Nothing of the run is left in git: no fork branch, no worktree entry, nothing to prune.
fn assert_nothing_registered(w: &World) {
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");
    let list = w.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 1, "{list}");
    assert_eq!(w.git(&["worktree", "prune", "--dry-run", "-v"]), "");
}

fn try_in_root(w: &World, root: &Path) -> serde_json::Value {
    w.seed_opencode_deps();
    let out = w
        .ocfork()
        .env("OCFORK_WORKTREE_ROOT", root)
        .args(["try", "--json", "-n", "disk", "a=Use a"])
        .output()
        .expect("try runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    json(&out)
}

#[test]
fn worktree_root_that_cannot_be_created() {
    let w = world_a();
    // A file where the root's folder should be: mkdir fails (as root, too).
    let blocker = w.path("not-a-dir");
    std::fs::write(&blocker, "x").expect("write");
    let run = try_in_root(&w, &blocker.join("worktrees"));
    let fork = &run["forks"][0];
    assert_eq!(fork["state"], "failed");
    let error = fork["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("could not create the worktree"),
        "{error}"
    );
    assert!(
        error.contains(blocker.to_str().expect("utf8")),
        "names the path: {error}"
    );
    assert_nothing_registered(&w);
    assert!(
        w.model.requests().is_empty(),
        "no model call for a fork without a worktree"
    );
}

#[test]
fn git_fails_after_creating_the_branch() {
    let w = world_a();
    // The fork's path is taken by a dangling symlink: `git worktree add -b` creates the branch,
    // then fails on the path. The branch must not stay behind, and the symlink is not touched.
    let root = w.path("roots");
    std::fs::create_dir_all(root.join("disk")).expect("mkdir");
    std::os::unix::fs::symlink("nowhere", root.join("disk/a")).expect("symlink");
    let run = try_in_root(&w, &root);
    let error = run["forks"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("already exists"), "git's reason: {error}");
    assert_nothing_registered(&w);
    assert!(root.join("disk/a").symlink_metadata().is_ok());
}

#[test]
fn read_only_worktree_root() {
    let w = world_a();
    let uid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .expect("id");
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        eprintln!("skipping: permissions do not bind root");
        return;
    }
    let root = w.path("ro");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let run = try_in_root(&w, &root);
    let error = run["forks"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("Permission denied") && error.contains(root.to_str().expect("utf8")),
        "{error}"
    );
    assert_nothing_registered(&w);
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
