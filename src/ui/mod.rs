//! Terminal output: the status table, and the live per-fork progress on stderr.

mod diff;
pub mod verdict;

pub use diff::{diff_overlaps, diff_stat, diff_table};

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dispatch::{RunHandle, RunView};
use crate::state::{Fork, ForkState, Run};
use crate::text;

/// Characters of the task's first line the `status` table shows.
const TASK_SHOWN: usize = 100;

/// The `status` table: a header line for the run, then one line per fork.
pub fn status_table(run: &Run) -> String {
    let mut out = format!(
        "run {}  base {}  {}  ({} fork{})\n",
        run.run,
        crate::git::short_id(&run.base),
        run.shown_state(),
        run.forks.len(),
        if run.forks.len() == 1 { "" } else { "s" }
    );
    if let Some(task) = &run.task {
        // Its first line, cut: a task can be a megabyte (`status --json` has all of it).
        out.push_str(&format!("task: {}\n", text::first_line(task, TASK_SHOWN)));
    }
    let now = time::OffsetDateTime::now_utc();
    // Where each fork works, once some work on other machines (`try --host`).
    let hosts = run.forks.iter().any(|f| f.host.is_some());
    let header = [
        "FORK", "HOST", "STATE", "TIME", "FILES", "+/-", "CHECK", "ERROR",
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    rows.extend(run.forks.iter().map(|f| {
        [
            f.name.clone(),
            f.host.clone().unwrap_or_else(|| "local".into()),
            if f.merged {
                format!("{} (merged)", f.state.as_str())
            } else {
                f.state.as_str().to_string()
            },
            text::duration(Duration::from_millis(f.elapsed_ms(now))),
            f.files_changed.to_string(),
            format!("+{} -{}", f.insertions, f.deletions),
            crate::state::check_cell(f.check.as_ref()),
            f.error
                .as_deref()
                .or(f.activity.as_deref())
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        ]
        .to_vec()
    }));
    if !hosts {
        for row in &mut rows {
            row.remove(1);
        }
    }
    out.push_str(&text::columns(&rows, ""));
    out.push_str(&run_notes(run));
    out
}

/// What the status adds below its table: forks whose agent moved off the fork's branch, and
/// what changed in shared git state while the run ran.
fn run_notes(run: &Run) -> String {
    let mut out = String::new();
    for f in &run.forks {
        if let Some(m) = &f.moved {
            out.push_str(&format!(
                "note: the agent of {} moved its worktree to {m}; its work is on {}\n",
                f.name, f.branch
            ));
        }
    }
    for w in &run.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// One progress line per fork while a run is driven: redrawn in place on a terminal, plain
/// log lines on state changes otherwise.
pub struct LiveView {
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl RunView for LiveView {
    fn start(handle: Arc<RunHandle>) -> LiveView {
        let stop = tokio_util::sync::CancellationToken::new();
        let token = stop.clone();
        let tty = std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut shown: HashMap<String, ForkState> = HashMap::new();
            let multi = indicatif::MultiProgress::new();
            let mut bars: HashMap<String, indicatif::ProgressBar> = HashMap::new();
            let mut last_round = false;
            loop {
                let run = handle.snapshot();
                for f in &run.forks {
                    if tty {
                        // Progress shows up only once the run takes longer than a moment.
                        if started.elapsed() < Duration::from_millis(250) {
                            continue;
                        }
                        let bar = bars.entry(f.name.clone()).or_insert_with(|| {
                            let b = multi.add(indicatif::ProgressBar::new_spinner());
                            b.enable_steady_tick(Duration::from_millis(120));
                            b
                        });
                        bar.set_message(live_line(f, started.elapsed()));
                        if f.state.is_finished() && !bar.is_finished() {
                            bar.finish_with_message(live_line(f, started.elapsed()));
                        }
                    } else if shown.get(&f.name) != Some(&f.state) {
                        shown.insert(f.name.clone(), f.state);
                        let extra = f
                            .error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default();
                        let line = format!("ocfork: {} {}{extra}", f.name, f.state.as_str());
                        eprintln!("{}", text::escape_controls(&line));
                    }
                }
                if last_round {
                    break;
                }
                // One more round after the stop so the final states are shown too.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {},
                    _ = token.cancelled() => last_round = true,
                }
            }
            if tty {
                let run = handle.snapshot();
                for f in &run.forks {
                    if let Some(b) = bars.get(&f.name) {
                        b.finish_with_message(live_line(f, started.elapsed()));
                    }
                }
            }
        });
        LiveView { stop, task }
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

fn live_line(f: &Fork, elapsed: Duration) -> String {
    let time = if f.state.is_finished() {
        text::duration(Duration::from_millis(f.duration_ms))
    } else {
        text::duration(elapsed)
    };
    let note = f
        .error
        .as_deref()
        .or(f.activity.as_deref())
        .map(|e| {
            format!(
                "  {}",
                text::escape_controls(e.lines().next().unwrap_or(""))
            )
        })
        .unwrap_or_default();
    format!(
        "{:<20} {:<10} {:>8}  {} tool call{}{note}",
        f.name,
        f.state.as_str(),
        time,
        f.tool_calls,
        if f.tool_calls == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use crate::state::{Fork, Run};

    fn run(hosts: &[Option<&str>]) -> Run {
        let base = "b".repeat(40);
        Run {
            forks: (hosts.iter().enumerate())
                .map(|(i, host)| {
                    let name = format!("f{i}");
                    let root = std::path::Path::new("/wt").join(&name);
                    let mut f = Fork::pending("r", name, &root, "Go".into(), "build".into());
                    f.host = host.map(String::from);
                    f
                })
                .collect(),
            ..Run::new("r".into(), "/repo".into(), base.clone(), base)
        }
    }

    /// The status table's header line.
    fn header(run: &Run) -> Vec<String> {
        let table = super::status_table(run);
        let line = table.lines().find(|l| l.starts_with("FORK")).unwrap_or("");
        line.split_whitespace().map(String::from).collect()
    }

    /// A HOST column only once a fork works on another machine; `local` for those here.
    #[test]
    fn the_status_table_has_a_host_column_only_for_runs_on_hosts() {
        let here = run(&[None, None]);
        assert_eq!(header(&here)[..2], ["FORK", "STATE"]);
        assert!(!super::status_table(&here).contains("local"));
        let table = super::status_table(&run(&[None, Some("devbox")]));
        assert_eq!(
            header(&run(&[None, Some("devbox")]))[..3],
            ["FORK", "HOST", "STATE"]
        );
        let hosts: Vec<&str> = (table.lines())
            .filter(|l| l.starts_with('f'))
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        assert_eq!(hosts, ["local", "devbox"], "{table}");
    }
}
