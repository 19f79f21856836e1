//! What a fork on a host gets around its agent's turn, as a local fork does: `--setup` and
//! `--check` run on the host in the fork's worktree there (with `OCFORK_PORT` etc.), and the
//! ignored files `--copy` and `.worktreeinclude` name travel to its worktree there.

use crate::common::sshd::{SshHost, host_config, run_with_hosts, ssh_env, try_on_hosta};
use crate::common::*;

#[test]
fn setup_and_check_run_on_the_host_in_the_forks_worktree() {
    let w = world(numbered_exports(&[
        "Approach A",
        "Approach B",
        "Approach C",
    ]));
    let host = SshHost::start(&w, "hosta");
    host_config(&w, &[(&host, None)]);
    // Setup writes down where and with what it ran (a file the fork's commit takes); it
    // fails for c. The check reads setup's file and passes only where the agent wrote a.js.
    let setup = "[ \"$OCFORK_FORK\" != c ] || { echo no setup for c; exit 3; }; \
                 printf '%s\\n' \"$OCFORK_FORK\" \"$PWD\" \"$OCFORK_WORKTREE\" \"$OCFORK_RUN\" \
                 \"$OCFORK_PORTS\" \"$OCFORK_PORT\" > setup.txt";
    let check = "head -n 1 setup.txt | grep -qx \"$OCFORK_FORK\" && test -f src/a.js || exit 5";
    let out = run_with_hosts(
        &w,
        &try_on_hosta(&[
            "--ports",
            "4",
            "--setup",
            setup,
            "--check",
            check,
            "a=Approach A",
            "b=Approach B",
            "c=Approach C",
        ]),
    );
    // c's failed setup fails the run's work.
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let status = json(&run_with_hosts(&w, &["status", "r", "--json"]));
    let (a, b, c) = (fork(&status, "a"), fork(&status, "b"), fork(&status, "c"));
    for f in [a, b, c] {
        assert_eq!(f["host"], "hosta", "{status:#}");
    }
    assert_eq!(a["state"], "done", "{status:#}");
    assert_eq!(a["check"]["exit_code"], 0, "{status:#}");
    assert_eq!(a["check"]["command"], check);
    assert_eq!(b["state"], "done", "{status:#}");
    assert_eq!(b["check"]["exit_code"], 5, "{status:#}");
    assert_eq!(c["state"], "failed", "{status:#}");
    assert!(
        c["error"].as_str().is_some_and(|e| e.contains("setup")),
        "{status:#}"
    );
    assert!(c["check"].is_null(), "{status:#}");
    // Setup ran in each fork's worktree on the host, with the environment it gets here;
    // its file is on the fork's branch, home.
    for (name, f) in [("a", a), ("b", b)] {
        let tree = worktree_of(f);
        assert!(tree.starts_with(&host.dir), "{status:#}");
        let text = w.git(&["show", &format!("ocfork/r/{name}:setup.txt")]);
        let lines: Vec<&str> = text.lines().collect();
        let tree = tree.display().to_string();
        assert_eq!(lines[..5], [name, &tree, &tree, "r", "4"], "{text}");
        assert!(lines[5].parse::<u16>().is_ok(), "OCFORK_PORT: {text}");
    }
    // Setup's output is in the fork's log here.
    let log = w.repo.join(".git/ocfork/runs/r.logs/c.setup.log");
    assert!(read(&log).contains("no setup for c"), "{}", log.display());
    let log = w.repo.join(".git/ocfork/runs/r.logs/b.check.log");
    assert!(log.is_file(), "{}", log.display());
}

#[test]
fn ignored_files_copy_and_worktreeinclude_name_travel_to_the_host() {
    let w = world(vec![Rule {
        when: "Approach A".into(),
        model: None,
        // The agent on the host reads the copied files into a tracked one, checks an ignored
        // file nobody named stayed here, and un-ignores everything: the copies still stay out
        // of the fork's commit.
        steps: vec![bash(
            "cat .env local.cfg opencode.json > seen.txt; \
             test -e other.log && echo leaked >> seen.txt; : > .gitignore",
        )],
        reply: "Done with A.".into(),
        fail: None,
    }]);
    std::fs::write(w.repo.join(".gitignore"), ".env\nlocal.cfg\nother.log\n").expect("write");
    std::fs::write(w.repo.join(".worktreeinclude"), "local.cfg\n").expect("write");
    w.git(&["add", ".gitignore", ".worktreeinclude"]);
    w.git(&["commit", "-q", "-m", "ignore local files"]);
    std::fs::write(w.repo.join(".env"), "SECRET=42\n").expect("write");
    std::fs::write(w.repo.join("local.cfg"), "port = 1\n").expect("write");
    std::fs::write(w.repo.join("other.log"), "not for forks\n").expect("write");
    // OpenCode's config that git does not hold travels too, as to a fork here.
    let config = r#"{"agent": {"solo": {"description": "Works alone.", "prompt": "Alone."}}}"#;
    std::fs::write(w.repo.join("opencode.json"), config).expect("write");
    let host = SshHost::start(&w, "hosta");
    host_config(&w, &[(&host, None)]);
    // Every fork on the host: no OpenCode is needed here, and none is found.
    let (k, v) = ssh_env(&w);
    w.seed_opencode_deps();
    let out = (w.ocfork())
        .env(k, v)
        .env("OCFORK_OPENCODE", w.path("no-opencode-here"))
        .args(try_on_hosta(&["--copy", ".env", "a=Approach A"]))
        .output()
        .expect("ocfork runs");
    let run = ok_json(&out);
    assert_eq!(fork(&run, "a")["host"], "hosta", "{run:#}");
    let seen = w.git(&["show", "ocfork/r/a:seen.txt"]);
    assert!(seen.starts_with("SECRET=42\nport = 1\n"), "{seen}");
    // (OpenCode may add a `$schema` line to the config it reads.)
    assert!(seen.contains("Works alone."), "{seen}");
    assert!(!seen.contains("leaked"), "{seen}");
    let files = w.git(&["ls-tree", "-r", "--name-only", "ocfork/r/a"]);
    assert!(
        !(files.lines()).any(|f| [".env", "local.cfg", "opencode.json"].contains(&f)),
        "{files}"
    );
    // The copies are no one's work there either: `clean` removes the fork from the host.
    let tree = worktree_of(fork(&run, "a"));
    ok(&run_with_hosts(&w, &["clean", "r", "--force"]));
    let (code, _) = host.sh(&w, &format!("test -e '{}'", tree.display()));
    assert_ne!(code, 0, "the fork's worktree is still on the host");
}

#[test]
fn a_hanging_check_on_a_host_is_stopped_with_everything_it_started() {
    let w = world(vec![writes("Go", &[("a.txt", "a")])]);
    let host = SshHost::start(&w, "hosta");
    host_config(&w, &[(&host, None)]);
    let pid_file = host.dir.join("bg.pid");
    let more = ["--host", "hosta"];
    try_with_a_hanging_check(&w, &pid_file, &more, |args| run_with_hosts(&w, args));
    // The background sleep it started on the host is gone (the pid is the host's, which
    // shares this machine's processes).
    let (code, pid) = host.sh(&w, &format!("cat '{}'", pid_file.display()));
    assert_eq!(code, 0, "the check never ran on the host");
    let pid: u32 = pid.trim().parse().expect("a pid");
    let gone = wait_until(std::time::Duration::from_secs(10), || !procs::alive(pid));
    assert!(
        gone.is_some(),
        "the check's background sleep survived on the host"
    );
    // The run's OpenCode server on the host is gone with the run.
    let serving = || {
        host.processes()
            .into_iter()
            .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(" serve ") && c.contains("--hostname"))
            .collect::<Vec<_>>()
    };
    let stopped = wait_until(std::time::Duration::from_secs(15), || serving().is_empty());
    assert!(
        stopped.is_some(),
        "left running on the host: {:?}",
        serving()
    );
}
