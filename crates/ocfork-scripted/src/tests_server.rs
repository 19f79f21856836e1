//! Tests of the scripted server's logging, hangs, aborts, errors, blocking wrapper, config and a real `opencode` run.

use super::*;

#[tokio::test]
async fn log_file_delay_and_timing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("requests.jsonl");
    let server = ModelServer::start(
        redux_script(),
        Options {
            delay: Duration::from_millis(150),
            port: 0,
            log_path: Some(log_path.clone()),
        },
    )
    .await
    .expect("start");
    let t0 = Instant::now();
    let body = agent_body("scripted", json!([{ "role": "user", "content": "Redux" }]));
    let (a, b) = tokio::join!(post(&server, &body), post(&server, &body));
    assert_eq!((a.0, b.0), (200, 200));
    // Both were delayed, concurrently: each started before the other ended.
    assert!(t0.elapsed() >= Duration::from_millis(150));

    let log = server.requests();
    assert_eq!(log.len(), 2);
    for r in &log {
        assert!(r.ended_ms >= r.started_ms + 150, "{r:?}");
    }
    assert!(
        log[0].started_ms < log[1].ended_ms && log[1].started_ms < log[0].ended_ms,
        "the two delays overlap: {log:?}"
    );
    let mut seqs: Vec<u64> = log.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, [0, 1]);

    let text = std::fs::read_to_string(&log_path).expect("log file");
    let from_file: Vec<LoggedRequest> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("log line"))
        .collect();
    assert_eq!(from_file, log);
    server.stop().await;
}

#[tokio::test]
async fn hang_holds_the_request_until_stop() {
    let server = start(redux_script()).await;
    let url = format!("{}/chat/completions", server.base_url());
    let body = agent_body("scripted", json!([{ "role": "user", "content": "stuck" }]));
    let req = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!req.is_finished());
    let log = server.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].answer, "hang");
    tokio::time::timeout(Duration::from_secs(3), server.stop())
        .await
        .expect("stop does not wait for the hung request forever");
    let status = tokio::time::timeout(Duration::from_secs(3), req)
        .await
        .expect("released");
    assert!(!matches!(status, Ok(Ok(200))));
}

#[tokio::test]
async fn client_that_goes_away_is_logged_as_aborted() {
    let server = ModelServer::start(
        redux_script(),
        Options {
            delay: Duration::from_secs(5),
            ..Options::default()
        },
    )
    .await
    .expect("start");
    let body = agent_body("scripted", json!([{ "role": "user", "content": "Redux" }]));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let res = client
        .post(format!("{}/chat/completions", server.base_url()))
        .json(&body)
        .send()
        .await;
    assert!(res.is_err());
    let deadline = Instant::now() + Duration::from_secs(3);
    while server.requests().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = server.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].answer, "aborted");
    server.stop().await;
}

#[tokio::test]
async fn models_and_bad_requests() {
    let server = start(Script::default()).await;
    let client = reqwest::Client::new();
    let models: Value = client
        .get(format!("{}/models", server.base_url()))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = models["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, MODELS);

    let bad = client
        .post(format!("{}/chat/completions", server.base_url()))
        .body("not json")
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status().as_u16(), 400);
    let missing = client
        .get(format!("{}/nope", server.base_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(missing.status().as_u16(), 404);
    server.stop().await;
}

#[test]
fn blocking_server_serves_and_stops_on_drop() {
    use std::io::{Read, Write};
    let server = BlockingModelServer::start(redux_script(), Options::default()).expect("start");
    assert!(
        server
            .base_url()
            .ends_with(&format!(":{}/v1", server.port()))
    );
    let body = agent_body("scripted", json!([{ "role": "user", "content": "Redux" }])).to_string();
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    write!(
        conn,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut resp = String::new();
    conn.read_to_string(&mut resp).expect("read");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("text/event-stream"));
    assert!(resp.contains("\"tool_calls\""));
    assert_eq!(server.requests().len(), 1);
    server.set_script(Script::default());
    let port = server.port();
    drop(server);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn script_from_json_and_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("script.json");
    std::fs::write(
        &path,
        r#"{"rules":[{"when":"Redux","steps":[{"tool":"write","args":{"filePath":"a","content":"b"}}],"reply":"done"}]}"#,
    )
    .expect("write");
    let script = Script::from_json_file(&path).expect("parse");
    assert_eq!(script.rules.len(), 1);
    assert_eq!(script.rules[0].steps[0].tool, "write");
    assert!(script.default_reply.is_empty());
    assert!(Script::from_json_file(dir.path().join("missing.json")).is_err());
    assert!(Script::from_json_str("{").is_err());

    let cfg: Value =
        serde_json::from_str(&opencode_config("http://127.0.0.1:9/v1")).expect("config json");
    let provider = &cfg["provider"]["scripted"];
    assert_eq!(provider["npm"], "@ai-sdk/openai-compatible");
    assert_eq!(provider["options"]["baseURL"], "http://127.0.0.1:9/v1");
    assert!(provider["models"]["scripted"].is_object());
    assert!(provider["models"]["other"].is_object());
    assert_eq!(cfg["model"], "scripted/scripted");
    assert_eq!(cfg["permission"]["edit"], "allow");
    assert_eq!(cfg["permission"]["bash"], "allow");
    assert_eq!(cfg["permission"]["question"], "deny");
    assert_eq!(cfg["autoupdate"], false);
    assert_eq!(cfg["share"], "disabled");
}

/// The real opencode binary, as the end-to-end tests find it: `$OCFORK_OPENCODE`, else the
/// project-local install. Missing, it fails the test with how to install it.
fn opencode_bin() -> std::path::PathBuf {
    let local = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/opencode/node_modules/.bin/opencode");
    std::env::var_os("OCFORK_OPENCODE")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| local.is_file().then_some(local))
        .unwrap_or_else(|| {
            panic!("opencode not found: set OCFORK_OPENCODE or run `bash scripts/install-opencode`")
        })
}

/// Drives the real `opencode run` against the scripted model.
#[test]
fn real_opencode_run_writes_file() {
    let bin = opencode_bin();
    let script = Script {
        rules: vec![Rule {
            when: "Redux".into(),
            model: None,
            steps: vec![Step {
                tool: "write".into(),
                args: json!({ "filePath": "src/store.js", "content": "export const store = {};\n" }),
            }],
            reply: "Wrote the Redux store.".into(),
            fail: None,
        }],
        default_reply: "nothing to do".into(),
    };
    let server = BlockingModelServer::start(script, Options::default()).expect("start");
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let git = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .status()
            .expect("git");
        assert!(st.success());
    };
    git(&["init", "-q"]);
    std::fs::write(repo.join("README.md"), "demo\n").expect("write");
    git(&["add", "."]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qm",
        "init",
    ]);
    let xdg = tmp.path().join("xdg");
    let t0 = Instant::now();
    let out = std::process::Command::new(bin)
        .args(["run", "--model", "scripted/scripted", "Use Redux"])
        .current_dir(&repo)
        .env("PWD", &repo)
        .envs(offline_env(&xdg, &server.base_url()))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run opencode");
    let took = t0.elapsed();
    eprintln!("opencode run took {took:?}, status {}", out.status);
    eprintln!("stdout:\n{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    for r in server.requests() {
        eprintln!(
            "{} model={} agent={} step={} answer={} rule={:?} {}..{}ms user={:?} system={:?}",
            r.seq,
            r.model,
            r.agent_turn,
            r.step,
            r.answer,
            r.rule,
            r.started_ms,
            r.ended_ms,
            truncate_chars(&r.last_user, 120),
            truncate_chars(&r.system, 80)
        );
    }
    assert!(out.status.success());
    let written = std::fs::read_to_string(repo.join("src/store.js")).expect("file written");
    assert_eq!(written, "export const store = {};\n");
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.session.is_some()));
    assert!(requests.iter().any(|r| r.answer == "tool:write"));
    assert!(
        requests
            .iter()
            .any(|r| r.agent_turn && r.step == 1 && r.answer == "text")
    );
}
