//! `ocfork-bench all --quick` runs every scenario on small inputs and writes its table, so the
//! benchmark program cannot rot. No timing is asserted.

mod common;

#[test]
fn quick_bench_writes_a_table() {
    let opencode = common::opencode_bin();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("BENCHMARKS.md");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_ocfork-bench"))
        .args(["all", "--quick", "--out"])
        .arg(&out)
        .arg("--ocfork")
        .arg(env!("CARGO_BIN_EXE_ocfork"))
        .arg("--opencode")
        .arg(&opencode)
        .env("OCFORK_BENCH_DIR", tmp.path())
        .output()
        .expect("ocfork-bench runs");
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
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_ocfork-bench"))
        .args(["latency", "--quick", "--out"])
        .arg(&out)
        .arg("--ocfork")
        .arg(env!("CARGO_BIN_EXE_ocfork"))
        .arg("--opencode")
        .arg(&opencode)
        .env("OCFORK_BENCH_DIR", tmp.path())
        .output()
        .expect("ocfork-bench runs");
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
