//! Unit tests of config file parsing: errors name the file and line of the key at fault.

use super::*;

#[test]
fn names_line_of_unknown_key() {
    let text = "jobs = 2\n\nmodel = \"a/b\"\n";
    let err = parse_layer(text, Path::new("/r/.ocfork.toml"), None).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("/r/.ocfork.toml:3: "), "{msg}");
    assert!(msg.contains("model"), "{msg}");
}

fn error_of(text: &str) -> String {
    parse_layer(text, Path::new("c.toml"), None)
        .expect_err("the file is invalid")
        .to_string()
}

#[test]
fn names_line_of_bad_type_and_value() {
    let err = error_of("agent = \"x\"\njobs = \"four\"\n");
    assert!(err.starts_with("c.toml:2: "), "{err}");
    let err = error_of("\ntimeout = \"soon\"\n");
    assert!(err.starts_with("c.toml:2: "), "{err}");
}

#[test]
fn each_checked_key_says_what_is_wrong_at_its_line() {
    let cases = [
        ("agent = \" \"", "`agent` must not be empty"),
        ("setup = \"\"", "`setup` must not be empty"),
        ("check = \"\"", "`check` must not be empty"),
        ("jobs = 0", "`jobs` must be at least 1"),
        ("servers = 0", "`servers` must be at least 1"),
        (
            "models = [\"a/b\", \"c\"]",
            "model `c` is not of the form provider/model",
        ),
        (
            "timeout = \"0s\"",
            "`timeout` \"0s\" must be longer than zero",
        ),
        ("ports = 0", "`ports` must be between 1 and"),
        ("worktree_root = \"\"", "`worktree_root` must not be empty"),
    ];
    for (line, says) in cases {
        let err = error_of(&format!("judge = true\n{line}\n"));
        assert!(err.starts_with("c.toml:2: "), "{line}: {err}");
        assert!(err.contains(says), "{line}: {err}");
    }
    let layer = parse_layer(
        "jobs = 3\nservers = 2\njudge = true\nsynth = true\n",
        Path::new("c"),
        None,
    )
    .expect("valid");
    assert_eq!(layer.jobs.map(|s| s.value), Some(3));
    assert_eq!(layer.servers.map(|s| s.value), Some(2));
    assert_eq!(layer.synth.map(|s| s.value), Some(true));
    let judge = layer.judge.expect("judge set");
    assert!(judge.value);
    assert_eq!(
        judge.source.to_string(),
        Source::File {
            path: "c".into(),
            line: 3
        }
        .to_string()
    );
}

#[test]
fn relative_root_is_under_the_repo() {
    let layer = parse_layer(
        "worktree_root = \"../wt\"\n",
        Path::new("c"),
        Some(Path::new("/r/app")),
    )
    .unwrap();
    // Lexically normalised, as `config` shows it.
    assert_eq!(layer.worktree_root.unwrap().value, PathBuf::from("/r/wt"));
}
