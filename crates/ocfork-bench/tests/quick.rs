//! `ocfork-bench all --quick` runs every scenario on small inputs and writes its table, so the
//! benchmark program cannot rot. No timing is asserted.
//!
//! It costs ~100 s of two cores (nine `opencode serve` starts), so it is not part of the
//! developer's `cargo test --workspace`: `.ci/run` runs it as a step of its own with
//! `cargo test -p ocfork-bench --test quick -- --ignored`.

use std::path::{Path, PathBuf};

/// The real opencode binary: `$OCFORK_OPENCODE`, else the project-local install; missing is a
/// failure, not a skip.
fn opencode_bin() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::env::var_os("OCFORK_OPENCODE")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| Some(root.join(".tools/opencode/node_modules/.bin/opencode")))
        .filter(|p| p.is_file())
        .expect("opencode not found: set OCFORK_OPENCODE or run `bash scripts/install-opencode`")
}

/// The product binary, built beside the bench (`cargo build --bin ocfork`, or the workspace's
/// tests).
fn ocfork_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_ocfork-bench")).with_file_name("ocfork");
    assert!(
        bin.is_file(),
        "no ocfork binary at {}: build it first (`cargo build --bin ocfork`)",
        bin.display()
    );
    bin
}

#[test]
#[ignore = "slow; .ci/run runs it: cargo test -p ocfork-bench --test quick -- --ignored"]
fn quick_bench_writes_a_table() {
    let opencode = opencode_bin();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("BENCHMARKS.md");
    // `ocfork-bench COMMAND --quick --out BENCHMARKS.md` with this test's binaries.
    let bench = |command: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ocfork-bench"))
            .args([command, "--quick", "--out"])
            .arg(&out)
            .arg("--ocfork")
            .arg(ocfork_bin())
            .arg("--opencode")
            .arg(&opencode)
            .env("OCFORK_BENCH_DIR", tmp.path())
            .output()
            .expect("ocfork-bench runs")
    };
    let run = bench("all");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "stderr:\n{stderr}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("Goals"), "stdout:\n{stdout}");

    let table = std::fs::read_to_string(&out).expect("the table was written");
    for heading in [
        "### Goals",
        "### 1. Fork setup",
        "### 2. Against the best script",
        "### 3. Against the hand-made way",
        "### 4. Scale",
        "### 5. Diff",
        "### 6. CLI latency",
        "### 7. A user's server",
        "### 9. Forks on another machine",
        "- OpenCode: ",
        "- CPU: ",
    ] {
        assert!(table.contains(heading), "missing {heading:?} in:\n{table}");
    }
    let goals = table.lines().filter(|l| {
        l.contains("**met**") || l.contains("**not met**") || l.contains("**not available**")
    });
    assert!(goals.count() >= 7, "{table}");

    // A second run replaces the generated part and keeps what was written around it.
    let with_notes = format!("{table}\n## Notes\nkept\n");
    std::fs::write(&out, with_notes).expect("write");
    let again = bench("latency");
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let table = std::fs::read_to_string(&out).expect("read");
    assert!(table.contains("## Notes\nkept"), "{table}");
    assert_eq!(table.matches(ocfork_bench_begin()).count(), 1, "{table}");
    assert!(!table.contains("### 1. Fork setup"), "{table}");
}

fn ocfork_bench_begin() -> &'static str {
    "<!-- ocfork-bench: begin generated results -->"
}
