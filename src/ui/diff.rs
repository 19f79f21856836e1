//! The text of `ocfork diff` for a whole run: one row per fork, per-file statistics, the files
//! several forks changed, and how similar each two forks are.

use std::time::Duration;

use crate::compare::{self, ForkChanges, Overlap};
use crate::state::{Fork, Run};
use crate::text;

/// `1234` → `1234`, `12345` → `12.3k`, `1234567` → `1.2M`.
fn count(n: u64) -> String {
    match n {
        0..10_000 => n.to_string(),
        10_000..1_000_000 => format!("{:.1}k", n as f64 / 1000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

fn check_cell(f: &Fork) -> String {
    match &f.check {
        None => crate::state::check_cell(None),
        Some(c) => format!(
            "{} {}",
            crate::state::check_cell(Some(c)),
            text::duration(Duration::from_millis(c.duration_ms))
        ),
    }
}

/// The header of the run and one row per fork: state, files, +/-, check, cost, tokens; with
/// `color`, the header bold and each state and check in its colour. Control characters of
/// the run's text are written out here, so the result can be printed as it is.
pub fn diff_table(run: &Run, changes: &[ForkChanges], color: bool) -> String {
    let mut head = format!("run {}  base {}", run.run, crate::git::short_id(&run.base));
    if run.start != run.base {
        head.push_str(&format!(
            "  start {} (uncommitted changes carried in)",
            crate::git::short_id(&run.start)
        ));
    }
    head.push_str(&format!("  {}\n", run.state.as_str()));
    let mut out = text::escape_controls(&head).into_owned();
    let mut rows = vec![
        [
            "FORK", "STATE", "COMMIT", "FILES", "+/-", "CHECK", "COST", "TOKENS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let ranked = run.judge.as_ref().filter(|v| v.ranking.is_some());
    if ranked.is_some() {
        rows[0].insert(0, "RANK".into());
    }
    for (f, c) in run.forks.iter().zip(changes) {
        let (files, ins, del) = c.totals();
        let state = if f.merged {
            format!("{} (merged)", f.state.as_str())
        } else if !c.uncommitted.is_empty() {
            format!("{} (uncommitted work)", f.state.as_str())
        } else {
            f.state.as_str().to_string()
        };
        rows.push(vec![
            f.label(),
            state,
            c.commit
                .as_deref()
                .map_or("-".into(), |c| crate::git::short_id(c).to_string()),
            files.to_string(),
            format!("+{ins} -{del}"),
            check_cell(f),
            f.cost.map_or("-".into(), |c| format!("${c:.4}")),
            f.tokens.as_ref().map_or("-".into(), |t| {
                format!("{} in / {} out", count(t.input), count(t.output))
            }),
        ]);
        if let Some(v) = ranked
            && let Some(row) = rows.last_mut()
        {
            row.insert(0, v.rank_of(&f.name).map_or("-".into(), |r| r.to_string()));
        }
    }
    let (state_col, check_col) = match ranked {
        Some(_) => (2, 6),
        None => (1, 5),
    };
    out.push_str(&text::columns_painted(&rows, "", |r, c, cell| {
        match (color, r, c) {
            (false, _, _) => None,
            (true, 0, _) => Some("1"),
            (true, _, c) if c == state_col => Some(match cell.split(' ').next() {
                Some("done") => "32",
                Some("failed" | "timeout") => "31",
                _ => "33",
            }),
            (true, _, c) if c == check_col && cell.starts_with("pass") => Some("32"),
            (true, _, c) if c == check_col && cell.starts_with("fail") => Some("31"),
            _ => None,
        }
    }));
    if let Some(v) = &run.judge {
        out.push_str(&text::escape_controls(&super::verdict::summary(v)));
    }
    out
}

/// For each fork, every file it changed with its status and counts.
pub fn diff_stat(run: &Run, changes: &[ForkChanges]) -> String {
    let mut out = String::new();
    for (f, c) in run.forks.iter().zip(changes) {
        let (files, ins, del) = c.totals();
        out.push_str(&format!(
            "\n{} ({}): {files} file{}, +{ins} -{del}\n",
            f.name,
            f.state.as_str(),
            if files == 1 { "" } else { "s" }
        ));
        let rows: Vec<Vec<String>> = c
            .files
            .iter()
            .map(|file| {
                let path = match &file.old_path {
                    Some(old) => format!("{old} -> {}", file.path),
                    None => file.path.clone(),
                };
                let counts = if file.binary {
                    "binary".to_string()
                } else {
                    format!("+{} -{}", file.insertions, file.deletions)
                };
                vec![file.status.as_str().to_string(), path, counts]
            })
            .collect();
        out.push_str(&text::columns(&rows, "  "));
    }
    out
}

/// "a and b", "a, b and c".
fn and_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn overlap_verdict(o: &Overlap) -> String {
    if let [only] = o.groups.as_slice() {
        return format!("same in {}", and_list(only));
    }
    if o.groups.iter().all(|g| g.len() == 1) {
        let all: Vec<String> = o.groups.iter().flatten().cloned().collect();
        return if all.len() == 2 {
            format!("{} differ", and_list(&all))
        } else {
            format!("{} all differ", and_list(&all))
        };
    }
    o.groups
        .iter()
        .map(|g| match g.as_slice() {
            [one] => format!("{one} differs"),
            _ => format!("{} agree", and_list(g)),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Files more than one fork changed, which forks agree on them, and how similar each two
/// forks' changes are.
pub fn diff_overlaps(changes: &[ForkChanges]) -> String {
    if changes.len() < 2 {
        return String::new();
    }
    let overlaps = compare::overlaps(changes);
    let mut out = String::from("\n");
    if overlaps.is_empty() {
        out.push_str("No file was changed by more than one fork.\n");
    } else {
        out.push_str("Files changed by more than one fork:\n");
        let rows: Vec<Vec<String>> = overlaps
            .iter()
            .map(|o| vec![o.path.clone(), overlap_verdict(o)])
            .collect();
        out.push_str(&text::columns(&rows, "  "));
    }
    out.push_str("\nSimilarity of the changes (1 = identical):\n");
    let unsure = |name: &str| {
        changes
            .iter()
            .any(|c| c.name == name && !c.uncommitted.is_empty())
    };
    let rows: Vec<Vec<String>> = compare::pairs(changes)
        .iter()
        .map(|p| {
            let value = if unsure(&p.a) || unsure(&p.b) {
                "-  (uncommitted work is not compared)".to_string()
            } else {
                format!("{:.2}", p.similarity)
            };
            vec![format!("{} ~ {}", p.a, p.b), value]
        })
        .collect();
    out.push_str(&text::columns(&rows, "  "));
    out
}
