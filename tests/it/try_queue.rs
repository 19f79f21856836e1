//! The fork queue (`dispatch`) bounds concurrency: with `-j 1` one session talks to the model at a time,
//! with `-j 4` all four do, as the scripted model's request log and the forks' own records
//! (`started_at`, `duration_ms`) show. No speed is asserted: overlap is what `-j` is about.

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

/// From the first agent-turn request to the end of the last one.
fn model_time(spans: &[(u64, u64)]) -> u64 {
    let start = spans.iter().map(|s| s.0).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.1).max().unwrap_or(0);
    end - start
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

fn four_forks(w: &World, jobs: &str, name: &str) -> serde_json::Value {
    let run = w.try_json(
        0,
        &[
            "-n",
            name,
            "-j",
            jobs,
            "-t",
            "Add a module",
            "a=Approach A",
            "b=Approach B",
            "c=Approach C",
            "d=Approach D",
        ],
    );
    let forks = forks_of(&run, 4);
    assert!(forks.iter().all(|f| f["state"] == "done"), "{run}");
    run
}

#[test]
fn jobs_bound_the_sessions_talking_to_the_model() {
    let rules = ["A", "B", "C", "D"]
        .iter()
        .map(|l| writes(&format!("Approach {l}"), &[(&format!("{l}.txt"), l)]))
        .collect();
    let delay = Duration::from_millis(700);
    let w = World::with_delay(script(rules), delay).on_suite_server();

    let par_run = four_forks(&w, "4", "parallel");
    let reqs = w.model.requests();
    let par = spans(&reqs);
    assert_eq!(par.len(), 4, "four sessions reached the model: {par:?}");

    four_forks(&w, "1", "serial");
    let ser = spans(&w.model.requests()[reqs.len()..]);
    assert_eq!(ser.len(), 4, "four sessions reached the model: {ser:?}");

    assert_eq!(max_overlap(&ser), 1, "-j 1 let sessions overlap: {ser:?}");
    // Each session makes two agent calls of at least `delay`: four in a row take 8 x delay.
    let ser_time = model_time(&ser);
    assert!(
        ser_time >= 8 * delay.as_millis() as u64,
        "serial model time {ser_time} ms"
    );
    assert!(max_overlap(&par) >= 3, "-j 4 kept sessions apart: {par:?}");
    // The run's own record says the same: with -j 4, at least three forks' turns (each at
    // least two model calls of `delay`) were under way at one moment.
    let recorded = recorded_spans(&par_run);
    assert!(
        recorded
            .iter()
            .all(|(s, e)| e - s >= 2 * delay.as_millis() as u64),
        "{recorded:?}"
    );
    assert!(
        max_overlap(&recorded) >= 3,
        "-j 4 recorded the forks one after another: {recorded:?}"
    );
}
