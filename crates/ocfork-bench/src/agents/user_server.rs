//! Scenario 7: a user's own long-running `opencode serve` across several `ocfork try --server`
//! runs, its RSS read after each, so what ocfork leaves behind in it (an OpenCode instance per
//! fork directory it does not dispose of) shows as growth.

use super::baselines::PlainServer;
use super::scenarios::AgentResults;
use super::*;

/// `runs` x `ocfork try --server URL` with `n` forks against one server the bench started as a
/// user would; the server's RSS (its whole process tree) after each run.
pub fn user_server(
    w: &World,
    rt: &tokio::runtime::Runtime,
    repo: &Path,
    n: usize,
    runs: usize,
) -> anyhow::Result<AgentResults> {
    let server = rt.block_on(PlainServer::spawn(w, repo))?;
    let result = measure_runs(w, repo, &server, n, runs);
    rt.block_on(server.stop());
    let after = result?;
    let mut sec = Section::new(
        "7. A user's server",
        &format!(
            "One `opencode serve` started as a user would, then {runs} x `ocfork try --server \
             URL` with {n} forks each, one after the other; the server's RSS (with its \
             children) after each run, once ocfork exited."
        ),
    );
    for (i, rss) in after.iter().enumerate() {
        sec.row(
            &format!("RSS after run {}", i + 1),
            crate::measure::Unit::Bytes.show(*rss),
        );
    }
    let growth = match (after.first(), after.last()) {
        (Some(first), Some(last)) if after.len() > 1 => Stat {
            values: vec![(last - first) / (after.len() - 1) as f64],
        },
        _ => Stat::default(),
    };
    if !growth.is_empty() {
        sec.bytes("growth per run after the first", &growth);
    }
    if let (Some(second), Some(last)) = (after.get(1), after.last())
        && after.len() > 2
    {
        let later = (last - second) / (after.len() - 2) as f64;
        sec.row(
            "growth per run from the second on",
            crate::measure::Unit::Bytes.show(later),
        );
    }
    let goal = Goal::below_or_at(
        "7",
        "a user's server grows per run after the first",
        &growth,
        30e6,
        crate::measure::Unit::Bytes,
        "<=",
    );
    Ok(AgentResults {
        sections: vec![sec],
        goals: vec![goal],
    })
}

fn measure_runs(
    w: &World,
    repo: &Path,
    server: &PlainServer,
    n: usize,
    runs: usize,
) -> anyhow::Result<Vec<f64>> {
    let pid = server.child.id().context("the user's server has exited")?;
    let variant = Variant {
        label: "--server".into(),
        env: vec![("OPENCODE_SERVER_PASSWORD".into(), server.password.clone())],
        args: vec!["--server".into(), server.url.clone()],
        ..Variant::default()
    };
    let mut after = Vec::new();
    for run in 1..=runs {
        ocfork_try(w, repo, n, &variant)?;
        let rss = crate::measure::tree_rss(pid) as f64;
        eprintln!("  user's server, run {run}: RSS {:.0} MB", rss / 1e6);
        after.push(rss);
    }
    Ok(after)
}
