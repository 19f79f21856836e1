//! `ocfork-bench`: measures ocfork against what users would do without it (a shell loop of
//! `git worktree add`, one `opencode run` per approach, or the best hand-written script over
//! one `opencode serve`), on inputs it builds itself, and writes the table to BENCHMARKS.md.
//!
//! Every comparison is a ratio of two measurements taken in the same repetition of the same
//! run. `--quick` shrinks everything so CI can run it on every change.

mod agents;
mod diff;
mod hosts;
mod latency;
mod measure;
mod report;
mod setup;
mod world;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};

use agents::Variant;
use report::{Machine, Report};
use world::World;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Every scenario
    All,
    /// 1: fork setup
    Setup,
    /// 2, 3: against the best script and against N x `opencode run`, plus OpenCode switches
    Agents,
    /// 4: scale with N
    Scale,
    /// 5: `ocfork diff`
    Diff,
    /// 6: `status` / `list` latency
    Latency,
    /// 7: a user's own server across `ocfork try --server` runs
    UserServer,
    /// 8: `try` with 4 forks, `judge`, `synth`: wall time and tokens of the synthesis
    Synth,
    /// 9: N forks through `--host` to a loopback OpenSSH host against N here
    Hosts,
}

/// Benchmark ocfork against git worktree loops, hand-run OpenCode and the best script.
#[derive(Parser, Debug)]
#[command(
    name = "ocfork-bench",
    after_help = "Example:\n  cargo run --release --bin ocfork-bench -- all\n  cargo run --bin ocfork-bench -- all --quick --out /tmp/bench.md"
)]
struct Args {
    /// Scenarios to run
    #[arg(value_enum, required = true)]
    scenarios: Vec<Scenario>,
    /// Small inputs, tiny model delay, one repetition (for CI)
    #[arg(long)]
    quick: bool,
    /// Repetitions of each measurement (default 3, quick 1)
    #[arg(long, value_name = "N")]
    reps: Option<usize>,
    /// Where to write the results
    #[arg(long, value_name = "PATH", default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// The ocfork binary (default: built next to this one)
    #[arg(long, value_name = "PATH")]
    ocfork: Option<PathBuf>,
    /// The opencode binary (default: $OCFORK_OPENCODE, else .tools/opencode)
    #[arg(long, value_name = "PATH")]
    opencode: Option<PathBuf>,
    /// Forks per run in scenarios 1-3 and 5 (default 8, quick 2)
    #[arg(long, value_name = "N")]
    forks: Option<usize>,
    /// The forks counts of scenario 4, comma-separated (default 1,8,16,32,64; quick 1,2)
    #[arg(long, value_name = "N,N,...", value_delimiter = ',')]
    scale: Option<Vec<usize>>,
    /// Repetitions of scenario 4 (default 1)
    #[arg(long, value_name = "N")]
    scale_reps: Option<usize>,
    /// Scripted model delay per call in milliseconds (default 1000, quick 10)
    #[arg(long, value_name = "MS")]
    delay_ms: Option<u64>,
    /// Keep the temp dir with every repository, worktree and log
    #[arg(long)]
    keep: bool,
}

/// Sizes of one bench run.
struct Plan {
    reps: usize,
    delay: Duration,
    big_files: usize,
    small_files: usize,
    forks: usize,
    changed: usize,
    scale: Vec<usize>,
    /// Scenario 1 is cheap and noisy (file creation on ext4): more repetitions.
    setup_reps: usize,
    scale_reps: usize,
    variant_reps: usize,
    latency_runs: usize,
    latency_forks: usize,
    latency_calls: usize,
}

impl Plan {
    fn new(quick: bool, reps: Option<usize>) -> Plan {
        if quick {
            let reps = reps.unwrap_or(1);
            return Plan {
                reps,
                delay: Duration::from_millis(10),
                big_files: 300,
                small_files: 20,
                forks: 2,
                changed: 20,
                scale: vec![1, 2],
                setup_reps: reps,
                scale_reps: reps,
                variant_reps: reps,
                latency_runs: 5,
                latency_forks: 2,
                latency_calls: 3,
            };
        }
        let reps = reps.unwrap_or(3);
        Plan {
            reps,
            delay: Duration::from_secs(1),
            big_files: 20_000,
            small_files: 200,
            forks: 8,
            changed: 200,
            scale: vec![1, 8, 16, 32, 64],
            setup_reps: reps.max(5),
            // N = 8 is also measured `reps` times in scenario 2.
            scale_reps: 1,
            variant_reps: reps.min(2),
            latency_runs: 50,
            latency_forks: 8,
            latency_calls: 20,
        }
    }

    fn describe(&self, quick: bool) -> String {
        format!(
            "Settings: {}; {} repetition(s) (setup, scale and switches: {}, {}, {}); scripted model \
             delay {} ms per call, 3 calls per session (write, write, reply); big repository {} files, small \
             {} files; N = {}.",
            if quick { "`--quick`" } else { "full run" },
            self.reps,
            self.setup_reps,
            self.scale_reps,
            self.variant_reps,
            self.delay.as_millis(),
            self.big_files,
            self.small_files,
            self.forks
        )
    }
}

fn main() {
    let args = Args::parse();
    match run(args) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("ocfork-bench: error: {e:#}");
            std::process::exit(1);
        }
    }
}

/// The workspace root: the product's manifest, its `.tools/opencode`.
fn manifest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ocfork binary: the flag, else freshly built with the same profile as this bench.
fn find_ocfork(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = flag {
        return binary_at(p, "ocfork", "");
    }
    let me = std::env::current_exe().context("cannot find this binary's path")?;
    let sibling = me.with_file_name("ocfork");
    if manifest_dir().join("Cargo.toml").is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "ocfork", "--bin", "ocfork"])
            .current_dir(manifest_dir());
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let status = cmd.status().context("cannot run cargo to build ocfork")?;
        if !status.success() {
            bail!("building ocfork failed ({status})");
        }
    }
    binary_at(sibling, "ocfork", "; build it or pass --ocfork")
}

fn find_opencode(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let local = manifest_dir().join(".tools/opencode/node_modules/.bin/opencode");
    let found = flag
        .or_else(|| {
            std::env::var_os("OCFORK_OPENCODE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or(local);
    binary_at(
        found,
        "opencode",
        "; set OCFORK_OPENCODE or run `bash scripts/install-opencode`",
    )
}

/// `path` when it is a file, else an error saying no `what` binary is there, then `hint`.
fn binary_at(path: PathBuf, what: &str, hint: &str) -> anyhow::Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        bail!("no {what} binary at {}{hint}", path.display())
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let wants =
        |s: Scenario| args.scenarios.contains(&Scenario::All) || args.scenarios.contains(&s);
    let mut plan = Plan::new(args.quick, args.reps);
    if let Some(ns) = &args.scale {
        plan.scale = ns.iter().map(|n| (*n).max(1)).collect();
    }
    if let Some(n) = args.forks {
        plan.forks = n.max(1);
    }
    if let Some(n) = args.scale_reps {
        plan.scale_reps = n.max(1);
    }
    if let Some(ms) = args.delay_ms {
        plan.delay = Duration::from_millis(ms);
    }
    // Absolute, since children run in other directories.
    let ocfork = std::path::absolute(find_ocfork(args.ocfork.clone())?)?;
    let opencode = std::path::absolute(find_opencode(args.opencode.clone())?)?;
    let mut w = World::new(ocfork, opencode.clone(), plan.delay)?;
    if args.keep {
        w.keep();
        eprintln!("ocfork-bench: keeping {}", w.root.display());
    }
    std::fs::create_dir_all(w.root.join("logs"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut report = Report {
        machine: Machine::probe(&w.root, &opencode),
        settings: plan.describe(args.quick),
        sections: Vec::new(),
        goals: Vec::new(),
    };

    eprintln!(
        "ocfork-bench: generating repositories in {}",
        w.root.display()
    );
    let small = w.make_repo("small", plan.small_files)?;
    let big = (wants(Scenario::Setup) || wants(Scenario::Diff))
        .then(|| w.make_repo("big", plan.big_files))
        .transpose()?;

    let mut made = None;
    if let Some(big) = &big {
        // One untimed round, so neither side pays for a cold page cache.
        setup::ocfork_worktrees(&w, big, 1)?;
        if wants(Scenario::Setup) {
            eprintln!("ocfork-bench: 1. fork setup");
            let r = setup::run(&w, big, plan.forks, plan.big_files, plan.setup_reps)?;
            report.sections.push(r.section);
            report.goals.push(r.goal);
            made = r.last_run;
        }
    }
    if !args.quick
        && [
            Scenario::Agents,
            Scenario::Scale,
            Scenario::UserServer,
            Scenario::Synth,
            Scenario::Hosts,
        ]
        .into_iter()
        .any(wants)
    {
        // Warm-up: OpenCode's first start in fresh config dirs does one-time work.
        agents::ocfork_try(&w, &small, 1, &Variant::default())?;
    }
    if wants(Scenario::Agents) {
        eprintln!("ocfork-bench: 2, 3. against the best script and the hand-made way");
        let r = agents::compare(&w, &rt, &small, plan.forks, plan.reps)?;
        report.sections.extend(r.sections);
        report.goals.extend(r.goals);
        // Quick mode only checks that measuring a switch still works. Switches are measured
        // on the big repository, where a fork costs OpenCode most.
        let variants: Vec<Variant> = agents::variants()
            .into_iter()
            .take(if args.quick { 1 } else { usize::MAX })
            .collect();
        let repo = big.as_deref().unwrap_or(&small);
        report.sections.push(agents::switches(
            &w,
            repo,
            plan.forks,
            &variants,
            plan.variant_reps,
        )?);
    }
    if wants(Scenario::Scale) {
        eprintln!("ocfork-bench: 4. scale");
        let r = agents::scale(&w, &rt, &small, &plan.scale, plan.scale_reps)?;
        report.sections.extend(r.sections);
        report.goals.extend(r.goals);
    }
    if let Some(big) = &big
        && wants(Scenario::Diff)
    {
        eprintln!("ocfork-bench: 5. diff");
        let made = match made {
            Some(m) => m,
            None => setup::ocfork_worktrees(&w, big, plan.forks)?,
        };
        diff::prepare(&w, big, &made, plan.big_files, plan.changed)?;
        let (sec, goals) = diff::run(&w, big, &made, plan.changed, plan.reps.max(3))?;
        report.sections.push(sec);
        report.goals.extend(goals);
    }
    if wants(Scenario::Latency) {
        eprintln!("ocfork-bench: 6. CLI latency");
        let (sec, goals) = latency::run(
            &w,
            plan.latency_runs,
            plan.latency_forks,
            plan.latency_calls,
        )?;
        report.sections.push(sec);
        report.goals.extend(goals);
    }

    if wants(Scenario::UserServer) {
        eprintln!("ocfork-bench: 7. a user's server");
        let (forks, runs) = if args.quick { (2, 2) } else { (4, 5) };
        let r = agents::user_server(&w, &rt, &small, forks, runs)?;
        report.sections.extend(r.sections);
        report.goals.extend(r.goals);
    }

    if wants(Scenario::Synth) {
        eprintln!("ocfork-bench: 8. synthesis");
        report
            .sections
            .push(agents::synthesis(&w, &small, plan.reps)?);
    }

    if wants(Scenario::Hosts) {
        eprintln!("ocfork-bench: 9. forks on another machine");
        let (sec, goal) = hosts::run_scenario(&w, &small, plan.forks, plan.reps)?;
        report.sections.push(sec);
        report.goals.push(goal);
    }

    report.machine.load_after = report::load_average();
    report.settings.push_str(&format!(
        " Whole bench: {:.0} s.",
        started.elapsed().as_secs_f64()
    ));
    print!("{}", report.text());
    report.write(&args.out)?;
    eprintln!("ocfork-bench: wrote {}", args.out.display());
    if !args.keep {
        eprintln!("ocfork-bench: removing {}", w.root.display());
    }
    drop(rt);
    Ok(())
}
