//! The judge's prompt: the task, the user's criteria, and one `## Fork <name>` section per fork
//! with its approach, its evidence and its patch (bounded, with a note where cut); and the
//! follow-up sent when a reply is not the JSON asked for.

use super::evidence::Evidence;

/// Most characters of one fork's patch put in the prompt.
pub const PATCH_LIMIT: usize = 12_000;

/// One fork as the prompt shows it.
pub struct ForkSection<'a> {
    pub name: &'a str,
    /// What the fork was asked to do beyond the shared task.
    pub approach: &'a str,
    pub evidence: &'a Evidence,
    /// `git diff` from the run's start commit to the fork's commit.
    pub patch: &'a str,
}

/// The review prompt.
pub fn review(task: Option<&str>, criteria: Option<&str>, forks: &[ForkSection<'_>]) -> String {
    let mut out = String::from(
        "You are reviewing several attempts (forks) at the same task, each made independently \
         from the code in this directory. Read the code here as needed, but do not change \
         anything. Rank the forks, best first, by how well each does the task: correctness \
         first, then clarity and fit with the existing code.\n\n",
    );
    out.push_str(&task_and_criteria(task, criteria));
    out.push_str("# Forks\n\n");
    for f in forks {
        out.push_str(&section(f));
    }
    out.push_str(&answer_format(forks.iter().map(|f| f.name)));
    out
}

/// The `# Task` and `# Criteria` sections the judges' and the synthesis's prompts open with,
/// each left out when empty.
pub fn task_and_criteria(task: Option<&str>, criteria: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(t) = task.filter(|t| !t.trim().is_empty()) {
        out.push_str(&format!("# Task\n\n{}\n\n", t.trim_end()));
    }
    if let Some(c) = criteria.filter(|c| !c.trim().is_empty()) {
        out.push_str(&format!("# Criteria\n\n{}\n\n", c.trim_end()));
    }
    out
}

fn section(f: &ForkSection<'_>) -> String {
    let mut out = format!("## Fork {}\n\n", f.name);
    out.push_str(&evidence_text(f.approach, f.evidence));
    if f.evidence.empty {
        out.push_str("It changed nothing.\n\n");
        return out;
    }
    out.push_str(&fenced_patch(f.patch, "the fork's full change is larger"));
    out
}

/// A fork's approach and what the evidence says of it (check, size, weakened tests), as the
/// judges' and the synthesis's prompts give it.
pub fn evidence_text(approach: &str, e: &Evidence) -> String {
    let check = match e.check.as_str() {
        "passed" => "passed",
        "failed" => "FAILED",
        _ => "not run",
    };
    let mut out = format!("Approach: {}\n\n", approach.trim());
    out.push_str(&format!(
        "Check: {check}. Changes: {} files, +{} -{}.",
        e.files, e.insertions, e.deletions
    ));
    if e.tests_weakened {
        out.push_str(&format!(
            " It deleted or removed lines from test files: {}.",
            e.weakened_files.join(", ")
        ));
    }
    out.push_str("\n\n");
    out
}

/// A fork's patch in a fenced `diff` block, at most [`PATCH_LIMIT`] characters, with a note
/// (ending in `where_rest`) when it was cut.
pub fn fenced_patch(patch: &str, where_rest: &str) -> String {
    let (shown, cut) = bounded(patch, PATCH_LIMIT);
    let mut out = String::from("```diff\n");
    out.push_str(shown);
    if !shown.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("```\n");
    if cut > 0 {
        out.push_str(&format!(
            "(patch cut here: {cut} more lines not shown; {where_rest})\n"
        ));
    }
    out.push('\n');
    out
}

/// At most `limit` characters of `patch`, cut at a line end, and how many lines were left out.
pub fn bounded(patch: &str, limit: usize) -> (&str, usize) {
    if patch.len() <= limit {
        return (patch, 0);
    }
    let mut end = limit;
    while !patch.is_char_boundary(end) {
        end -= 1;
    }
    let end = patch[..end].rfind('\n').map_or(end, |i| i + 1);
    let rest = patch[end..].lines().count();
    (&patch[..end], rest)
}

fn answer_format<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("\"{n}\"")).collect();
    format!(
        "# Answer\n\nReply with one JSON object and nothing else (a ```json fenced block is fine):\n\
         {{\"ranking\": [\"<fork>\", ...best first], \"reasons\": {{\"<fork>\": \"one or two sentences\"}}}}\n\
         The ranking must name each of these forks exactly once: {}.\n",
        names.join(", ")
    )
}

/// The follow-up when a reply was not such a JSON.
pub fn follow_up<'a>(problem: &str, names: impl Iterator<Item = &'a str>) -> String {
    format!(
        "Your reply could not be used: {problem}.\n\n{}",
        answer_format(names)
    )
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn cuts_at_a_line_end() {
        let patch = "aaaa\nbbbb\ncccc\n";
        assert_eq!(bounded(patch, 100), (patch, 0));
        assert_eq!(bounded(patch, 7), ("aaaa\n", 2));
        assert_eq!(bounded("é".repeat(10).as_str(), 3).0, "é");
    }
}
