//! A host whose disk fills: its fork fails with the host's own message, and the forks
//! elsewhere go on; with `--server`, the forks here work on the user's server while the
//! host's work on the host's own.

use crate::common::sshd::{SshHost, host_config, ssh_env, try_on_hosta};
use crate::common::*;

#[test]
fn a_host_whose_disk_fills_fails_its_fork_while_the_fork_here_works_on_the_users_server() {
    // The agent on the host fills the disk where ocfork keeps things there (its command
    // fails as the disk fills, as an agent's would).
    let mut a = writes("Approach A", &[("src/a.js", "export const a = 1;\n")]);
    a.steps
        .push(bash("head -c 8000000 /dev/zero > fill.bin; echo filled"));
    let w = world(vec![
        a,
        writes("Approach B", &[("src/b.js", "export const b = 2;\n")]),
    ]);
    let server = crate::common::serve::Serve::start(&w, &[]);
    let mut host = SshHost::start(&w, "hosta");
    // A disk of 2 MB there for ocfork's things (OpenCode keeps its data apart, as a host may).
    let small = host.dir.join("small");
    host.mount_tmpfs(&small, "2m");
    host.dir = small;
    host_config(&w, &[(&host, None)]);
    let (k, v) = ssh_env(&w);
    let args = [
        "--server",
        &server.url,
        "--host",
        "local",
        "a=Approach A",
        "b=Approach B",
    ];
    let out = w
        .ocfork()
        .env("OPENCODE_SERVER_PASSWORD", &server.password)
        .env(k, v)
        .args(try_on_hosta(&args))
        .output()
        .expect("ocfork runs");
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
    // The fork here finished, on the user's server (its session is there); the host's fork
    // worked on the host's.
    assert_eq!(b["state"], "done", "{run:#}");
    w.assert_shows("ocfork/r/b:src/b.js", "export const b = 2;\n");
    assert_eq!(run["server"], server.url.as_str(), "{run:#}");
    assert_eq!(b["host"], serde_json::Value::Null, "{run:#}");
    assert_eq!(b["server"], server.url.as_str(), "{run:#}");
    assert_ne!(a["server"], server.url.as_str(), "{run:#}");
    let session = b["session"].as_str().expect("session");
    let messages = server.messages(session, &worktree_of(b));
    assert!(
        !messages.is_empty(),
        "no session {session} on the user's server"
    );
}
