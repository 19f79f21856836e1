//! The layers the README's module map draws, enforced: each module of the crate uses only
//! modules of lower layers (and itself), and only the CLI knows clap. A reference that points
//! up fails here, naming the file and the line.

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
