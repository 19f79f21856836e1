//! Which OpenCode ocfork talks to: an `opencode` binary or a server of a version ocfork does not
//! support (OpenCode 2) is refused before anything is made, with the versions it supports.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;

use crate::common::*;

/// A world with no rules, and in it an `opencode` that only says it is `version` and logs
/// every call to `log`: the world, the fake and the log.
fn with_fake_opencode(version: &str) -> (World, std::path::PathBuf, std::path::PathBuf) {
    let w = world(vec![]);
    let fake = w.path(&format!("opencode-{version}"));
    let log = w.path(&format!("opencode-{version}.calls"));
    let body = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\nif [ \"$1\" = --version ]; then echo {version}; exit 0; fi\nexit 1\n",
        log.display()
    );
    std::fs::write(&fake, body).expect("write");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (w, fake, log)
}

/// Nothing was made: no run, no fork branch, no worktree folder.
fn nothing_made(w: &World) {
    assert_eq!(json(&w.run(&["list", "--json"])), serde_json::json!([]));
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");
    assert!(!w.path("app.ocfork").exists(), "a worktree folder was made");
}

#[test]
fn an_opencode_2_binary_is_refused_before_anything_is_made() {
    let (w, fake, log) = with_fake_opencode("2.0.1");
    let out = w
        .ocfork()
        .env("OCFORK_OPENCODE", &fake)
        .args(["try", "-t", "task", "a=one", "b=two"])
        .output()
        .expect("runs");
    exits_with(&out, 2, "OpenCode 2.0.1");
    let err = stderr(&out);
    assert!(err.contains(&fake.display().to_string()), "{err}");
    assert!(err.contains("1.18"), "names what it supports: {err}");
    // Only asked for its version: a V2 server would have migrated OpenCode's data directory.
    assert_eq!(read(&log).trim(), "--version");
    nothing_made(&w);
    // The same refusal for every command that starts OpenCode.
    let out = w
        .ocfork()
        .env("OCFORK_OPENCODE", &fake)
        .args(["agents"])
        .output()
        .expect("runs");
    exits_with(&out, 2, "OpenCode 2.0.1");
}

#[test]
fn a_binary_that_does_not_say_its_version_is_refused() {
    let (w, fake, _) = with_fake_opencode("whatever");
    let out = w
        .ocfork()
        .args(["try", "--opencode", &fake.to_string_lossy(), "x"])
        .output()
        .expect("runs");
    exits_with(&out, 2, "cannot tell which OpenCode");
    assert!(stderr(&out).contains("1.18"), "{}", stderr(&out));
    nothing_made(&w);
}

/// A loopback HTTP server answering every request with `body` (what `GET /global/health`
/// answers on an OpenCode server); stands for a server of a version that cannot be installed
/// here. Returns its URL.
fn health_only(body: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn an_opencode_2_server_is_refused_before_anything_is_made() {
    let w = world(vec![]);
    let url = health_only(r#"{"healthy":true,"version":"2.0.1"}"#);
    let out = w.run(&["try", "--server", &url, "x"]);
    exits_with(&out, 2, "OpenCode 2.0.1");
    let err = stderr(&out);
    assert!(err.contains(&url), "{err}");
    assert!(err.contains("1.18"), "{err}");
    nothing_made(&w);
}

/// The binary's version is read once and kept while the binary is the same file (`opencode
/// --version` costs most of a CPU-second): a kept version is what counts (one made to say
/// 2.0.1 is refused without the binary being asked), and one kept for another file (as if
/// the binary was replaced: another size) is read again.
#[test]
fn the_binarys_version_is_kept_while_it_is_the_same_file() {
    let w = world(vec![]);
    let cache = w.path("xdg/cache/ocfork/opencode-versions");
    // Not `w.run`, which would give the world a version kept in an earlier world.
    w.seed_opencode_deps();
    ok(&w.ocfork().arg("agents").output().expect("ocfork runs"));
    let mut magic = [0u8; 4];
    let compiled = std::fs::File::open(&w.opencode)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"\x7fELF";
    if !compiled {
        // OCFORK_OPENCODE is a script (a wrapper): it is asked every time, nothing is kept.
        assert!(
            !cache.exists(),
            "a script's version was kept: {}",
            read(&cache)
        );
        return;
    }
    let kept = read(&cache);
    let said = std::process::Command::new(&w.opencode)
        .arg("--version")
        .output()
        .expect("opencode --version");
    let said = String::from_utf8_lossy(&said.stdout).trim().to_string();
    let real = std::fs::canonicalize(&w.opencode).expect("the binary");
    let words: Vec<&str> = kept.trim_end().splitn(6, ' ').collect();
    assert_eq!(words.len(), 6, "{kept}");
    assert_eq!(words[0], said, "{kept}");
    assert_eq!(words[5], real.display().to_string(), "{kept}");

    std::fs::write(&cache, kept.replacen(&said, "2.0.1", 1)).expect("write");
    let out = w.run(&["agents"]);
    exits_with(&out, 2, "OpenCode 2.0.1");

    let mut other = words.clone();
    other[3] = "1";
    std::fs::write(&cache, format!("2.0.1 {}\n", other[1..].join(" "))).expect("write");
    ok(&w.run(&["agents"]));
    assert_eq!(read(&cache), kept);
}
