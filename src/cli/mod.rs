//! The command layer: argument parsing, one file per command, and the one error type that
//! turns failures into "error: ... / caused by: ... / hint: ..." and an exit code.

mod agents;
mod attach;
mod clean;
mod completions;
mod config;
#[path = "continue.rs"]
mod continue_cmd;
#[cfg(feature = "demo")]
mod demo;
mod detached;
mod diff;
mod error;
mod hosts;
mod judge;
mod list;
mod merge;
mod open;
mod output;
mod plugin;
mod report;
mod resume;
mod run_hosts;
mod session;
mod session_verdict;
mod status;
mod synth;
#[path = "try.rs"]
mod try_cmd;
mod ui;
mod wait;

use clap::{Parser, Subcommand};

use crate::opencode::MainThread;

pub use error::{
    CommandError, EXIT_BROKEN_PIPE, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, ErrorKind,
    git_failed,
};

#[derive(Parser, Debug)]
#[command(
    name = "ocfork",
    version,
    about = "Try several approaches to one task in parallel with OpenCode agents, each in its own git worktree",
    after_help = "Example:\n  ocfork try -t \"Add a todo store\" \"redux=Use Redux\" \"context=Use the Context API\"\n  ocfork status"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Try(Box<try_cmd::TryArgs>),
    Status(status::StatusArgs),
    List(list::ListArgs),
    Wait(wait::WaitArgs),
    Resume(resume::ResumeArgs),
    #[cfg(feature = "demo")]
    Demo(demo::DemoArgs),
    Diff(diff::DiffArgs),
    Judge(judge::JudgeArgs),
    Synth(synth::SynthArgs),
    Merge(merge::MergeArgs),
    Clean(clean::CleanArgs),
    Continue(continue_cmd::ContinueArgs),
    Open(open::OpenArgs),
    Attach(attach::AttachArgs),
    Report(report::ReportArgs),
    Config(config::ConfigArgs),
    Completions(completions::CompletionsArgs),
    Man(completions::ManArgs),
    #[command(name = "__drive", hide = true)]
    Detached(detached::DetachedArgs),
    Session(session::SessionArgs),
    Agents(agents::AgentsArgs),
    Hosts(hosts::HostsArgs),
    Plugin(plugin::PluginArgs),
    Ui(ui::UiArgs),
    #[command(name = "__relay", hide = true)]
    Relay(session::RelayArgs),
}

pub type CmdResult = Result<i32, CommandError>;

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> i32 {
    // A shell asking for completions (`COMPLETE=bash ocfork -- ...`) is answered before anything.
    completions::complete_if_asked();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return EXIT_FAILURE;
        }
    };
    // The one place the proof is made: every OpenCode server ocfork starts is started by
    // code this future polls, on this thread (see `MainThread`).
    let Some(main) = crate::opencode::MainThread::here() else {
        eprintln!("error: ocfork's commands run on the process's main thread only");
        return EXIT_FAILURE;
    };
    let result = runtime.block_on(async {
        let mut command = Box::pin(run(cli, main));
        tokio::select! {
            r = &mut command => Some(r),
            () = crate::signal::aborted() => {
                // Nothing of the command runs again, not even its clean-ups.
                std::mem::forget(command);
                None
            }
        }
    });
    let Some(result) = result else {
        // A second Ctrl-C: out at once, leaving the blocking tasks (git children) behind.
        eprintln!("ocfork: interrupted again; exiting without saving the forks' work");
        runtime.shutdown_background();
        return EXIT_INTERRUPTED;
    };
    // Blocking tasks (git children) must not keep the process alive after the command ended.
    runtime.shutdown_timeout(crate::timeouts::get().shutdown);
    match result {
        Ok(code) => code,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}

/// Runs the command; `main` goes to those that may start an OpenCode server.
async fn run(cli: Cli, main: MainThread) -> CmdResult {
    match cli.command {
        Command::Try(a) => try_cmd::cmd_try(*a, main).await,
        Command::Status(a) => status::cmd_status(a).await,
        Command::List(a) => list::cmd_list(a).await,
        Command::Wait(a) => wait::cmd_wait(a).await,
        Command::Resume(a) => resume::cmd_resume(a, main).await,
        #[cfg(feature = "demo")]
        Command::Demo(a) => demo::cmd_demo(a).await,
        Command::Diff(a) => diff::cmd_diff(a).await,
        Command::Judge(a) => judge::cmd_judge(a, main).await,
        Command::Synth(a) => synth::cmd_synth(a, main).await,
        Command::Merge(a) => merge::cmd_merge(a).await,
        Command::Clean(a) => clean::cmd_clean(a).await,
        Command::Continue(a) => continue_cmd::cmd_continue(a, main).await,
        Command::Open(a) => open::cmd_open(a).await,
        Command::Attach(a) => attach::cmd_attach(a).await,
        Command::Report(a) => report::cmd_report(a).await,
        Command::Config(a) => config::cmd_config(a).await,
        Command::Completions(a) => completions::cmd_completions(a),
        Command::Man(a) => completions::cmd_man(a),
        Command::Detached(a) => detached::cmd_detached(a, main).await,
        Command::Session(a) => session::cmd_session(a, main).await,
        Command::Agents(a) => agents::cmd_agents(a, main).await,
        Command::Hosts(a) => hosts::cmd_hosts(a).await,
        Command::Plugin(a) => plugin::cmd_plugin(a).await,
        Command::Ui(a) => ui::cmd_ui(a).await,
        Command::Relay(a) => session::cmd_relay(a).await,
    }
}

/// The repository around the current directory.
pub fn current_repo() -> Result<crate::git::Repo, CommandError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CommandError::usage(format!("cannot read the current directory: {e}")))?;
    Ok(crate::git::Repo::discover(&cwd)?)
}

/// The repository and its run store.
pub fn repo_and_store() -> Result<(crate::git::Repo, crate::state::Store), CommandError> {
    let repo = current_repo()?;
    let store = crate::state::Store::new(&repo.common_dir);
    Ok((repo, store))
}

/// The worktree of a fork, or an error saying where its work is when the worktree is gone.
pub fn existing_worktree(found: &crate::state::ForkRef) -> Result<&std::path::Path, CommandError> {
    Ok(crate::ops::attach::existing_worktree(found)?)
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CommandError> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    output::print_exact(&text)
}

/// Exit code for a finished run: 0 when every fork is done, else 1.
pub fn run_exit_code(run: &crate::state::Run) -> i32 {
    match run.state {
        crate::state::RunState::Done => 0,
        _ => EXIT_FAILURE,
    }
}
