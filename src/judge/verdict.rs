//! Reading a judge's reply (one JSON object, possibly in a fenced block), combining several
//! judges' rankings by Borda count, and the final order: evidence groups first, then the
//! judges' order, ties by consensus. The verdict as the manifest keeps it is `state::verdict`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;

use super::evidence::Group;
use crate::state::verdict::{Evidence, Judge, Ranked};

#[derive(Deserialize)]
struct Reply {
    ranking: Vec<String>,
    #[serde(default)]
    reasons: BTreeMap<String, serde_json::Value>,
}

/// A usable reply: the ranking and reasons.
pub type Parsed = (Vec<String>, BTreeMap<String, String>);

/// Reads a reply; the error says what is wrong with it, to tell the judge.
pub fn parse(text: &str, forks: &[String]) -> Result<Parsed, String> {
    let reply = candidates(text)
        .into_iter()
        .find_map(|c| serde_json::from_str::<Reply>(c).ok())
        .ok_or_else(|| {
            "it holds no JSON object of the form {\"ranking\": [...], \"reasons\": {...}}"
                .to_string()
        })?;
    let known: HashSet<&str> = forks.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    for f in &reply.ranking {
        if !known.contains(f.as_str()) {
            return Err(format!("`{f}` is not one of the forks"));
        }
        if !seen.insert(f.as_str()) {
            return Err(format!("`{f}` is named twice"));
        }
    }
    let missing: Vec<&str> = forks
        .iter()
        .map(String::as_str)
        .filter(|f| !seen.contains(f))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the ranking leaves out {}",
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let reasons = reply
        .reasons
        .into_iter()
        .filter(|(k, _)| known.contains(k.as_str()))
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    Ok((reply.ranking, reasons))
}

/// Texts that may be the JSON: each fenced block, the whole reply, and the span from its
/// first `{` to its last `}`.
fn candidates(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        let Some(close) = body.find("```") else { break };
        out.push(body[..close].trim());
        rest = &body[close + 3..];
    }
    out.push(text.trim());
    if let (Some(a), Some(b)) = (text.find('{'), text.rfind('}'))
        && a < b
    {
        out.push(&text[a..=b]);
    }
    out
}

/// Borda points per fork: in a ranking of n, the first gets n-1, the last 0.
pub fn borda(rankings: &[&[String]]) -> HashMap<String, usize> {
    let mut points: HashMap<String, usize> = HashMap::new();
    for r in rankings {
        let n = r.len();
        for (i, f) in r.iter().enumerate() {
            *points.entry(f.clone()).or_default() += n - 1 - i;
        }
    }
    points
}

/// The final order of `evidence`'s forks: by group, then Borda points, then consensus, then
/// name. `checked` when the run has a `--check`.
pub fn order(evidence: &[Evidence], judges: &[Judge], checked: bool) -> Vec<Ranked> {
    let rankings: Vec<&[String]> = judges.iter().filter_map(|j| j.ranking.as_deref()).collect();
    let points = borda(&rankings);
    let mut forks: Vec<(&Evidence, Group, usize)> = evidence
        .iter()
        .map(|e| {
            let p = points.get(&e.fork).copied().unwrap_or(0);
            (e, e.group(checked), p)
        })
        .collect();
    forks.sort_by(|a, b| {
        a.1.cmp(&b.1)
            .then(b.2.cmp(&a.2))
            .then(b.0.consensus.total_cmp(&a.0.consensus))
            .then(a.0.fork.cmp(&b.0.fork))
    });
    let several = judges.len() > 1;
    forks
        .into_iter()
        .enumerate()
        .map(|(i, (e, g, p))| Ranked {
            fork: e.fork.clone(),
            rank: i + 1,
            group: g.name(checked).into(),
            reason: reason(judges, &e.fork, several),
            points: p,
        })
        .collect()
}

/// The judges' reasons for a fork, each named by its model when there are several judges.
fn reason(judges: &[Judge], fork: &str, several: bool) -> Option<String> {
    let parts: Vec<String> = judges
        .iter()
        .filter_map(|j| {
            let r = j.reasons.get(fork)?;
            Some(match (several, &j.model) {
                (true, Some(m)) => format!("{m}: {r}"),
                _ => r.clone(),
            })
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_plain_and_fenced_replies() {
        let forks = names(&["a", "b"]);
        let plain = r#"{"ranking": ["b", "a"], "reasons": {"b": "good"}}"#;
        assert_eq!(parse(plain, &forks).unwrap().0, names(&["b", "a"]));
        let fenced = format!("Here it is:\n```json\n{plain}\n```\nThanks.");
        let (r, why) = parse(&fenced, &forks).unwrap();
        assert_eq!(r, names(&["b", "a"]));
        assert_eq!(why["b"], "good");
        assert!(parse("no json here", &forks).is_err());
        let unknown = r#"{"ranking": ["b", "c"]}"#;
        assert!(parse(unknown, &forks).unwrap_err().contains("`c`"));
        let missing = r#"{"ranking": ["b"]}"#;
        assert!(parse(missing, &forks).unwrap_err().contains("`a`"));
    }

    #[test]
    fn borda_sums_positions() {
        let one = names(&["a", "b", "c"]);
        let two = names(&["b", "a", "c"]);
        let p = borda(&[&one, &two]);
        assert_eq!((p["a"], p["b"], p["c"]), (3, 3, 0));
    }
}
