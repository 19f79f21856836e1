//! The `--json` formats are documented in the module docs of the code that prints them (a
//! table of fields, `forks[].check.exit_code` style); a real run prints exactly those fields.

use std::collections::BTreeSet;

use crate::common::*;
use serde_json::Value;

/// The fields a module's doc table names: `(path, may_be_absent)`.
fn documented(source: &str) -> Vec<(String, bool)> {
    let fields: Vec<(String, bool)> = source
        .lines()
        .filter_map(|l| l.strip_prefix("//! | `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(path, _)| match path.strip_suffix('?') {
            Some(p) => (p.to_string(), true),
            None => (path.to_string(), false),
        })
        .collect();
    assert!(!fields.is_empty(), "no field table found");
    fields
}

/// Every field path in `value` (`forks[].check.exit_code`), and the paths of the objects
/// present (not null), whose documented fields must then all be there.
fn printed(value: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    fn walk(v: &Value, path: &str, fields: &mut BTreeSet<String>, objects: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                objects.insert(path.to_string());
                for (k, child) in map {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    fields.insert(p.clone());
                    walk(child, &p, fields, objects);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{path}[]"), fields, objects);
                }
            }
            _ => {}
        }
    }
    let (mut fields, mut objects) = (BTreeSet::new(), BTreeSet::new());
    walk(value, "", &mut fields, &mut objects);
    (fields, objects)
}

/// The doc and the output agree: nothing printed is undocumented, and every documented field
/// of an object that is there is printed (unless marked `?`).
pub(crate) fn assert_documented(what: &str, source: &str, value: &Value) {
    let doc = documented(source);
    let names: BTreeSet<&str> = doc.iter().map(|(p, _)| p.as_str()).collect();
    let (fields, objects) = printed(value);
    let undocumented: Vec<&String> = fields
        .iter()
        .filter(|f| !names.contains(f.as_str()))
        .collect();
    assert!(
        undocumented.is_empty(),
        "{what} prints fields its doc does not name: {undocumented:?}"
    );
    let missing: Vec<&String> = doc
        .iter()
        .filter(|(path, optional)| {
            let parent = path.rsplit_once('.').map_or("", |(p, _)| p);
            !optional && objects.contains(parent) && !fields.contains(path)
        })
        .map(|(p, _)| p)
        .collect();
    assert!(
        missing.is_empty(),
        "{what}'s doc names fields it does not print: {missing:?}\n{value:#}"
    );
}

#[test]
fn json_output_has_exactly_the_documented_fields() {
    let w = suite_world(vec![
        writes("Use one", &[("one.txt", "one\n"), ("shared.txt", "1\n")]),
        writes("Use two", &[("two.txt", "two\n"), ("shared.txt", "2\n")]),
    ]);
    let out = w.run(&[
        "try",
        "--json",
        "-n",
        "docs",
        "--check",
        "true",
        "one=Use one",
        "two=Use two",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_source = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/state/mod.rs"));
    assert_documented("try --json", run_source, &json(&out));
    let status = json(&w.run(&["status", "--json"]));
    assert!(status["forks"][0]["check"].is_object(), "{status:#}");
    assert_documented("status --json", run_source, &status);
    assert_documented(
        "diff --json",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/cli/diff.rs")),
        &json(&w.run(&["diff", "--json"])),
    );
    assert_documented(
        "list --json",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/cli/list.rs")),
        &json(&w.run(&["list", "--json"])),
    );
}
