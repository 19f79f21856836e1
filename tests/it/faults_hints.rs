//! Errors say what failed, in the user's words, with git's own message under them and only the
//! hints that fit: run state that cannot be written, a merge whose HEAD moved meanwhile, git
//! failing while comparing a fork; and a fork holding a nested repository (a gitlink) reports.

use crate::common::*;

fn world_a() -> World {
    world(vec![writes("Use a", &[("a.txt", "a\n")])])
}

#[test]
fn run_state_that_cannot_be_written_says_so() {
    let w = world_a();
    // A file where the runs' folder should be: writing fails (as root, too).
    let ocfork = w.repo.join(".git/ocfork");
    std::fs::create_dir_all(&ocfork).expect("mkdir");
    std::fs::write(ocfork.join("runs"), "x").expect("write");
    let out = w.run(&["try", "-n", "state", "a=Use a"]);
    let err = stderr(&out);
    exits_with(&out, 1, "cannot write run state");
    assert!(
        err.contains(ocfork.join("runs").to_str().expect("utf8")),
        "names the path: {err}"
    );
    assert!(err.contains("(os error "), "says the OS error: {err}");
    assert!(!err.contains("pick another name"), "a wrong hint: {err}");
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");
}
