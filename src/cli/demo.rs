//! `ocfork demo`: the whole flow offline — a temp repo with a small app, the built-in scripted
//! model, a real OpenCode, a two-fork `try` with a check, then `status` and the next commands.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Args;

use super::{CmdResult, CommandError};
use ocfork_scripted::{ModelServer, Options, Rule, Script, Step};

/// Run a two-fork `try` offline against the built-in scripted model in a new temp repo.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  OCFORK_OPENCODE=.tools/opencode/node_modules/.bin/opencode ocfork demo"
)]
pub struct DemoArgs {
    /// The opencode binary (else $OCFORK_OPENCODE, else `opencode` on PATH)
    #[arg(long, value_name = "PATH")]
    opencode: Option<PathBuf>,
    /// Where to create the demo (default: a new folder under the system temp dir)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

const APP: &str = include_str!("../../fixtures/demo/app.js");
const TEST: &str = include_str!("../../fixtures/demo/test.js");
const REDUX: &str = include_str!("../../fixtures/demo/redux-store.js");
const CONTEXT: &str = include_str!("../../fixtures/demo/context-store.js");

fn script() -> Script {
    let write = |path: &str, content: &str| Step {
        tool: "write".into(),
        args: serde_json::json!({ "filePath": path, "content": content }),
    };
    Script {
        rules: vec![
            Rule {
                when: "Redux".into(),
                model: None,
                steps: vec![write("src/store.js", REDUX)],
                reply: "Added a Redux-style store in src/store.js.".into(),
                fail: None,
            },
            Rule {
                when: "Context API".into(),
                model: None,
                steps: vec![
                    write("src/store.js", CONTEXT),
                    write("src/README.md", "The store is a context object.\n"),
                ],
                reply: "Added a Context-style store in src/store.js.".into(),
                fail: None,
            },
        ],
        default_reply: "Nothing to do.".into(),
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<(), CommandError> {
    crate::git::git(dir, args)?;
    Ok(())
}

pub async fn cmd_demo(args: DemoArgs) -> CmdResult {
    let opencode = crate::opencode::find_binary(args.opencode.as_deref())?;
    let root = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            tempfile::Builder::new()
                .prefix("ocfork-demo-")
                .tempdir_in(d)?
                .keep()
        }
        None => tempfile::Builder::new()
            .prefix("ocfork-demo-")
            .tempdir()?
            .keep(),
    };
    let repo = root.join("todo-app");
    std::fs::create_dir_all(repo.join("src"))?;
    std::fs::write(repo.join("src/app.js"), APP)?;
    std::fs::write(repo.join("test.js"), TEST)?;
    std::fs::write(
        repo.join("README.md"),
        "# todo-app\n\nA demo app for ocfork.\n",
    )?;
    git(&repo, &["init", "-q", "-b", "main"])?;
    git(&repo, &["config", "user.name", "ocfork demo"])?;
    git(&repo, &["config", "user.email", "demo@ocfork.invalid"])?;
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "A todo app without a store"])?;

    let model = ModelServer::start(
        script(),
        Options {
            delay: Duration::from_millis(150),
            ..Options::default()
        },
    )
    .await?;
    eprintln!("ocfork demo: repo {}", repo.display());
    eprintln!("ocfork demo: scripted model on {}", model.base_url());

    let exe = std::env::current_exe()?;
    let offline = ocfork_scripted::offline_env(&root.join("opencode-home"), &model.base_url());
    let ocfork = |args: &[&str]| {
        let mut cmd = Command::new(&exe);
        cmd.args(args)
            .current_dir(&repo)
            .env("OCFORK_OPENCODE", &opencode)
            .envs(offline.iter().map(|(k, v)| (k, v)))
            .env_remove("OPENCODE_SERVER_PASSWORD");
        cmd
    };
    let task = "Add a todo store in src/store.js exporting add(text) and list()";
    eprintln!(
        "\n$ ocfork try -t \"{task}\" --check \"node test.js\" \"redux=Use Redux\" \"context=Use the Context API\""
    );
    let status = tokio::task::spawn_blocking({
        let mut cmd = ocfork(&[
            "try",
            "-t",
            task,
            "--check",
            "node test.js",
            "redux=Use Redux",
            "context=Use the Context API",
        ]);
        move || cmd.status()
    })
    .await??;
    model.stop().await;
    super::output::println_during_change("\n$ ocfork status");
    let _ = tokio::task::spawn_blocking({
        let mut cmd = ocfork(&["status"]);
        move || cmd.status()
    })
    .await?;
    super::output::println_during_change(format!("\nNext, in {}:", repo.display()));
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("ocfork").is_file()));
    if !on_path {
        super::output::println_during_change(format!("  alias ocfork={}", exe.display()));
    }
    super::output::println_during_change(format!("  cd {}", repo.display()));
    super::output::println_during_change(
        "  ocfork diff                    # both forks side by side",
    );
    super::output::println_during_change(
        "  ocfork diff redux --vs context  # the two approaches against each other",
    );
    super::output::println_during_change(
        "  ocfork merge redux             # the winner as one commit on main",
    );
    super::output::println_during_change(
        "  ocfork clean                   # worktrees gone, unmerged work kept",
    );
    // The demo's repository, worktrees and OpenCode data stay for the commands above.
    super::output::println_during_change(format!(
        "\nThe demo left everything in {}; `rm -rf {}` removes it.",
        root.display(),
        crate::text::shell_quote(&root.to_string_lossy())
    ));
    match status.code() {
        Some(0) => Ok(0),
        _ => Err(CommandError::failure(
            "the demo run did not finish cleanly; see the status above",
        )),
    }
}
