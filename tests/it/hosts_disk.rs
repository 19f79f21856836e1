//! A host whose disk fills: its fork fails with the host's own message, and the forks
//! elsewhere go on.

use crate::common::sshd::{SshHost, host_config, run_with_hosts};
use crate::common::*;

#[test]
fn a_host_whose_disk_fills_fails_its_fork_with_the_hosts_message() {
    // The agent on the host fills the disk where ocfork keeps things there (its command
    // fails as the disk fills, as an agent's would).
    let mut a = writes("Approach A", &[("src/a.js", "export const a = 1;\n")]);
    a.steps
        .push(bash("head -c 8000000 /dev/zero > fill.bin; echo filled"));
    let w = world(vec![
        a,
        writes("Approach B", &[("src/b.js", "export const b = 2;\n")]),
    ]);
    let mut host = SshHost::start(&w, "hosta");
    // A disk of 2 MB there for ocfork's things (OpenCode keeps its data apart, as a host may).
    let small = host.dir.join("small");
    host.mount_tmpfs(&small, "2m");
    host.dir = small;
    host_config(&w, &[(&host, None)]);
    let args = [
        "try", "--json", "-n", "r", "--host", "hosta", "--host", "local",
    ];
    let out = run_with_hosts(&w, &[&args[..], &["a=Approach A", "b=Approach B"]].concat());
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let run = json(&out);
    let (a, b) = (fork(&run, "a"), fork(&run, "b"));
    assert_eq!(a["host"], "hosta", "{run:#}");
    assert_eq!(a["state"], "failed", "{run:#}");
    let error = a["error"].as_str().unwrap_or("");
    assert!(
        error.contains("hosta") && error.contains("No space left on device"),
        "{run:#}"
    );
    assert_eq!(b["state"], "done", "{run:#}");
    w.assert_shows("ocfork/r/b:src/b.js", "export const b = 2;\n");
}
