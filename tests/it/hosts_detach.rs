//! `try --detach` with `--host`: the background driver connects the hosts and holds their
//! connections; the forks on a host work there after `try` returned, and `wait` picks the run
//! up with their branches home. `try --ui --host` watches that driver's run in `ocfork ui`.

use std::time::Duration;

use crate::common::sshd::{SshHost, assert_both_home, host_config, run_with_hosts, ssh_env};
use crate::common::*;
use crate::tui::{Tmux, row};

#[test]
fn try_detach_with_a_host_drives_its_forks_in_the_background() {
    let w = world(vec![
        writes_then("Approach A", ("src/a.js", "export const a = 1;\n"), held()),
        writes("Approach B", &[("src/b.js", "export const b = 2;\n")]),
    ]);
    let host = SshHost::start(&w, "hosta");
    // A host that cannot run forks fails `try --detach` as it fails `try`: exit 2 naming it,
    // nothing recorded (the background driver's check is the command's).
    let missing = host.dir.join("no/opencode");
    host_config(&w, &[(&host, Some(&missing))]);
    let refused = [
        "try",
        "--detach",
        "-n",
        "r",
        "--host",
        "hosta",
        "a=Approach A",
    ];
    let out = run_with_hosts(&w, &refused);
    exits_with(&out, 2, "hosta");
    exits_with(&out, 2, "opencode is missing");
    assert!(!w.repo.join(".git/ocfork/runs/r.json").exists());
    host_config(&w, &[(&host, None)]);
    let logins = host.logins();
    let args = ["try", "--detach", "--json", "-n", "r", "--host", "hosta"];
    let more = ["--host", "local", "a=Approach A", "b=Approach B"];
    let out = run_with_hosts(&w, &[&args[..], &more[..]].concat());
    let run = ok_json(&out);
    // One connection to the host for the run: the background driver's, held to its end.
    assert_eq!(
        host.logins() - logins,
        1,
        "logins to the host for one detached run"
    );
    assert_eq!(fork(&run, "a")["host"], "hosta", "{run:#}");
    assert_eq!(fork(&run, "b")["host"], serde_json::Value::Null, "{run:#}");
    // `try` has returned; the agent on the host works under the background driver.
    let dir = host.dir.display().to_string();
    let started = wait_until(Duration::from_secs(120), || {
        host.sh(&w, &format!("find '{dir}' -name .started | grep -q ."))
            .0
            == 0
    });
    host.sh(
        &w,
        &format!("find '{dir}' -name .started -execdir touch .go \\;"),
    );
    assert!(started.is_some(), "the agent on the host never started");
    let out = run_with_hosts(&w, &["wait", "r", "--json"]);
    let run = ok_json(&out);
    for name in ["a", "b"] {
        assert_eq!(fork(&run, name)["state"], "done", "{run:#}");
    }
    assert_both_home(&w);
}

#[test]
fn try_ui_with_a_host_watches_its_forks_there_to_their_end() {
    let w = world(vec![
        writes("Approach A", &[("src/a.js", "export const a = 1;\n")]),
        writes("Approach B", &[("src/b.js", "export const b = 2;\n")]),
    ]);
    let host = SshHost::start(&w, "hosta");
    host_config(&w, &[(&host, None)]);
    let args = "try --ui -n r --host hosta --host local 'a=Approach A' 'b=Approach B'";
    let (k, v) = ssh_env(&w);
    let t = Tmux::start_env(&w, "host", args, (120, 40), &[(k, v)]);
    t.wait_for("both forks done in the UI", |s| {
        s.contains("run r")
            && row(s, "a").is_some_and(|r| r.contains("done"))
            && row(s, "b").is_some_and(|r| r.contains("done"))
    });
    // The fork on the host: its patch, read from its branch home.
    t.keys(&["Enter"]);
    t.wait_for("fork a's patch", |s| {
        s.contains("+export const a = 1;") && s.contains("src/a.js")
    });
    t.keys(&["q"]);
    let screen = t.wait_for("the exit code", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
    let out = run_with_hosts(&w, &["wait", "r", "--json"]);
    let run = ok_json(&out);
    assert_eq!(fork(&run, "a")["host"], "hosta", "{run:#}");
    assert_both_home(&w);
}
