//! The verdict as text: the table `ocfork judge` prints, and the short lines `status`, `diff`
//! and `report` show.

use crate::state::verdict::Verdict;

/// The verdict table: one row per fork, best first, then the judges and whether they agree.
pub fn table(v: &Verdict) -> String {
    let mut out = String::new();
    let Some(ranking) = &v.ranking else {
        out.push_str("no ranking: a judge gave no usable reply; evidence only\n");
        for e in &v.evidence {
            out.push_str(&format!("  {}  {}\n", e.fork, facts(v, &e.fork)));
        }
        return out;
    };
    let mut rows = vec![vec![
        "RANK".to_string(),
        "FORK".into(),
        "GROUP".into(),
        "EVIDENCE".into(),
        "REASON".into(),
    ]];
    for r in ranking {
        rows.push(vec![
            r.rank.to_string(),
            r.fork.clone(),
            r.group.clone(),
            facts(v, &r.fork),
            r.reason.clone().unwrap_or_default(),
        ]);
    }
    out.push_str(&crate::text::columns(&rows, ""));
    out.push_str(&judges(v));
    out
}

/// The judges, one line each, and a note when their orders differ.
fn judges(v: &Verdict) -> String {
    let mut out = String::new();
    for j in &v.judges {
        let order = j
            .ranking
            .as_ref()
            .map_or_else(|| "no usable reply".to_string(), |r| r.join(" > "));
        let cost = j.cost.map_or(String::new(), |c| format!(", ${c:.4}"));
        let tokens = j.tokens.as_ref().map_or(String::new(), |t| {
            format!(", {} in / {} out tokens", t.input, t.output)
        });
        out.push_str(&format!(
            "judge {} ({}) session {}: {order}{tokens}{cost}\n",
            j.model.as_deref().unwrap_or("default model"),
            j.agent,
            j.session
        ));
    }
    let orders: Vec<&Vec<String>> = v.judges.iter().filter_map(|j| j.ranking.as_ref()).collect();
    if orders.windows(2).any(|w| w[0] != w[1]) {
        out.push_str("the judges disagree; their rankings are combined by Borda count\n");
    }
    out
}

/// `check passed, +3 -1 in 2 files, tests weakened, consensus 0.42`.
fn facts(v: &Verdict, fork: &str) -> String {
    let Some(e) = v.evidence_of(fork) else {
        return String::new();
    };
    if e.empty {
        return "no change".into();
    }
    let mut parts = vec![];
    if e.check != "none" {
        parts.push(format!("check {}", e.check));
    }
    parts.push(format!("+{} -{} in {}", e.insertions, e.deletions, e.files));
    if e.tests_weakened {
        parts.push(format!("tests weakened ({})", e.weakened_files.join(", ")));
    }
    parts.push(format!("consensus {:.2}", e.consensus));
    parts.join(", ")
}

/// One line for `status` and `diff`: the best fork and why.
pub fn summary(v: &Verdict) -> String {
    let line = summary_line(v);
    match v.stale.is_empty() {
        true => line,
        false => format!(
            "{line}verdict: stale: `continue` changed {} since; run `ocfork judge` again\n",
            v.stale.join(", ")
        ),
    }
}

fn summary_line(v: &Verdict) -> String {
    match (&v.ranking, v.ranking.as_ref().and_then(|r| r.first())) {
        (Some(r), Some(best)) => {
            let order: Vec<&str> = r.iter().map(|x| x.fork.as_str()).collect();
            let why = best
                .reason
                .as_deref()
                .map_or(String::new(), |w| format!(": {w}"));
            format!(
                "verdict: best {}{why} (order: {})\n",
                best.fork,
                order.join(" > ")
            )
        }
        _ => "verdict: none (the judges gave no usable reply; run `ocfork judge` again)\n".into(),
    }
}
