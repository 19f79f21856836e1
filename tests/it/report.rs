//! `ocfork report`: a self-contained HTML page, opened in headless Chromium (Debian packages
//! `chromium` and `chromium-driver`), which must show every fork and every changed file.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// Chromium on PATH. A missing browser fails the test (everywhere, not only on CI), saying how
/// to install it.
fn chromium() -> PathBuf {
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "chromium not found on PATH: the report test opens the page in headless Chromium; \
                 install it (`apt-get install -y chromium chromium-driver`; `.ci/run` does)"
            )
        })
}

/// Runs headless Chromium on `page` with `args`, in a fresh profile, and returns its stdout.
fn headless(bin: &Path, page: &Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut cmd = Command::new("timeout");
    cmd.arg("120")
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()));
    stdout_of(&mut cmd, "chromium")
}

/// A world with a finished two-fork run `cmp` and its report written to `report.html`.
fn world_with_report() -> (World, PathBuf) {
    let w = suite_world(vec![
        writes(
            "Use Redux",
            &[
                (
                    "src/store.js",
                    "export const store = createStore(reducer);\n",
                ),
                (
                    "src/app.js",
                    "console.log('app');\n// <script>alert('x')</script> & redux\n",
                ),
            ],
        ),
        writes(
            "Use the Context API",
            &[
                (
                    "src/app.js",
                    "import { TodoProvider } from './context';\nconsole.log('app');\n",
                ),
                (
                    "src/context.js",
                    "export const TodoContext = createContext([]);\n",
                ),
            ],
        ),
    ]);
    let out = w.run(&[
        "try",
        "--json",
        "-n",
        "cmp",
        "redux=Use Redux",
        "context=Use the Context API",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let page = w.path("report.html");
    let out = w.run(&["report", "-o", &page.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    (w, page)
}

#[test]
fn report_holds_every_fork_and_file_self_contained() {
    let (_w, page) = world_with_report();
    let html = std::fs::read_to_string(&page).expect("report written");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<script"),
        "file content is escaped and the page has no scripts"
    );
    assert!(
        html.contains("&lt;script&gt;") || html.contains("&lt;</span>"),
        "escaped"
    );
    for external in ["<link", " src=", "url(", "@import"] {
        assert!(!html.contains(external), "self-contained: found {external}");
    }
    // The file both forks touched holds both forks' diffs, side by side.
    let app = html
        .find("id=\"file-src/app.js\"")
        .expect("src/app.js section");
    let section = &html[app..];
    let section = &section[..section.find("</section>").expect("section end")];
    assert!(section.contains("data-fork=\"redux\"") && section.contains("data-fork=\"context\""));
}

#[test]
fn report_renders_every_fork_and_file_in_chromium() {
    let bin = chromium();
    let (_w, page) = world_with_report();
    let dom = headless(&bin, &page, &["--dump-dom"]);
    for text in [
        "redux",
        "context",
        "src/app.js",
        "src/store.js",
        "src/context.js",
        "createContext",
    ] {
        assert!(dom.contains(text), "rendered DOM lacks {text}");
    }
    assert!(dom.contains("class=\"fork-diff\""));

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &bin,
        &page,
        &[
            "--window-size=1280,2000",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png = std::fs::read(&shot).expect("screenshot taken");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        png.len() > 10_000,
        "a page with content, not a blank image ({} bytes)",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn report_of_an_unknown_run_is_refused() {
    let w = World::new(Script::default()).on_suite_server();
    let out = w.run(&["report", "nope", "-o", "x.html"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"));
    assert!(!w.repo.join("x.html").exists());
}
