//! Agents on a host cannot fool ocfork there either: the forks share the host's mirror, so an
//! agent can move another fork's branch there, switch its own worktree to another branch, or
//! delete its worktree's `.git` while another run uses the mirror (or is cleaned); what comes
//! home is still each fork's own work, on its branch.

use std::time::Duration;

use crate::common::sshd::{
    SshHost, assert_both_home, host_config, run_with_hosts, ssh_env, try_on_hosta,
};
use crate::common::*;

#[test]
fn agents_on_a_host_moving_another_forks_branch_or_their_git_link_do_not_change_what_comes_home() {
    // a's agent, until released, puts b's branch in the host's mirror back at the run's start
    // whenever it is anywhere else (so once b's work is committed there, before it is fetched).
    // It also deletes its worktree's `.git` link first.
    let mover = bash(
        "g=$(git rev-parse --absolute-git-dir); s=$(git rev-parse HEAD); rm -f .git; \
         touch .started; b=refs/heads/ocfork/r/b; \
         for i in $(seq 6000); do [ -e .go ] && break; \
         [ \"$(git --git-dir=\"$g\" rev-parse -q --verify $b)\" = \"$s\" ] || \
         git --git-dir=\"$g\" update-ref $b \"$s\"; \
         sleep 0.02; done; rm -f .started .go",
    );
    let w = world(vec![
        writes_then("Approach A", ("src/a.js", "export const a = 1;\n"), mover),
        // b's agent commits its work on a branch of its own there.
        writes_then(
            "Approach B",
            ("src/b.js", "export const b = 2;\n"),
            bash("git checkout -q -b elsewhere && git add -A && git commit -qm mine"),
        ),
        writes("Approach C", &[("src/c.js", "export const c = 3;\n")]),
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
    // Another run on the host meanwhile (its worktree made in the same mirror, where git
    // would prune a worktree whose `.git` is gone) leaves a's worktree a worktree.
    let other = run_with_hosts(
        &w,
        &[
            "try",
            "--json",
            "-n",
            "r2",
            "--host",
            "hosta",
            "c=Approach C",
        ],
    );
    assert_eq!(fork(&ok_json(&other), "c")["state"], "done");
    // So does cleaning that run (its worktree removed from the mirror, where git would prune
    // a's), a's agent having deleted the link once more.
    host.sh(
        &w,
        &format!("find '{dir}' -name .started -execdir rm -f .git \\;"),
    );
    ok(&run_with_hosts(&w, &["clean", "r2", "--force"]));
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
