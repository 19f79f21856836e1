//! `ocfork try`: record a run of forks, one per approach (x model), and drive it to the end,
//! or hand it to a background driver with `--detach`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

#[path = "try_hosts.rs"]
pub(super) mod place_hosts;
#[path = "try_plan.rs"]
mod plan;

use super::{CmdResult, CommandError, EXIT_INTERRUPTED};
use crate::dispatch::preflight::Connected;
use crate::dispatch::{DriveOptions, drive_with};
use crate::opencode::MainThread;
use crate::opencode::offer::OfferError;
use crate::state::{Run, RunState, StateError, Store};
use crate::ui::LiveView;

/// `--agent` when neither the flag nor a config file names one.
const DEFAULT_AGENT: &str = "build";
/// `--timeout` when neither the flag nor a config file sets one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// `try --help`'s naming rule (the one `names::parse_approach` follows) and an example.
const AFTER_HELP: &str =
    "Names: an APPROACH is \"NAME=TEXT\" when NAME is a fork name: 1-40 of a-z, \
0-9 and -, starting with a letter or digit. Anything else is all prompt text, and the fork is \
named after it (\"Über Café\" → uber-cafe, cut at a word end); ocfork says so when the text had \
an `=`. A run is named with -n RUN, else after its forks (redux-vs-context, redux-and-3-more).

Example:
  ocfork try -t \"Add a todo store in src/\" \"redux=Use Redux\" \"context=Use the Context API\"";

/// Fork one task into several approaches, each an OpenCode session in its own worktree.
#[derive(Args, Debug)]
#[command(
    after_help = AFTER_HELP
)]
pub struct TryArgs {
    /// Approaches: "prompt text" or "name=prompt text" (see Names below)
    #[arg(required = true, value_name = "APPROACH")]
    approaches: Vec<String>,
    /// Shared task; each fork's prompt is the task plus its approach
    #[arg(short = 't', long = "task", value_name = "TEXT")]
    task: Option<String>,
    /// Read the shared task from a file
    #[arg(long, value_name = "PATH", conflicts_with = "task")]
    task_file: Option<PathBuf>,
    /// OpenCode agent for every fork [default: build]
    #[arg(short, long, value_name = "NAME")]
    agent: Option<String>,
    /// Model as provider/model; repeat to try every approach with every model
    #[arg(short, long = "model", value_name = "PROV/MODEL")]
    models: Vec<String>,
    /// Commit the forks start from
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    base: String,
    /// Copy the main tree's uncommitted and untracked changes into every fork
    #[arg(long)]
    include_dirty: bool,
    /// Name of the run
    #[arg(short = 'n', long = "name", value_name = "RUN")]
    name: Option<String>,
    /// Forks prompting at once, here and on each host without its own `jobs` (default: all)
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    jobs: Option<usize>,
    /// Command run in each worktree before prompting (e.g. "npm ci")
    #[arg(long, value_name = "CMD")]
    setup: Option<String>,
    /// Command run in each worktree after its agent finished (e.g. "cargo test")
    #[arg(long, value_name = "CMD")]
    check: Option<String>,
    /// Time limit per fork (e.g. 30m, 90s) [default: 30m]
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Copy ignored files matching GLOB (gitignore syntax) from the main tree into each fork,
    /// as `.worktreeinclude` does; repeatable
    #[arg(long = "copy", value_name = "GLOB")]
    copy: Vec<String>,
    /// Use a running `opencode serve` (password from OPENCODE_SERVER_PASSWORD); repeat to
    /// spread the forks over several
    #[arg(long = "server", value_name = "URL", conflicts_with = "servers")]
    server: Vec<String>,
    /// Spread the forks over K local OpenCode servers (config key `servers`) [default: 1 below
    /// 16 forks, else 2 or one per 16 forks up to the CPUs, at most 40 forks a server]
    #[arg(long, value_name = "K")]
    servers: Option<usize>,
    /// The opencode binary (else $OCFORK_OPENCODE, else `opencode` on PATH)
    #[arg(long, value_name = "PATH")]
    opencode: Option<PathBuf>,
    /// Loopback ports reserved for each fork; its setup and check get the first as
    /// $OCFORK_PORT [default: 10]
    #[arg(long, value_name = "N")]
    ports: Option<u16>,
    /// Return once every fork is dispatched; `ocfork wait` picks it up
    #[arg(long)]
    detach: bool,
    /// Run forks on HOST (a `[[host]]` name, or anything ssh accepts; `local` is this
    /// machine); repeat to spread the forks over several
    #[arg(long = "host", value_name = "HOST")]
    hosts: Vec<String>,
    /// Print the run as JSON on stdout when it ends
    #[arg(long)]
    json: bool,
    /// Judge the forks (`ocfork judge`) once every fork has finished (config key `judge`)
    #[arg(long)]
    judge: bool,
    /// Judge, then write one more fork from the best (`ocfork synth`), then judge again, once
    /// every fork has finished (config key `synth`)
    #[arg(long)]
    synth: bool,
    /// Watch the run in `ocfork ui` while it works (it goes on in the background after q)
    #[arg(long, conflicts_with_all = ["detach", "json"])]
    ui: bool,
}

impl TryArgs {
    /// Whether the run is judged, and whether synthesized (which judges too), once its forks
    /// end: the flags, else the config's `judge` and `synth`.
    fn judge_and_synth(&self, config: &crate::config::Layer) -> (bool, bool) {
        let synth = self.synth || config.synth.as_ref().is_some_and(|s| s.value);
        let judge = self.judge || synth || config.judge.as_ref().is_some_and(|j| j.value);
        (judge, synth)
    }
}

pub async fn cmd_try(args: TryArgs, main: MainThread) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    if args.ui {
        super::ui::require_terminal()?;
    }
    let mut run = plan::plan(&args, &repo, &store)?;
    let hosts = place_hosts::assign(&args, &repo, &mut run)?;
    carried_notes(&args, &repo);
    if args.detach || args.ui {
        // The background driver makes the checks here and on the hosts, on the server it then
        // drives the run with and the connections it holds, and records the run; until then
        // its failure is this command's.
        let code = detach(&repo, &store, run.clone(), args.json && !args.ui).await?;
        if code != 0 || !args.ui {
            return Ok(code);
        }
        return super::ui::open(repo, store, run).await;
    }
    let user_server = !args.server.is_empty();
    let (connected, started) =
        place_hosts::check_here_and_there(&hosts, &repo, &mut run, user_server, main).await?;
    let forks = place_hosts::unfinished(&run);
    let recorded = started.and_then(|s| record(&store, &run).map(|()| s.links));
    let Some((hosts, connected)) = place_hosts::ready_to_drive(recorded, &forks, connected).await?
    else {
        // Every fork's host went: nothing to drive.
        finish(&run, args.json)?;
        return Ok(super::run_exit_code(&run));
    };
    let config = crate::config::Config::load(Some(&repo.workdir))?.layer;
    let (judge, synth) = args.judge_and_synth(&config);
    let options = DriveOptions { forks, hosts };
    // With --judge the run's first server stays up for the judge instead of a new one.
    let (driven, kept) =
        drive_with::<LiveView>(&repo, &store, run, options, connected, judge, main).await?;
    let mut code = super::run_exit_code(&driven.run);
    let mut run = match judge && !driven.interrupted {
        true => super::judge::after_try(&repo, &store, driven.run, kept, &mut code, main).await,
        false => {
            if let Some((_, server)) = kept {
                server.stop().await;
            }
            driven.run
        }
    };
    if synth && !driven.interrupted {
        run = super::synth::after_try(&repo, &store, run, &mut code, main).await;
    }
    super::output::after_work(finish(&run, args.json))?;
    // Where the synthesized fork landed among its sources.
    if let (true, false, Some(v)) = (synth, args.json, &run.judge) {
        super::output::after_work(super::output::print(crate::ui::verdict::table(v)))?;
    }
    if let Some(line) = failed_checks(&run) {
        eprintln!("ocfork: {line}");
    }
    if driven.interrupted {
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(code)
}

/// Says which of OpenCode's config git does not hold goes to every fork, here or on a host.
fn carried_notes(args: &TryArgs, repo: &crate::git::Repo) {
    let notes = crate::dispatch::preflight::config_carried(repo, args.include_dirty, &args.copy);
    for note in notes {
        eprintln!("ocfork: {note}");
    }
}

/// "the check `CMD` failed in 1 of 2 forks: b (exit 3)", when any check failed.
fn failed_checks(run: &Run) -> Option<String> {
    let failed: Vec<String> = run
        .forks
        .iter()
        .filter_map(|f| {
            let c = f.check.as_ref().filter(|c| c.exit_code != Some(0))?;
            Some(match c.exit_code {
                Some(code) => format!("{} (exit {code})", f.name),
                None => format!("{} (did not finish)", f.name),
            })
        })
        .collect();
    let command = run
        .forks
        .iter()
        .find_map(|f| f.check.as_ref())?
        .command
        .clone();
    (!failed.is_empty()).then(|| {
        format!(
            "the check `{command}` failed in {} of {} fork{}: {}",
            failed.len(),
            run.forks.len(),
            if run.forks.len() == 1 { "" } else { "s" },
            failed.join(", ")
        )
    })
}

/// Records the new run; a name taken meanwhile says how to pick another.
pub(super) fn record(store: &Store, run: &Run) -> Result<(), CommandError> {
    store.create(run).map_err(|e| match e {
        StateError::Taken(_) => CommandError::from(e)
            .with_hint("pick another name with -n, or look at it with `ocfork status`"),
        // A full disk or a read-only `.git`: the error names the path and the OS's reason.
        e => CommandError::from(e),
    })
}

/// Asks the server, before anything is recorded or made, which agent and model every fork
/// here will use (refusing names it does not know). A typo in `--server` (`user_server`) or
/// its password leaves nothing behind either. None when every fork works on a host: no
/// OpenCode starts here.
pub(super) async fn preflight(
    repo: &crate::git::Repo,
    run: &mut Run,
    user_server: bool,
    main: MainThread,
) -> Result<Option<Connected>, CommandError> {
    use crate::dispatch::preflight::{PreflightError, check};
    check(repo, run, main).await.map_err(|e| match e {
        PreflightError::Offer(e) => {
            let hint = match &e {
                OfferError::UnknownAgent { .. } => {
                    "pass one of them with -a, or set `agent` in ocfork's config"
                }
                OfferError::NoModel => {
                    "configure a provider in opencode.json, or pass -m provider/model"
                }
                _ => "pass -m provider/model with a model OpenCode offers here",
            };
            CommandError::usage(e.to_string()).with_hint(hint)
        }
        PreflightError::Api(e) if user_server => CommandError::usage(e.to_string())
            .with_hint("check --server and OPENCODE_SERVER_PASSWORD"),
        PreflightError::Api(e) => CommandError::failure(e.to_string()),
        PreflightError::Start(e) => CommandError::from(e),
    })
}

/// Prints the run's result: JSON, or the status table.
pub fn finish(run: &Run, json: bool) -> Result<(), CommandError> {
    if json {
        super::print_json(run)
    } else {
        super::output::print(crate::ui::status_table(run))
    }
}

/// Starts a background driver that checks the agent and model, records the run and drives it
/// (`ocfork __drive --plan`, the planned run on its stdin); returns once it dispatched every
/// fork. A check that fails there is this command's failure: the driver, on this command's
/// stderr until it is ready, says why, and its exit code is returned.
async fn detach(repo: &crate::git::Repo, store: &Store, run: Run, json: bool) -> CmdResult {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let exe = std::env::current_exe()?;
    let log_path = store.paths().driver_log(&run.run);
    let plan = serde_json::to_vec(&run)
        .map_err(|e| CommandError::failure(format!("cannot write the planned run: {e}")))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["__drive", "--plan"])
        .current_dir(&repo.workdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
    let ready = tokio::task::spawn_blocking(move || {
        use std::io::{BufRead, Write};
        let (Some(mut stdin), Some(stdout)) = (stdin, stdout) else {
            return false;
        };
        if stdin.write_all(&plan).is_err() {
            return false;
        }
        drop(stdin);
        let mut line = String::new();
        let read = std::io::BufReader::new(stdout).read_line(&mut line);
        read.is_ok() && line.trim_end() == super::detached::READY
    })
    .await
    .unwrap_or(false);
    if !ready {
        let status = child.wait()?;
        return match status.code() {
            Some(code) if code != 0 => Ok(code),
            _ => Err(CommandError::failure(format!(
                "the background driver ended before the run was recorded ({status})"
            ))),
        };
    }
    loop {
        let current = store.load(&run.run)?;
        if current.dispatched || current.state != RunState::Running {
            eprintln!(
                "ocfork: run {} dispatched in the background (pid {pid}); `ocfork wait {}` picks it up",
                run.run, run.run
            );
            super::output::after_work(finish(&current, json))?;
            return Ok(0);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let current = store.load_checked(&run.run)?;
            super::output::after_work(finish(&current, json))?;
            return Err(CommandError::failure(format!(
                "the background driver exited early ({status}); see {}",
                log_path.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
