//! A host whose connection drops before its forks' turns: while its OpenCode server starts, or
//! while the run's start is pushed there. Its forks end `interrupted` (`host_gone`), not
//! failed, the forks here go on, and `resume` makes and runs them once the host is back.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::sshd::{SshHost, host_config, run_with_hosts as with_hosts, ssh_env};
use crate::common::*;

/// Writes an executable shell script.
fn script_file(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// `sh` code that says it is blocked (`: > blocked`) and waits until `go` exists.
fn blocks(blocked: &Path, go: &Path) -> String {
    format!(
        ": > '{}'; while [ ! -e '{}' ]; do sleep 0.1; done\n",
        blocked.display(),
        go.display()
    )
}

/// `try` of `approaches` over host `hosta` and `local`, in the background.
fn try_in_background(w: &World, run: &str, approaches: &[&str]) -> Child {
    let (k, v) = ssh_env(w);
    w.ocfork()
        .env(k, v)
        .args([
            "try", "--json", "-n", run, "--host", "hosta", "--host", "local",
        ])
        .args(approaches)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ocfork starts")
}

/// Waits for `blocked` to appear, then drops the host's connections and returns the run
/// `try` printed once it ended (exit 1: the run did not finish).
fn drop_when_blocked(
    host: &mut SshHost,
    child: Child,
    blocked: &Path,
    what: &str,
) -> serde_json::Value {
    if wait_until(Duration::from_secs(120), || blocked.exists()).is_none() {
        let mut child = child;
        let _ = child.kill();
        let out = child.wait_with_output().expect("ocfork ends");
        panic!("{what} never blocked: {}", stderr(&out));
    }
    host.drop_connections();
    let out = child.wait_with_output().expect("ocfork ends");
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    json(&out)
}

/// Once the host is back and what blocked goes on (`go`), `resume RUN` ends the host's fork
/// `name` `done`, with its agent's `file` (path, contents) on its branch.
fn resume_once_back(
    w: &World,
    host: &mut SshHost,
    go: &Path,
    run: &str,
    name: &str,
    (path, contents): (&str, &str),
) {
    host.come_back();
    std::fs::write(go, "").expect("write");
    let out = with_hosts(w, &["resume", run, "--json"]);
    assert_eq!(fork(&ok_json(&out), name)["state"], "done");
    w.assert_shows(&format!("ocfork/{run}/{name}:{path}"), contents);
}

/// The host's fork `name` of `run` is interrupted by the host's going, naming it.
fn assert_host_gone(run: &serde_json::Value, name: &str) {
    let f = fork(run, name);
    assert_eq!(f["host"], "hosta", "{run:#}");
    assert_eq!(f["state"], "interrupted", "{run:#}");
    assert_eq!(f["end"], "host_gone", "{run:#}");
    assert!(
        f["error"].as_str().is_some_and(|e| e.contains("hosta")),
        "{run:#}"
    );
}

/// One test for both drops: the first run makes the host's mirror, where the second run's
/// push then blocks (a `pre-receive` hook). A host costs ~20 s to make.
#[test]
fn a_host_dropping_while_its_server_starts_or_the_start_is_pushed_leaves_its_forks_interrupted() {
    let w = world(vec![
        writes("Approach A", &[("src/a.js", "export const a = 1;\n")]),
        writes("Approach B", &[("src/b.js", "export const b = 2;\n")]),
        writes("Approach C", &[("src/c.js", "export const c = 3;\n")]),
        writes("Approach D", &[("src/d.js", "export const d = 4;\n")]),
    ]);
    let mut host = SshHost::start(&w, "hosta");
    // The host's opencode: `serve` waits for `go` before it starts (`--version` does not).
    let (blocked, go) = (w.path("serve-blocked"), w.path("serve-go"));
    let opencode = w.path("blocking-opencode");
    script_file(
        &opencode,
        &format!(
            "#!/bin/sh\nif [ \"$1\" = serve ]; then {}fi\nexec '{}' \"$@\"\n",
            blocks(&blocked, &go),
            host.opencode.display()
        ),
    );
    host_config(&w, &[(&host, Some(&opencode))]);

    // The connection drops while the host's server starts.
    let child = try_in_background(&w, "r", &["a=Approach A", "b=Approach B"]);
    let run = drop_when_blocked(&mut host, child, &blocked, "the host's server start");
    assert_host_gone(&run, "a");
    // The fork here went on to its end.
    assert_eq!(fork(&run, "b")["state"], "done", "{run:#}");
    w.assert_shows("ocfork/r/b:src/b.js", "export const b = 2;\n");
    let status = json(&w.run(&["status", "r", "--json"]));
    assert_host_gone(&status, "a");
    // Back: resume starts the host's server, makes the fork there and runs it.
    let a = ("src/a.js", "export const a = 1;\n");
    resume_once_back(&w, &mut host, &go, "r", "a", a);

    // The connection drops while the run's start is pushed to the host's mirror.
    let (blocked, go) = (w.path("push-blocked"), w.path("push-go"));
    let hook = format!("#!/bin/sh\n{}", blocks(&blocked, &go));
    let install = format!(
        "for m in '{}'/*.git; do printf '%s' '{}' > \"$m/hooks/pre-receive\" && \
         chmod +x \"$m/hooks/pre-receive\" || exit 1; done",
        host.dir.display(),
        hook.replace('\'', r"'\''")
    );
    assert_eq!(host.sh(&w, &install).0, 0, "could not install the hook");
    let child = try_in_background(&w, "r2", &["c=Approach C", "d=Approach D"]);
    let run = drop_when_blocked(&mut host, child, &blocked, "the push of the run's start");
    assert_host_gone(&run, "c");
    assert_eq!(fork(&run, "d")["state"], "done", "{run:#}");
    let c = ("src/c.js", "export const c = 3;\n");
    resume_once_back(&w, &mut host, &go, "r2", "c", c);
}
