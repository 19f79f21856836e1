//! `session fork` over a pool of servers: forks of one session spread over the servers the
//! plugin is given, each to the least busy, and found afterwards wherever they ran.

use std::time::Duration;

use crate::common::serve::Serve;
use crate::common::*;
use crate::session_fork::{fork_twice_world, forked_twice};

/// Forks of one session spread over the servers the plugin is given (`OCFORK_POOL`), each to
/// the one with the fewest forks working; each fork's session is found afterwards wherever it
/// ran. A server that cannot be reached is named before anything is made.
#[test]
fn session_forks_spread_over_the_pool_of_servers() {
    // The first fork is still working when the parent asks for the second: held until the
    // second one's agent wrote its file.
    let mut redux = writes("Implement using Redux", &[("src/redux.js", "// redux\n")]);
    redux.steps.insert(0, held());
    let w = fork_twice_world(Vec::new(), redux);
    let other = Serve::start(&w, &[]);
    let (srv, s) = Serve::prompted(&w, &[("OCFORK_POOL", &other.url)], "Plan the todo store");
    let run = ocfork::relay::fork_run_name(&s);
    let root = w.path("app.ocfork").join(&run);
    let releaser = std::thread::spawn(move || {
        let both = wait_until(Duration::from_secs(120), || {
            let wts = folders_in(&root);
            let second = wts.iter().any(|wt| wt.join("src/context.js").exists());
            (second && wts.len() == 2).then_some(wts)
        });
        release(&both.expect("the second fork wrote its file"));
    });
    let (run, status) = forked_twice(&srv, &w, &s);
    releaser.join().expect("the releaser");
    let forks = status["forks"].as_array().expect("forks");
    let servers: Vec<&str> = forks.iter().filter_map(|f| f["server"].as_str()).collect();
    // The first fork found both servers idle and took the session's own; the second found
    // the first working there and went to the other.
    assert_eq!(servers, [srv.url.as_str(), other.url.as_str()], "{status}");
    for (fork, file) in forks.iter().zip(["src/redux.js", "src/context.js"]) {
        assert_eq!(fork["state"], "done", "{fork}");
        assert!(worktree_of(fork).join(file).is_file(), "{fork}");
        let name = fork["name"].as_str().expect("name");
        let attach = w.run(&["attach", &format!("{run}/{name}"), "--print"]);
        assert_eq!(attach.status.code(), Some(0), "{}", stderr(&attach));
        let session = fork["session"].as_str().expect("session");
        assert!(stdout(&attach).contains(session), "{}", stdout(&attach));
    }

    // Only a fork spreads over servers; the others talk to the session's one.
    let out = srv.session(
        &w,
        "message",
        &s,
        &["--server", &other.url, "Review the store"],
    );
    exits_with(&out, 2, "--server is given 2 times");
    // A server that does not answer is named, and nothing is made.
    let worktrees = w.git(&["worktree", "list"]);
    let gone = format!("http://127.0.0.1:{}", crate::common::session::free_port());
    let out = srv.session(
        &w,
        "fork",
        &s,
        &["--agent", "build", "--server", &gone, "Implement using Vue"],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains(&gone), "{}", stderr(&out));
    assert_eq!(w.git(&["worktree", "list"]), worktrees);
    let after = json(&w.run(&["status", &run, "--json"]));
    assert_eq!(after["forks"].as_array().map(Vec::len), Some(2), "{after}");
}
