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
