//! Agents on a host cannot fool ocfork there either: the forks share the host's mirror, so an
//! agent can move another fork's branch there; what comes home is still that fork's own work.

use std::time::Duration;

use crate::common::sshd::{SshHost, assert_both_home, host_config, ssh_env, try_on_hosta};
use crate::common::*;

#[test]
fn an_agent_moving_another_forks_branch_on_the_host_does_not_change_what_comes_home() {
    // a's agent, until released, puts b's branch in the host's mirror back at the run's start
    // whenever it is anywhere else (so once b's work is committed there, before it is fetched).
    let mover = bash(
        "touch .started; s=$(git rev-parse HEAD); b=refs/heads/ocfork/r/b; \
         for i in $(seq 6000); do [ -e .go ] && break; \
         [ \"$(git rev-parse -q --verify $b)\" = \"$s\" ] || git update-ref $b \"$s\"; \
         sleep 0.02; done; rm -f .started .go",
    );
    let w = world(vec![
        writes_then("Approach A", ("src/a.js", "export const a = 1;\n"), mover),
        writes("Approach B", &[("src/b.js", "export const b = 2;\n")]),
    ]);
    let host = SshHost::start(&w, "hosta");
    host_config(&w, &[(&host, None)]);
    let (k, v) = ssh_env(&w);
    let child = (w.ocfork().env(k, v))
        .args(try_on_hosta(&["a=Approach A", "b=Approach B"]))
        .in_background();
    let b_ended = wait_until(Duration::from_secs(120), || {
        let out = w.run(&["status", "r", "--json"]);
        let status = serde_json::from_slice::<serde_json::Value>(&out.stdout).ok()?;
        let state = status["forks"]
            .as_array()?
            .iter()
            .find(|f| f["name"] == "b")?["state"]
            .clone();
        (state != "running" && state != "pending").then_some(status)
    });
    let dir = host.dir.display().to_string();
    // What b's branch names on the host now (a's agent moved it).
    let (_, there) = host.sh(
        &w,
        &format!("git --git-dir=\"$(ls -d '{dir}'/*.git)\" rev-parse refs/heads/ocfork/r/b"),
    );
    host.sh(
        &w,
        &format!("find '{dir}' -name .started -execdir touch .go \\;"),
    );
    let out = child.wait_with_output().expect("ocfork ends");
    let run = ok_json(&out);
    let status = b_ended.unwrap_or_else(|| panic!("fork b never ended: {run:#}"));
    assert_eq!(fork(&status, "b")["state"], "done", "{status:#}");
    assert_eq!(
        there.trim(),
        run["start"].as_str().unwrap_or(""),
        "{status:#}"
    );
    // Here, b's branch is b's work, the commit its run recorded.
    assert_both_home(&w);
    let b = fork(&run, "b");
    let here = w.git(&["rev-parse", "ocfork/r/b"]);
    assert_eq!(here.trim(), b["commit"].as_str().unwrap_or(""), "{run:#}");
}
