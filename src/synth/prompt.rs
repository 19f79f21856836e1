//! The synthesizing agent's prompt: the task, the criteria, one section per chosen fork (its
//! approach, evidence, the judges' reasons, its patch bounded with a note where cut), and the
//! instruction to write one implementation from the strongest parts and say where each came from.

use super::Source;
#[cfg(test)]
use crate::judge::prompt::PATCH_LIMIT;
use crate::judge::prompt::{evidence_text, fenced_patch, task_and_criteria};

/// The prompt for a fork synthesized from `sources`.
pub fn synthesis(task: Option<&str>, criteria: Option<&str>, sources: &[Source]) -> String {
    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    let mut out = format!(
        "Several attempts (forks) at the same task were each made independently from the code \
         in this directory. Below are the task and the work of {} of them: {}. Their changes \
         are not in this directory; it holds the code they all started from.\n\n",
        sources.len(),
        names.join(", ")
    );
    out.push_str(&task_and_criteria(task, criteria));
    out.push_str("# The forks\n\n");
    for s in sources {
        out.push_str(&section(s));
    }
    out.push_str(&format!(
        "# What to do\n\nWrite one implementation of the task here that keeps the strongest \
         parts of each fork above: the soundest design, the better tests, every edge case one \
         of them handled. Do not delete or weaken tests. When you are done, say which parts \
         came from which fork ({}).\n",
        names.join(", ")
    ));
    out
}

fn section(s: &Source) -> String {
    let mut out = format!("## From fork {}\n\n", s.name);
    out.push_str(&evidence_text(&s.approach, &s.evidence));
    if let Some(rank) = s.rank {
        out.push_str(&format!("The judges ranked it #{rank}."));
        if let Some(r) = &s.reason {
            out.push_str(&format!(" Their reasons: {}", r.trim()));
        }
        out.push_str("\n\n");
    }
    out.push_str(&fenced_patch(
        &s.patch,
        "read the fork's branch for the rest",
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::Evidence;

    fn source(name: &str, patch: String) -> Source {
        Source {
            name: name.into(),
            approach: format!("approach {name}"),
            evidence: Evidence {
                fork: name.into(),
                check: "passed".into(),
                tests_weakened: false,
                weakened_files: Vec::new(),
                empty: false,
                files: 1,
                insertions: 1,
                deletions: 0,
                consensus: 0.0,
            },
            patch,
            reason: Some(format!("{name} is tidy")),
            rank: Some(1),
        }
    }

    #[test]
    fn holds_each_source_and_cuts_long_patches() {
        let long = "+line\n".repeat(PATCH_LIMIT);
        let text = synthesis(
            Some("Do it"),
            Some("small"),
            &[source("a", "+only a\n".into()), source("b", long)],
        );
        for wanted in [
            "# Task\n\nDo it",
            "# Criteria\n\nsmall",
            "## From fork a",
            "+only a",
            "a is tidy",
            "approach b",
            "patch cut here",
            "which fork (a, b)",
        ] {
            assert!(text.contains(wanted), "no {wanted:?}");
        }
        assert!(text.len() < 2 * PATCH_LIMIT, "the long patch was not cut");
    }
}
