//! The layers the README's module map draws, enforced: each module of the crate uses only
//! modules of lower layers (and itself), and only the CLI knows clap. A reference that points
//! up fails here, naming the file and the line; so does a README whose line "The layers, top
//! down: ..." differs from the table here.

use std::path::Path;

/// Each top-level module's layer; a module may use those of lower layers only.
const LAYERS: &[(&str, u8)] = &[
    ("main", 9),
    ("lib", 9),
    ("cli", 8),
    ("tui", 7),
    ("synth", 7),
    ("ops", 6),
    ("ui", 6),
    ("report", 6),
    ("relay", 6),
    ("judge", 6),
    ("dispatch", 5),
    ("compare", 4),
    ("host", 4),
    ("state", 3),
    ("config", 3),
    ("git", 2),
    ("opencode", 2),
    ("paths", 1),
    ("lockfile", 1),
    ("procfs", 1),
    ("text", 1),
    ("fault", 1),
    ("signal", 1),
    ("names", 1),
    ("private_fs", 0),
    ("timeouts", 0),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "no sources found under {}", src.display());
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a component");
        let module = first.as_os_str().to_string_lossy();
        let module = module.trim_end_matches(".rs");
        if module == "layers_tests" {
            continue;
        }
        let Some(own) = layer(module) else {
            wrong.push(format!(
                "{}: module {module} has no layer here",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let used: String = code[i + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if used == module || used.is_empty() {
                    continue;
                }
                match layer(&used) {
                    Some(l) if l < own => {}
                    _ => wrong.push(format!(
                        "{}:{}: {module} uses crate::{used}, which is not below it",
                        rel.display(),
                        n + 1
                    )),
                }
            }
            if !matches!(module, "cli" | "main") && code.contains("clap::") {
                wrong.push(format!(
                    "{}:{}: only the CLI knows clap",
                    rel.display(),
                    n + 1
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "upward references:\n{}", wrong.join("\n"));
}

/// The README's line "The layers, top down: ..." as groups of module names, top group first:
/// the groups are separated by `;`, the names are the words in backticks.
fn readme_layers() -> Vec<Vec<String>> {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let text = std::fs::read_to_string(&readme).expect("README.md readable");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let start = text
        .find("The layers, top down:")
        .expect("README has the line \"The layers, top down: ...\"");
    let line = &text[start..];
    let line = &line[..line.find(". ").unwrap_or(line.len())];
    line.split(';')
        .map(|group| {
            group
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        })
        .collect()
}

#[test]
fn the_readme_draws_the_layers_this_table_holds() {
    let groups = readme_layers();
    let mut wrong = Vec::new();
    let mut above: Option<u8> = None;
    for group in &groups {
        let layers: Vec<Option<u8>> = group.iter().map(|m| layer(m)).collect();
        for (m, l) in group.iter().zip(&layers) {
            if l.is_none() {
                wrong.push(format!("README names `{m}`, which has no layer here"));
            }
        }
        let Some(Some(first)) = layers.first() else {
            continue;
        };
        if layers.iter().any(|l| l.is_some_and(|l| l != *first)) {
            wrong.push(format!(
                "README puts {group:?} in one layer; here they differ"
            ));
        }
        if above.is_some_and(|a| a <= *first) {
            wrong.push(format!(
                "README puts {group:?} below a layer that is not above it here"
            ));
        }
        above = Some(*first);
    }
    let named: Vec<&String> = groups.iter().flatten().collect();
    for (m, _) in LAYERS {
        if !matches!(*m, "main" | "lib") && !named.iter().any(|n| n == m) {
            wrong.push(format!("module {m} is missing from the README's layers"));
        }
    }
    assert!(
        wrong.is_empty(),
        "README against src/layers_tests.rs:\n{}",
        wrong.join("\n")
    );
}
