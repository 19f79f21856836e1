//! Scenario 8, a synthesis at N = 4: `ocfork try` with four forks of the small repository,
//! `ocfork judge`, then `ocfork synth` (one more fork from the four, judged again with them),
//! timing each step and comparing the synthesized fork's tokens with the forks' own.

use super::*;
use crate::world::{SYNTH_FORK, SYNTH_SOURCES};

/// Runs `cmd` (an `ocfork` command) and measures it; its stdout, or an error pointing at the
/// log its stderr went to.
fn timed(mut cmd: Command, log: &Path) -> anyhow::Result<Measured<Vec<u8>>> {
    let err = std::fs::File::create(log)?;
    cmd.stdout(Stdio::piped()).stderr(err);
    let m = measure(|| cmd.output());
    let out = m.value.context("cannot run ocfork")?;
    if !out.status.success() {
        bail!("ocfork failed ({}); see {}", out.status, log.display());
    }
    Ok(Measured {
        value: out.stdout,
        secs: m.secs,
        peak_rss: m.peak_rss,
        peak_maps: m.peak_maps,
        cpu: m.cpu,
    })
}

/// Input and output tokens of one fork in `status --json`.
fn tokens(run: &Value, fork: &str) -> anyhow::Result<(f64, f64)> {
    let f = run["forks"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["name"] == fork))
        .with_context(|| format!("no fork {fork} in the run"))?;
    if f["state"] != "done" || f["files_changed"] != WRITTEN.len() {
        bail!(
            "fork {fork} did not finish as scripted: {} ({})",
            f["state"],
            f["error"]
        );
    }
    let t = &f["tokens"];
    match (t["input"].as_f64(), t["output"].as_f64()) {
        (Some(i), Some(o)) => Ok((i, o)),
        _ => bail!("fork {fork} has no tokens: {t}"),
    }
}

/// One repetition's numbers.
struct Rep {
    try_secs: f64,
    judge_secs: f64,
    synth_secs: f64,
    forks_in: f64,
    forks_out: f64,
    synth_in: f64,
    synth_out: f64,
}

fn once(w: &World, repo: &Path) -> anyhow::Result<Rep> {
    let name = w.fresh("synth");
    let mut cmd = w.ocfork_cmd(repo);
    cmd.args(["try", "--json", "-n", &name, "-t", TASK])
        .env("OPENCODE_CONFIG_CONTENT", w.opencode_config());
    for (i, f) in SYNTH_SOURCES.iter().enumerate() {
        cmd.arg(format!("{f}={}", approach(i + 1)));
    }
    let tried = timed(cmd, &w.log_path(&format!("{name}-try")))?;
    let mut cmd = w.ocfork_cmd(repo);
    cmd.args(["judge", &name])
        .env("OPENCODE_CONFIG_CONTENT", w.opencode_config());
    let judged = timed(cmd, &w.log_path(&format!("{name}-judge")))?;
    let mut cmd = w.ocfork_cmd(repo);
    cmd.args(["synth", &name, "--from", &SYNTH_SOURCES.join(",")])
        .env("OPENCODE_CONFIG_CONTENT", w.opencode_config());
    let synthed = timed(cmd, &w.log_path(&format!("{name}-synth")))?;

    let mut cmd = w.ocfork_cmd(repo);
    cmd.args(["status", "--json", &name]);
    let out = cmd.output().context("cannot run ocfork status")?;
    let run: Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("ocfork status {name} printed no JSON"))?;
    let (mut forks_in, mut forks_out) = (0.0, 0.0);
    for f in SYNTH_SOURCES {
        let (i, o) = tokens(&run, f)?;
        forks_in += i;
        forks_out += o;
    }
    let n = SYNTH_SOURCES.len() as f64;
    let (synth_in, synth_out) = tokens(&run, SYNTH_FORK)?;
    let first = run["judge"]["ranking"][0]["fork"].clone();
    if first != SYNTH_FORK {
        bail!("run {name} was not judged again with {SYNTH_FORK} first (first: {first})");
    }
    Ok(Rep {
        try_secs: tried.secs,
        judge_secs: judged.secs,
        synth_secs: synthed.secs,
        forks_in: forks_in / n,
        forks_out: forks_out / n,
        synth_in,
        synth_out,
    })
}

/// Scenario 8: `reps` times try, judge and synth on `repo`.
pub fn synthesis(w: &World, repo: &Path, reps: usize) -> anyhow::Result<Section> {
    let n = SYNTH_SOURCES.len();
    let [mut tried, mut judged, mut synthed] = [const { Stat { values: Vec::new() } }; 3];
    let [mut f_in, mut f_out, mut s_in, mut s_out] = [const { Stat { values: Vec::new() } }; 4];
    for rep in 1..=reps {
        w.remove_worktrees(repo)?;
        let r = once(w, repo)?;
        eprintln!(
            "  synth rep {rep}: try {:.1} s, judge {:.1} s, synth {:.1} s; tokens in/out: \
             synth {:.0}/{:.0}, forks' mean {:.0}/{:.0}",
            r.try_secs,
            r.judge_secs,
            r.synth_secs,
            r.synth_in,
            r.synth_out,
            r.forks_in,
            r.forks_out
        );
        for (stat, value) in [
            (&mut tried, r.try_secs),
            (&mut judged, r.judge_secs),
            (&mut synthed, r.synth_secs),
            (&mut f_in, r.forks_in),
            (&mut f_out, r.forks_out),
            (&mut s_in, r.synth_in),
            (&mut s_out, r.synth_out),
        ] {
            stat.push(value);
        }
    }
    let mut sec = Section::new(
        "8. Synthesis",
        &format!(
            "`ocfork try` with {n} forks of the small repository (each session 3 model calls: \
             write, write, reply), `ocfork judge` (one judge, one call), then `ocfork synth \
             --from` all {n}: one more fork whose prompt holds the {n} patches, the same 3 calls, \
             and the run judged again with it (the scripted judge ranks it first, as checked). \
             Tokens are the scripted model's counts (about 4 characters a token) from `status \
             --json` `forks[].tokens`; the forks' side is their mean."
        ),
    );
    sec.secs(&format!("try, {n} forks, wall"), &tried);
    sec.secs("judge, wall", &judged);
    sec.secs("synth (its fork and the second judging), wall", &synthed);
    sec.ratio("synth / try, wall", &synthed.ratio(&tried));
    sec.row("forks' mean, input tokens", count(&f_in));
    sec.row("synthesized fork, input tokens", count(&s_in));
    sec.ratio(
        "synthesized / forks' mean, input tokens",
        &s_in.ratio(&f_in),
    );
    sec.row("forks' mean, output tokens", count(&f_out));
    sec.row("synthesized fork, output tokens", count(&s_out));
    sec.ratio(
        "synthesized / forks' mean, output tokens",
        &s_out.ratio(&f_out),
    );
    Ok(sec)
}

/// A token count: median, and the range when repetitions differ.
fn count(s: &Stat) -> String {
    if s.min() == s.max() {
        return format!("{:.0}", s.median());
    }
    format!("{:.0} ({:.0}–{:.0})", s.median(), s.min(), s.max())
}
