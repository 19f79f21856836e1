//! Security: the spawned server listens on loopback only and wants its password; the password
//! is never in argv, the manifest or logs; run state is private; a manifest edited into
//! nonsense gives a clear error and does not stop other runs.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::procs::{cmdline, environ_var, files_containing};
use crate::common::*;
use serde_json::Value;

/// A model that never answers the fork, so the server stays up until the test stops the run.
fn hanging_world() -> World {
    world(vec![Rule {
        fail: Some(Failure {
            hang: true,
            ..Failure::default()
        }),
        ..writes("Use slow", &[])
    }])
}

/// Status line of a raw HTTP GET, with an optional `Authorization` header.
fn http_status(port: u16, auth: Option<&str>) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET /session HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("send");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Listening sockets on `port` from /proc/net/tcp{,6}: their local addresses in hex.
fn listeners(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (f.get(1), f.get(3)) else {
                continue;
            };
            let Some((addr, p)) = local.rsplit_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(p, 16) == Ok(port) {
                out.push(addr.to_string());
            }
        }
    }
    out
}

fn basic(password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("opencode:{password}"))
    )
}

#[test]
fn server_is_loopback_only_wants_its_password_which_never_leaks() {
    let w = hanging_world();
    let out = w.run(&["try", "--detach", "-n", "sec", "slow=Use slow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut outputs = vec![stdout(&out), stderr(&out)];
    let run: Value = wait_until(Duration::from_secs(60), || {
        let out = w.run(&["status", "sec", "--json"]);
        let run: Value = serde_json::from_slice(&out.stdout).ok()?;
        run["spawned_server"]["pid"].is_u64().then_some(run)
    })
    .expect("the manifest names the spawned server");
    let pid = run["spawned_server"]["pid"].as_u64().expect("pid") as u32;
    let driver = run["pid"].as_u64().expect("driver pid") as u32;
    let url = run["spawned_server"]["url"]
        .as_str()
        .expect("url")
        .to_string();
    let port: u16 = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in url");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let addrs = listeners(port);
    assert!(!addrs.is_empty(), "nothing listens on {port}");
    assert!(
        addrs.iter().all(|a| a == "0100007F"),
        "listens beyond loopback: {addrs:?}"
    );

    let password = environ_var(pid, "OPENCODE_SERVER_PASSWORD").expect("the server has a password");
    assert!(password.len() >= 20);
    assert!(
        http_status(port, None).contains(" 401"),
        "no password: {}",
        http_status(port, None)
    );
    assert!(http_status(port, Some(&basic("wrong"))).contains(" 401"));
    assert!(
        http_status(port, Some(&basic(&password))).contains(" 200"),
        "the password works"
    );

    for p in [pid, driver] {
        let argv = cmdline(p);
        assert!(!argv.is_empty(), "pid {p} is running");
        assert!(!argv.contains(&password), "password in argv of {p}: {argv}");
    }
    // SIGTERM: the driver aborts the session, commits, saves and stops the server.
    let _ = Command::new("kill")
        .args(["-TERM", &driver.to_string()])
        .status();
    let out = w.run(&["wait", "sec", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json(&out)["forks"][0]["state"], "cancelled");
    assert!(
        wait_until(Duration::from_secs(10), || !crate::common::procs::alive(
            pid
        ))
        .is_some()
    );
    outputs.extend([stdout(&out), stderr(&out)]);
    outputs.push(stdout(&w.run(&["status", "sec"])));
    assert!(outputs.iter().all(|o| !o.contains(&password)));
    // Manifest, driver log, git dir, OpenCode's own data and logs: nowhere on disk.
    let hits = files_containing(w.tmp.path(), &password);
    assert!(hits.is_empty(), "the password is written in {hits:?}");
    let log = w.repo.join(".git/ocfork/runs/sec.log");
    assert!(
        log.exists(),
        "the detached driver logs to {}",
        log.display()
    );
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

/// ocfork run under `umask 0`, so only ocfork's own care keeps its files private.
fn under_umask_0(w: &World, args: &[&str]) -> std::process::Output {
    let base = w.ocfork();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("umask 0; exec \"$0\" \"$@\"")
        .arg(base.get_program())
        .args(args)
        .current_dir(&w.repo);
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.stdin(Stdio::null()).output().expect("ocfork runs")
}

#[test]
fn run_state_is_private_and_a_nonsense_manifest_stops_nothing_else() {
    let w = world(vec![writes("Use a", &[("a.txt", "a\n")])]);
    let out = under_umask_0(&w, &["try", "--detach", "-n", "good", "a=Use a"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = w.run(&["wait", "good"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let runs = w.repo.join(".git/ocfork/runs");
    assert_eq!(mode(&runs), 0o700);
    assert_eq!(mode(runs.parent().expect("ocfork dir")), 0o700);
    for e in std::fs::read_dir(&runs).expect("runs dir") {
        let p = e.expect("entry").path();
        assert_eq!(
            mode(&p) & 0o077,
            0,
            "{} is readable or writable by others",
            p.display()
        );
    }

    // The comparisons `try` keeps for `diff` are as private.
    let kept = w.repo.join(".git/ocfork/diffs");
    assert_eq!(mode(&kept), 0o700);
    let entries: Vec<_> = std::fs::read_dir(&kept)
        .expect("diffs dir")
        .flatten()
        .collect();
    assert!(!entries.is_empty(), "try keeps the fork's comparison");
    for e in entries {
        assert_eq!(mode(&e.path()) & 0o077, 0, "{}", e.path().display());
    }

    std::fs::write(runs.join("torn.json"), "{\"schema\": 1, \"run\": \"tor").expect("write");
    let mut other: Value =
        serde_json::from_slice(&std::fs::read(runs.join("good.json")).expect("read"))
            .expect("json");
    other["forks"][0]["branch"] = "main".into();
    other["run"] = "evil".into();
    std::fs::write(runs.join("evil.json"), other.to_string()).expect("write");

    for (name, says) in [
        ("torn", "is not valid ocfork JSON"),
        ("evil", "expected `ocfork/evil/a`"),
    ] {
        for cmd in ["status", "resume", "wait"] {
            let out = w.run(&[cmd, name]);
            let err = stderr(&out);
            assert!(
                matches!(out.status.code(), Some(1 | 2)),
                "{cmd} {name}: {out:?}"
            );
            assert!(
                err.contains(says) && err.contains(&format!("{name}.json")),
                "{cmd} {name}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    let out = w.run(&["list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed: Vec<String> = json(&out)
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["run"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(listed, ["good"]);
    assert!(
        stderr(&out).contains("torn.json") && stderr(&out).contains("evil.json"),
        "{}",
        stderr(&out)
    );
    let out = w.run(&["status", "--json"]);
    assert_eq!(json(&out)["run"], "good");
    let out = w.run(&["try", "--json", "-n", "next", "a=Use a"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "another run works: {}",
        stderr(&out)
    );
    assert_eq!(json(&out)["state"], "done");
}

/// A fork whose agent dumps its environment on the server ocfork started: OpenCode hands its
/// password to agents' shell commands, so ocfork takes it out of what it commits.
#[test]
fn agents_commands_do_not_see_the_servers_password() {
    let mut dump = writes("Dump the env", &[("a.txt", "a\n")]);
    dump.steps.push(Step {
        tool: "bash".into(),
        args: serde_json::json!({"command": "env > envdump.txt", "description": "Dump the environment"}),
    });
    let w = World::new(Script {
        rules: vec![dump],
        default_reply: "ok".into(),
    });
    let out = w.run(&["try", "-n", "env", "dump=Dump the env"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dumped = w.git(&["show", "ocfork/env/dump:envdump.txt"]);
    assert!(dumped.contains("PWD="), "the agent ran env: {dumped}");
    assert_password_scrubbed(&dumped, &out);
}

/// Every folder under `root` is 0700 and every file allows nobody else anything.
fn assert_private_tree(root: &Path) -> usize {
    let mut seen = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        seen += 1;
        if meta.is_dir() {
            assert_eq!(mode(&p), 0o700, "{} is not 0700", p.display());
            for e in std::fs::read_dir(&p).expect("read dir") {
                stack.push(e.expect("entry").path());
            }
        } else {
            assert_eq!(meta.permissions().mode() & 0o077, 0, "{}", p.display());
        }
    }
    seen
}

/// Under `umask 0`, the step logs, their folder, the locks and the folders made for the
/// worktrees are private all the same.
#[test]
fn logs_locks_and_worktree_folders_are_private_under_umask_0() {
    let w = World::new(Script {
        rules: vec![writes("Use a", &[("a.txt", "a\n")])],
        default_reply: "ok".into(),
    });
    let out = under_umask_0(
        &w,
        &[
            "try", "-n", "perm", "--setup", "true", "--check", "true", "a=Use a",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let logs = w.repo.join(".git/ocfork/runs/perm.logs");
    assert!(logs.join("a.setup.log").is_file(), "{}", logs.display());
    assert!(logs.join("a.check.log").is_file());
    assert!(assert_private_tree(&w.repo.join(".git/ocfork")) > 5);
    let root = w.path("app.ocfork");
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(&root.join("perm")), 0o700);
}
