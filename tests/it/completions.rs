//! `ocfork completions SHELL` (dynamic: the script asks ocfork at every TAB) and `ocfork man`,
//! from the same clap definitions as the parser.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::common::*;

fn ocfork(args: &[&str]) -> std::process::Output {
    hermetic(&mut Command::new(env!("CARGO_BIN_EXE_ocfork")))
        .args(args)
        .output()
        .expect("ocfork runs")
}

/// What ocfork answers when bash asks for completions of `words` (the last one being typed),
/// as the registered script asks it.
fn complete_bash(dir: &Path, words: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocfork"));
    let out = bash_completion(hermetic(&mut cmd).current_dir(dir), words);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out).lines().map(str::to_string).collect()
}

/// The subcommands `ocfork --help` lists.
fn listed_subcommands() -> BTreeSet<String> {
    let help = stdout(&ocfork(&["--help"]));
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn completion_scripts_register_the_dynamic_completer_for_each_shell() {
    for (shell, marker) in [
        (
            "bash",
            "complete -o nospace -o bashdefault -o nosort -F _clap_complete_ocfork ocfork",
        ),
        ("zsh", "#compdef ocfork"),
        ("fish", "complete --keep-order --exclusive --command ocfork"),
    ] {
        let out = ocfork(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = stdout(&out);
        assert!(text.contains(marker), "{shell}: {text}");
        // It asks this very binary, with COMPLETE set to the shell.
        assert!(
            text.contains(env!("CARGO_BIN_EXE_ocfork")),
            "{shell}: {text}"
        );
        assert!(
            text.contains(&format!("COMPLETE=\"{shell}\""))
                || text.contains(&format!("COMPLETE={shell}")),
            "{shell}: {text}"
        );
        for hidden in ["__drive", "__relay"] {
            assert!(!text.contains(hidden), "{shell} offers {hidden}");
        }
    }
    let out = ocfork(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_listed_subcommand_completes_and_no_hidden_one() {
    let listed = listed_subcommands();
    for expected in ["try", "merge", "completions", "man", "help"] {
        assert!(
            listed.contains(expected),
            "--help lists {expected}: {listed:?}"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let offered: BTreeSet<String> = complete_bash(dir.path(), &["ocfork", ""])
        .into_iter()
        .filter(|c| !c.starts_with('-'))
        .collect();
    assert_eq!(
        offered, listed,
        "TAB after `ocfork` offers what --help lists"
    );
    for internal in ["__drive", "__relay"] {
        assert!(!offered.contains(internal), "{internal} is offered");
    }
    let flags = complete_bash(dir.path(), &["ocfork", "merge", "--"]);
    for flag in ["--squash", "--merge", "--dry-run"] {
        assert!(flags.iter().any(|f| f == flag), "{flag} in {flags:?}");
    }
}

#[test]
fn fork_and_run_names_complete_from_the_repository() {
    // A finished run made by real git and the run store (no OpenCode): names come from it.
    let w = world(vec![]);
    use crate::common::finished::{finished_run, wrote};
    let forks = [
        wrote("redux", "Use Redux", &[("src/store.js", "// redux\n")]),
        wrote(
            "context",
            "Use Context",
            &[("src/context.js", "// context\n")],
        ),
    ];
    finished_run(&w, "todo", None, &forks);

    let names = |words: &[&str]| -> Vec<String> {
        let mut n: Vec<String> = complete_bash(&w.repo, words)
            .into_iter()
            .filter(|c| !c.starts_with('-'))
            .collect();
        n.sort();
        n
    };
    let merge = names(&["ocfork", "merge", ""]);
    assert_eq!(merge, ["context", "redux", "todo/context", "todo/redux"]);
    assert_eq!(
        complete_bash(&w.repo, &["ocfork", "merge", "todo/r"]),
        ["todo/redux"]
    );
    assert_eq!(names(&["ocfork", "status", ""]), ["todo"]);
    let diff = names(&["ocfork", "diff", ""]);
    for name in ["redux", "context", "todo", "todo/redux"] {
        assert!(diff.iter().any(|d| d == name), "{name} in {diff:?}");
    }
    // Outside a repository there is nothing to offer, and no error.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    assert!(
        complete_bash(elsewhere.path(), &["ocfork", "merge", ""])
            .iter()
            .all(|c| c.starts_with('-'))
    );

    // The script bash sources does the same at a TAB.
    let script = w.path("ocfork.bash");
    std::fs::write(&script, stdout(&w.run(&["completions", "bash"]))).expect("write");
    let out = Command::new("bash")
        .current_dir(&w.repo)
        .env_remove("COMPLETE")
        .arg("-c")
        .arg(format!(
            "source '{}'; COMP_WORDS=(ocfork merge r); COMP_CWORD=2; COMP_TYPE=9; \
             _clap_complete_ocfork ocfork r merge; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "redux", "{}", stderr(&out));
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
    let report = read(dir.path().join("ocfork-report.1"));
    assert!(report.contains("output"), "{report}");
}
