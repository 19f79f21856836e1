//! Property tests for what users type as names: approach specs, fork and run names, and fork
//! references. Never a panic, never a path outside the worktree root, never a ref git rejects.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use ocfork::names::{MAX_NAME, is_valid, parse_approach, run_name, slug, unique};
use ocfork::state::{Run, Store};
use proptest::prelude::*;

/// Text users might type: any unicode, plus the characters that matter to paths and refs.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 =/._~^:?*\\[\\]\\\\@{}-]{0,60}",
        "[a-z0-9-]{1,45}=.{0,20}",
        "(\\.\\./|/|\\.|@\\{|\\.lock|-){1,6}[a-z]{0,4}",
    ]
}

fn git_accepts_ref(name: &str) -> bool {
    Command::new("git")
        .args(["check-ref-format", name])
        .status()
        .is_ok_and(|s| s.success())
}

/// The fork's worktree stays below the run's root: only plain components are added.
fn stays_below(root: &Path, run: &str, fork: &str) -> bool {
    let path = root.join(run).join(fork);
    path.starts_with(root)
        && path.strip_prefix(root).is_ok_and(|rel| {
            rel.components().count() == 2
                && rel.components().all(|c| matches!(c, Component::Normal(_)))
        })
}

fn assert_safe_name(name: &str) {
    assert!(is_valid(name), "`{name}` is not a valid name");
    assert!(name.len() <= MAX_NAME);
    assert!(stays_below(Path::new("/wt"), name, name), "{name}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn approach_specs_give_safe_names(spec in text()) {
        match parse_approach(&spec) {
            Ok(a) => {
                assert_safe_name(&a.name);
                prop_assert!(!a.text.trim().is_empty());
                if a.explicit {
                    prop_assert_eq!(format!("{}={}", a.name, a.text), spec.clone());
                } else {
                    prop_assert_eq!(a.text, spec.clone());
                }
            }
            // A refusal says what to do about it.
            Err(e) => prop_assert!(
                e.contains("name") || e.contains("empty") || e.contains("prompt"),
                "unclear refusal of `{}`: {}",
                spec,
                e
            ),
        }
    }

    #[test]
    fn slugs_unique_names_and_run_names_are_valid(
        texts in proptest::collection::vec(text(), 1..6),
        taken in proptest::collection::hash_set("[a-z0-9][a-z0-9-]{0,39}", 0..8),
    ) {
        let names: Vec<String> = texts.iter().map(|t| slug(t, MAX_NAME)).filter(|s| !s.is_empty()).collect();
        for n in &names {
            assert_safe_name(n);
        }
        let run = run_name(&names);
        assert_safe_name(&run);
        let taken: HashSet<String> = taken.into_iter().filter(|t| is_valid(t)).collect();
        for n in names.iter().chain(std::iter::once(&run)) {
            let u = unique(n, &taken);
            assert_safe_name(&u);
            prop_assert!(!taken.contains(&u), "{} is taken", u);
        }
    }

    #[test]
    fn validity_agrees_with_the_documented_pattern(s in text()) {
        let re_ok = !s.is_empty()
            && s.len() <= 40
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        prop_assert_eq!(is_valid(&s), re_ok);
    }
}

proptest! {
    // Each case runs git; fewer cases keep the test quick.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn fork_branches_are_refs_git_accepts(run in text(), fork in text()) {
        let run = names_or(&run, "run");
        let fork = names_or(&fork, "fork");
        let branch = format!("refs/heads/ocfork/{run}/{fork}");
        prop_assert!(git_accepts_ref(&branch), "git rejects {}", branch);
    }
}

fn names_or(text: &str, fallback: &str) -> String {
    parse_approach(text)
        .map(|a| a.name)
        .unwrap_or_else(|_| fallback.to_string())
}

/// A store holding one run `base-run` with forks `a` and `b`.
/// Every file and directory below `dir`, with the content of each file.
fn tree(dir: &Path) -> Vec<(PathBuf, Option<String>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                todo.push(p.clone());
                out.push((p, None));
            } else {
                let content = std::fs::read(&p).expect("read");
                out.push((p, Some(String::from_utf8_lossy(&content).into_owned())));
            }
        }
    }
    out.sort();
    out
}

fn store_with_run(dir: &Path) -> Store {
    let store = Store::new(dir);
    let forks: Vec<serde_json::Value> = ["a", "b"]
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f, "prompt": "p", "agent": "build", "model": null, "state": "done",
                "branch": format!("ocfork/base-run/{f}"), "worktree": format!("/wt/base-run/{f}"),
                "session": null, "commit": null, "check": null, "tokens": null, "cost": null,
                "error": null,
            })
        })
        .collect();
    let run: Run = serde_json::from_value(serde_json::json!({
        "schema": 1, "run": "base-run", "repo": "/repo", "base": "0".repeat(40),
        "start": "0".repeat(40), "task": null, "state": "done",
        "created_at": "2026-01-01T00:00:00.000Z", "forks": forks,
    }))
    .expect("a run");
    store.create(&run).expect("saved");
    store
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn references_resolve_only_to_real_forks(reference in prop_oneof![
        text(),
        "(base-run|\\.\\.|[a-z]{1,5})/(a|b|\\.\\./[a-z]{1,5}|[a-z/]{0,6})",
    ]) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = store_with_run(&tmp.path().join("common"));
        let before = tree(tmp.path());
        match store.resolve_fork(&reference) {
            Ok(found) => {
                let q = found.qualified();
                prop_assert!(q == "base-run/a" || q == "base-run/b", "{} resolved to {}", reference, q);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        match store.load(&reference) {
            Ok(run) => prop_assert_eq!(run.run, "base-run"),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        // Looking names up wrote nothing: not in the store, not beside it (`../x`).
        prop_assert_eq!(tree(tmp.path()), before, "after resolving {:?}", reference);
    }
}
