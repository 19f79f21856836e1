//! `ocfork plugin install`: where the plugin goes and what it holds. No OpenCode needed.

use std::process::Command;

fn ocfork(dir: &std::path::Path, config: &std::path::Path, args: &[&str]) -> std::process::Output {
    crate::common::hermetic(&mut Command::new(env!("CARGO_BIN_EXE_ocfork")))
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", config)
        .env("HOME", config.join("home"))
        .args(args)
        .output()
        .expect("ocfork runs")
}

#[test]
fn installs_into_the_project_or_the_config_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("app");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    let git = crate::common::hermetic(&mut Command::new("git"))
        .args(["init", "-q"])
        .current_dir(&repo)
        .status()
        .unwrap();
    assert!(git.success());
    let config = tmp.path().join("config");

    // From a subdirectory, the project's plugin folder is at the repository root.
    let out = ocfork(&repo.join("src"), &config, &["plugin", "install"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = repo.join(".opencode/plugin/ocfork.ts");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        path.to_str().unwrap()
    );
    let source = std::fs::read_to_string(&path).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_ocfork")).unwrap();
    assert!(
        source.contains(&serde_json::to_string(exe.to_str().unwrap()).unwrap()),
        "the binary's path is embedded"
    );
    assert!(source.contains("session: tool("));

    let out = ocfork(&repo, &config, &["plugin", "install", "--global"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(config.join("opencode/plugin/ocfork.ts").is_file());

    // Installing again replaces ocfork's own file, but not someone else's.
    assert_eq!(
        ocfork(&repo, &config, &["plugin", "install"]).status.code(),
        Some(0)
    );
    std::fs::write(&path, "export const Mine = async () => ({})\n").unwrap();
    let out = ocfork(&repo, &config, &["plugin", "install"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not written by ocfork"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "export const Mine = async () => ({})\n"
    );
    assert_eq!(
        ocfork(&repo, &config, &["plugin", "install", "--force"])
            .status
            .code(),
        Some(0)
    );
}
