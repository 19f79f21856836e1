//! Each fork's own environment: the OCFORK_* variables its setup and check get, and a block
//! of loopback ports no other fork of the run shares.

use std::fs;
use std::path::Path;

use crate::common::*;

/// A check that listens on $OCFORK_PORT, says so, and holds the port until every fork's check
/// listens too (bounded), so both servers are up at the same moment.
const SERVER: &str = r#"
import os, socket, sys, time
shared = sys.argv[1]
me = os.environ["OCFORK_FORK"]
s = socket.socket()
s.bind(("127.0.0.1", int(os.environ["OCFORK_PORT"])))
s.listen()
open(os.path.join(shared, me + ".listening"), "w").close()
deadline = time.time() + 20
while time.time() < deadline:
    if all(os.path.exists(os.path.join(shared, f + ".listening")) for f in ("a", "b")):
        sys.exit(0)
    time.sleep(0.05)
sys.exit(3)
"#;

fn env_of(path: &Path) -> std::collections::BTreeMap<String, String> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn two_forks_checks_listen_on_their_own_ports_at_once() {
    let script = Script {
        rules: vec![
            writes("Alpha", &[("a.txt", "a")]),
            writes("Beta", &[("b.txt", "b")]),
        ],
        default_reply: "ok".into(),
    };
    let w = World::new(script).on_suite_server();
    let shared = w.path("shared");
    fs::create_dir_all(&shared).expect("mkdir");
    let server = w.path("server.py");
    fs::write(&server, SERVER).expect("write");
    let setup = format!(
        "env | grep ^OCFORK_ > {}/$OCFORK_FORK.setup.env",
        shared.display()
    );
    let check = format!(
        "env | grep ^OCFORK_ > {s}/$OCFORK_FORK.check.env && python3 {} {s}",
        server.display(),
        s = shared.display()
    );
    let out = w.run(&[
        "try", "--json", "-n", "ports", "--ports", "5", "--setup", &setup, "--check", &check,
        "a=Alpha", "b=Beta",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let run = json(&out);
    let base = w.git(&["rev-parse", "HEAD"]);
    let mut ports = Vec::new();
    for f in run["forks"].as_array().expect("forks") {
        let name = f["name"].as_str().expect("name");
        assert_eq!(f["check"]["exit_code"], 0, "check of {name} failed: {run}");
        let setup_env = env_of(&shared.join(format!("{name}.setup.env")));
        let check_env = env_of(&shared.join(format!("{name}.check.env")));
        assert_eq!(setup_env, check_env, "setup and check of {name} differ");
        assert_eq!(check_env["OCFORK_RUN"], "ports");
        assert_eq!(check_env["OCFORK_FORK"], name);
        assert_eq!(check_env["OCFORK_BASE"], base.trim());
        assert_eq!(
            Path::new(&check_env["OCFORK_WORKTREE"]),
            Path::new(f["worktree"].as_str().expect("worktree"))
        );
        assert_eq!(check_env["OCFORK_PORTS"], "5");
        let port: u16 = check_env["OCFORK_PORT"].parse().expect("a port number");
        ports.push(port);
    }
    let (a, b) = (ports[0], ports[1]);
    assert!(a + 5 <= b || b + 5 <= a, "blocks {a} and {b} overlap");
}

#[test]
fn ports_out_of_range_is_refused() {
    let w = World::new(Script::default()).on_suite_server();
    for bad in ["0", "1001", "many"] {
        let out = w.run(&["try", "--ports", bad, "x"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "--ports {bad}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("--ports"), "{}", stderr(&out));
    }
    fs::write(w.repo.join(".ocfork.toml"), "ports = 0\n").expect("write");
    let out = w.run(&["try", "x"]);
    exits_with(&out, 2, ".ocfork.toml:1");
    assert!(stderr(&out).contains("ports"), "{}", stderr(&out));
}
