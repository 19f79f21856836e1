//! The cleanup of a failed worktree, under the repository lock.

use std::path::PathBuf;
use std::process::Command;

use super::super::command::stdout_line;
use super::super::{Repo, git, with_repo_lock};

/// The cleanup of a worktree whose checkout failed waits for the repository lock that
/// another ocfork holds, like every change to refs and the worktree list.
#[test]
fn a_failed_worktree_is_undone_under_the_repository_lock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let main = tmp.path().join("main");
    std::fs::create_dir_all(&main).expect("mkdir");
    let run = |args: &[&str]| {
        let ok = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(&main)
            .output()
            .expect("git runs")
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    run(&["init", "-q", "-b", "main"]);
    std::fs::write(main.join("a.txt"), "a\n").expect("write");
    run(&["add", "-A"]);
    run(&["commit", "-q", "-m", "one"]);
    let repo = Repo::discover(&main).expect("repo");
    let path = tmp.path().join("wt");
    let made = repo
        .register_worktree(&path, "ocfork/r/a", "HEAD")
        .expect("registered");
    // The checkout fails: its index is locked.
    let gitdir = git(&path, ["rev-parse", "--absolute-git-dir"]).expect("git dir");
    std::fs::write(PathBuf::from(stdout_line(&gitdir)).join("index.lock"), "").expect("lock");

    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let common = repo.common_dir.clone();
    let probe = Repo::discover(&main).expect("repo");
    let holder = std::thread::spawn(move || {
        with_repo_lock(&common, || {
            held_tx.send(()).expect("send");
            std::thread::sleep(std::time::Duration::from_millis(1500));
            Ok(probe.branch_exists("ocfork/r/a"))
        })
    });
    held_rx.recv().expect("the other process holds the lock");
    assert!(repo.populate_worktree(&path, "ocfork/r/a", made).is_err());
    let kept_while_locked = holder.join().expect("holder").expect("lock");
    assert!(
        kept_while_locked,
        "the cleanup ran while another held the lock"
    );
    assert!(!repo.branch_exists("ocfork/r/a"));
    assert!(!repo.worktree_registered(&path));
}
