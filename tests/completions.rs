//! `ocfork completions SHELL` and the hidden `ocfork man`, from the same clap definitions.

use std::process::Command;

fn ocfork(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ocfork"))
        .args(args)
        .output()
        .expect("ocfork runs")
}

#[test]
fn completions_generate_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef ocfork"),
        ("fish", "complete -c ocfork"),
    ] {
        let out = ocfork(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: {text}");
        for sub in ["try", "continue", "report"] {
            assert!(text.contains(sub), "{shell} completes {sub}");
        }
    }
    let out = ocfork(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_pages_render() {
    let out = ocfork(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH ocfork"),
        "{page}"
    );
    assert!(page.contains("continue"));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ocfork(&["man", "--dir", &dir.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(0));
    let report =
        std::fs::read_to_string(dir.path().join("ocfork-report.1")).expect("page per command");
    assert!(report.contains("output"), "{report}");
}
