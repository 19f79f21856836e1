//! The fork queue (`dispatch`) bounds concurrency: with `-j 2` two sessions of four talk to the
//! model at a time, never more and never fewer, as the scripted model's request log and the
//! forks' own records (`started_at`, `duration_ms`) show. No speed is asserted: overlap is what
//! `-j` is about.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::*;
use ocfork_scripted::LoggedRequest;

/// Per session: (first agent-turn request start, last agent-turn request end), in model ms.
fn spans(reqs: &[LoggedRequest]) -> Vec<(u64, u64)> {
    let mut by_session: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in reqs.iter().filter(|r| r.agent_turn) {
        let key = r.session.clone().expect("OpenCode sends x-session-id");
        let e = by_session.entry(key).or_insert((r.started_ms, r.ended_ms));
        e.0 = e.0.min(r.started_ms);
        e.1 = e.1.max(r.ended_ms);
    }
    by_session.into_values().collect()
}

/// Most sessions whose agent turns overlap at one moment.
fn max_overlap(spans: &[(u64, u64)]) -> usize {
    spans
        .iter()
        .map(|(s, _)| spans.iter().filter(|(a, b)| a <= s && s < b).count())
        .max()
        .unwrap_or(0)
}

/// Per fork, its turn as the run recorded it: (`started_at`, `started_at` + `duration_ms`) in ms.
fn recorded_spans(run: &serde_json::Value) -> Vec<(u64, u64)> {
    let format = time::format_description::well_known::Rfc3339;
    run["forks"]
        .as_array()
        .expect("forks")
        .iter()
        .map(|f| {
            let at = f["started_at"].as_str().unwrap_or_else(|| panic!("{f:#}"));
            let at = time::OffsetDateTime::parse(at, &format).expect("RFC 3339");
            let start = (at.unix_timestamp_nanos() / 1_000_000) as u64;
            (
                start,
                start + f["duration_ms"].as_u64().expect("duration_ms"),
            )
        })
        .collect()
}

#[test]
fn jobs_bound_the_sessions_talking_to_the_model() {
    // Each agent writes its file, then its turn is held until the test lets it go: the
    // test lets two go once two are held, so with -j 2 the turns can only overlap two at a
    // time, and two always do.
    let rules = ["A", "B", "C", "D"]
        .iter()
        .map(|l| writes_then(&format!("Approach {l}"), (&format!("{l}.txt"), l), held()))
        .collect();
    let w = suite_world(rules);
    let root = w.path("app.ocfork/two");
    let (out, most_held) = std::thread::scope(|scope| {
        let run = scope.spawn(|| {
            w.try_run(
                0,
                &[
                    "-n",
                    "two",
                    "-j",
                    "2",
                    "-t",
                    "Add a module",
                    "a=Approach A",
                    "b=Approach B",
                    "c=Approach C",
                    "d=Approach D",
                ],
            )
        });
        // Lets the held turns go two at a time, noting the most seen held at once.
        let (mut released, mut most) = (0, 0);
        while released < 4 {
            let pair = wait_until(Duration::from_secs(120), || {
                let held: Vec<_> = folders_in(&root)
                    .into_iter()
                    .filter(|wt| wt.join(".started").exists() && !wt.join(".go").exists())
                    .collect();
                most = most.max(held.len());
                (held.len() >= 2).then_some(held)
            });
            let pair = pair.unwrap_or_else(|| panic!("two turns held after {released} released"));
            release(&pair);
            released += pair.len();
        }
        (run.join().expect("ocfork thread"), most)
    });
    let run = json(&out);
    let forks = forks_of(&run, 4);
    assert!(forks.iter().all(|f| f["state"] == "done"), "{run}");
    assert_eq!(most_held, 2, "-j 2 let more turns than two be held at once");
    let spans = spans(&w.model.requests());
    assert_eq!(spans.len(), 4, "four sessions reached the model: {spans:?}");
    assert_eq!(
        max_overlap(&spans),
        2,
        "-j 2: two sessions at a time talked to the model, never more: {spans:?}"
    );
    // The run's own record says the same: two forks' turns were under way at one moment
    // (a fork's record goes on past its turn, while its work is committed).
    let recorded = recorded_spans(&run);
    assert!(
        max_overlap(&recorded) >= 2,
        "-j 2 recorded the forks one after another: {recorded:?}"
    );
}
