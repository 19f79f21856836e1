//! Forks on hosts after their first turn: `continue` and `attach` reach a remote fork's session
//! on its host (`continue` brings the new commit home); a host whose connection drops mid-run
//! leaves its forks `interrupted` while the others finish, and `resume` picks them up once it is
//! back.

use std::process::Stdio;
use std::time::Duration;

use crate::common::sshd::{
    SshHost, assert_both_home, host_config, host_config_jobs, run_with_hosts as with_hosts, ssh_env,
};
use crate::common::*;

/// Forks over a host and `local`: spread by load (the host takes 1 at once, here 2: the host
/// gets a and d, never two at once), each branch comes home with the agent's files but not the
/// host server's password, `open` and `attach` find the remote fork on its host, `continue`
/// runs there (also once the host lost the fork, setup running again there), and diff, merge
/// and status work here as for any fork. One test: a host and a run cost ~30 s to make.
#[test]
fn forks_over_a_host_and_local_come_home_and_continue_there() {
    let mut a = writes("Approach A", &[("src/a.js", "export const a = 1;\n")]);
    // OpenCode hands its password to agents' shell commands, on a host too; and an agent
    // deletes a tracked file (the password is looked for in the files that are left).
    a.steps.push(bash("env > envdump.txt && rm README.md"));
    let w = world(vec![
        a,
        writes("Approach B", &[("src/b.js", "export const b = 2;\n")]),
        writes("Approach C", &[("src/c.js", "export const c = 3;\n")]),
        writes("Approach D", &[("src/d.js", "export const d = 4;\n")]),
        writes("Add a test for a", &[("src/a.test.js", "test(a);\n")]),
        writes("Add docs for a", &[("docs/a.md", "# a\n")]),
    ]);
    let host = SshHost::start(&w, "hosta");
    host_config_jobs(&w, &[(&host, None)], Some(1));
    // Setup runs where a worktree is made: on the host, and again there once it was lost.
    let args = [
        "try",
        "--json",
        "-n",
        "r",
        "--host",
        "hosta",
        "--host",
        "local",
        "-j",
        "2",
        "--setup",
        "echo ran >> setup-runs.txt",
    ];
    let prompts = [
        "a=Approach A",
        "b=Approach B",
        "c=Approach C",
        "d=Approach D",
    ];
    let out = with_hosts(&w, &[&args[..], &prompts[..]].concat());
    let first = ok_json(&out);
    let a = fork(&first, "a");
    // By load for capacity (1 there, 2 here), not in turn: a and d on the host.
    for (name, on_host) in [("a", true), ("b", false), ("c", false), ("d", true)] {
        let f = fork(&first, name);
        assert_eq!(f["state"], "done", "{first:#}");
        assert_eq!(f["host"] == "hosta", on_host, "{name}: {first:#}");
    }
    // The host's `jobs = 1`: its two forks' turns never talked to the model at once.
    let sessions = [a, fork(&first, "d")].map(|f| f["session"].as_str().expect("session"));
    let turns = w.model.requests();
    let spans = sessions.map(|s| {
        let reqs = turns
            .iter()
            .filter(|r| r.agent_turn && r.session.as_deref() == Some(s));
        let start = reqs.clone().map(|r| r.started_ms).min().expect("requests");
        (start, reqs.map(|r| r.ended_ms).max().expect("requests"))
    });
    assert!(
        spans[0].1 <= spans[1].0 || spans[1].1 <= spans[0].0,
        "the host ran two forks at once: {spans:?}"
    );
    // The host server's password was taken out of the agent's file before its commit.
    let files = w.git(&["ls-tree", "-r", "--name-only", "ocfork/r/a"]);
    assert!(!files.lines().any(|f| f == "README.md"), "{files}");
    let dumped = w.git(&["show", "ocfork/r/a:envdump.txt"]);
    assert_password_scrubbed(&dumped, &out);
    // The remote fork's worktree is on the host, not here, with the agent's file.
    let remote_tree = worktree_of(a);
    assert!(remote_tree.starts_with(&host.dir), "{first:#}");
    assert!(!remote_tree.exists(), "the host's worktree shows locally");
    let (code, _) = host.sh(&w, &format!("test -f '{}/src/a.js'", remote_tree.display()));
    assert_eq!(code, 0, "no worktree with the agent's file on the host");
    assert_both_home(&w);
    assert_eq!(
        a["commit"].as_str(),
        Some(w.git(&["rev-parse", "ocfork/r/a"]).trim())
    );
    let first_tip = w.git(&["rev-parse", "ocfork/r/a"]);

    // `open` says where the fork is: on its host.
    let opened = ok(&with_hosts(&w, &["open", "r/a"]));
    assert_eq!(opened.trim(), format!("hosta:{}", remote_tree.display()));
    // `attach` opens OpenCode on the fork's session there, over ssh: here a stand-in opencode
    // on the host writes down where and how it ran.
    let session = fork(&first, "a")["session"].as_str().expect("session");
    let (fake, log) = (w.path("fake-opencode"), w.path("attach-argv.txt"));
    let fake_text = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$PWD\" \"$@\" > '{}'\n",
        log.display()
    );
    std::fs::write(&fake, fake_text).expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    host_config(&w, &[(&host, Some(&fake))]);
    ok(&with_hosts(&w, &["attach", "r/a"]));
    let tree = remote_tree.display().to_string();
    assert_eq!(
        read(&log).lines().collect::<Vec<_>>(),
        vec![tree.as_str(), tree.as_str(), "--session", session]
    );
    host_config(&w, &[(&host, None)]);

    let out = with_hosts(&w, &["continue", "r/a", "Add a test for a", "--json"]);
    let run = ok_json(&out);
    let a = fork(&run, "a");
    assert_eq!(a["state"], "done", "{run:#}");
    // The new commit is home, on top of the first, with both files.
    w.assert_shows("ocfork/r/a:src/a.test.js", "test(a);\n");
    w.assert_shows("ocfork/r/a:src/a.js", "export const a = 1;\n");
    assert_eq!(w.git(&["rev-parse", "ocfork/r/a^"]), first_tip);
    w.assert_shows("ocfork/r/a:setup-runs.txt", "ran\n");
    assert_eq!(
        a["commit"].as_str(),
        Some(w.git(&["rev-parse", "ocfork/r/a"]).trim())
    );
    // The turn ran in the host's worktree, not here.
    assert!(!remote_tree.exists(), "the host's worktree shows locally");
    let (code, _) = host.sh(
        &w,
        &format!("test -f '{}/src/a.test.js'", remote_tree.display()),
    );
    assert_eq!(
        code, 0,
        "the follow-up's file is not in the host's worktree"
    );
    // The local fork was left alone.
    assert_eq!(fork(&run, "b")["state"], "done");

    // Work in the host's worktree that no commit holds (as a dropped connection leaves it)
    // keeps `clean --force` off the fork there.
    let stray = format!("{}/notes.txt", remote_tree.display());
    assert_eq!(host.sh(&w, &format!("echo draft > '{stray}'")).0, 0);
    let kept = with_hosts(&w, &["clean", "r", "--force"]);
    assert_ne!(kept.status.code(), Some(0), "{}", stderr(&kept));
    assert!(stderr(&kept).contains("not committed"), "{}", stderr(&kept));
    assert_eq!(host.sh(&w, &format!("test -f '{stray}'")).0, 0);

    // The host lost the fork (worktree and branch): continue makes it again there from the
    // branch here, and the fork goes on from its last commit.
    let second_tip = w.git(&["rev-parse", "ocfork/r/a"]);
    let worktrees = remote_tree
        .parent()
        .and_then(|p| p.parent())
        .expect("run folder");
    let mirror = format!(
        "{}.git",
        worktrees
            .display()
            .to_string()
            .trim_end_matches(".worktrees")
    );
    let wipe = format!(
        "rm -rf '{}' && git --git-dir='{mirror}' worktree prune && \
         git --git-dir='{mirror}' branch -D ocfork/r/a",
        remote_tree.display()
    );
    assert_eq!(
        host.sh(&w, &wipe).0,
        0,
        "could not wipe the fork on the host"
    );
    let out = with_hosts(&w, &["continue", "r/a", "Add docs for a"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(w.git(&["rev-parse", "ocfork/r/a^"]), second_tip);
    w.assert_shows("ocfork/r/a:docs/a.md", "# a\n");
    w.assert_shows("ocfork/r/a:setup-runs.txt", "ran\nran\n");
    w.assert_shows("ocfork/r/a:src/a.test.js", "test(a);\n");

    // Everything after the turn works locally, unchanged.
    let diff = ok(&w.run(&["diff", "a"]));
    assert!(diff.contains("src/a.js"), "{diff}");
    ok(&w.run(&["merge", "a"]));
    assert_eq!(read(w.repo.join("src/a.js")), "export const a = 1;\n");
    let status = json(&w.run(&["status", "r", "--json"]));
    assert_eq!(fork(&status, "a")["host"], "hosta");
    // The table says where each fork worked.
    let table = ok(&w.run(&["status", "r"]));
    let row = |name: &str| -> Vec<String> {
        let line = table.lines().find(|l| l.starts_with(&format!("{name} ")));
        line.unwrap_or("")
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(row("FORK")[..3], ["FORK", "HOST", "STATE"], "{table}");
    assert_eq!(row("a")[..2], ["a", "hosta"], "{table}");
    assert_eq!(row("b")[..2], ["b", "local"], "{table}");
}

/// The agent on the host writes its file, then says it started and waits for a `go` that
/// never comes: the host drops while it works.
fn waits_on_the_host() -> Rule {
    writes_then(
        "Approach A",
        ("src/a.js", "export const a = 1;\n"),
        bash("touch started-a; while [ ! -e go ]; do sleep 0.2; done"),
    )
}

#[test]
fn a_host_dropping_mid_run_leaves_its_forks_interrupted_and_resume_finishes_them() {
    let w = world(vec![
        waits_on_the_host(),
        writes("Approach B", &[("src/b.js", "export const b = 2;\n")]),
        writes("Approach C", &[("src/c.js", "export const c = 3;\n")]),
        writes(
            "previous run was interrupted",
            &[("src/a2.js", "export const a2 = 3;\n")],
        ),
    ]);
    let mut host = SshHost::start(&w, "hosta");
    let other = SshHost::start(&w, "hostb");
    host_config(&w, &[(&host, None), (&other, None)]);
    w.seed_opencode_deps();
    let (k, v) = ssh_env(&w);
    let mut child = w
        .ocfork()
        .env(k, v)
        .args([
            "try", "--json", "-n", "r", "--host", "hosta", "--host", "local",
        ])
        .args([
            "--host",
            "hostb",
            "a=Approach A",
            "b=Approach B",
            "c=Approach C",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ocfork starts");
    let dir = host.dir.display().to_string();
    let started = wait_until(Duration::from_secs(120), || {
        host.sh(&w, &format!("find '{dir}' -name started-a | grep -q ."))
            .0
            == 0
    });
    if started.is_none() {
        let _ = child.kill();
        let out = child.wait_with_output().expect("ocfork ends");
        panic!("the agent on the host never started: {}", stderr(&out));
    }
    host.drop_connections();
    let out = child.wait_with_output().expect("ocfork ends");
    let run = json(&out);
    // The contract's exit code for a run that did not finish: 1.
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let a = fork(&run, "a");
    assert_eq!(a["state"], "interrupted", "{run:#}");
    assert_eq!(a["end"], "host_gone", "{run:#}");
    assert!(
        a["error"].as_str().is_some_and(|e| e.contains("hosta")),
        "{run:#}"
    );
    // The forks here and on the other host went on to their end.
    assert_eq!(fork(&run, "b")["state"], "done", "{run:#}");
    w.assert_shows("ocfork/r/b:src/b.js", "export const b = 2;\n");
    assert_eq!(fork(&run, "c")["host"], "hostb", "{run:#}");
    assert_eq!(fork(&run, "c")["state"], "done", "{run:#}");
    w.assert_shows("ocfork/r/c:src/c.js", "export const c = 3;\n");

    // While the host is down, resume exits 2 naming it and changes nothing.
    let out = with_hosts(&w, &["resume", "r"]);
    exits_with(&out, 2, "hosta");
    let status = json(&w.run(&["status", "r", "--json"]));
    assert_eq!(fork(&status, "a")["state"], "interrupted", "{status:#}");

    // Back: resume reconnects, continues the fork on its host and brings its branch home,
    // with what the agent wrote before the drop.
    host.come_back();
    let out = with_hosts(&w, &["resume", "r", "--json"]);
    let run = ok_json(&out);
    assert_eq!(fork(&run, "a")["state"], "done", "{run:#}");
    w.assert_shows("ocfork/r/a:src/a.js", "export const a = 1;\n");
    w.assert_shows("ocfork/r/a:src/a2.js", "export const a2 = 3;\n");
}
