//! `ocfork hosts`: whether each host can run forks: reachable over ssh, its git and OpenCode
//! versions, and the free disk where ocfork keeps things there. Exit 2 naming each host that
//! cannot, and what it lacks.

use clap::Args;

use super::{CmdResult, CommandError};
use crate::config::HostConfig;
use crate::host::Host;

/// Check the hosts forks can run on (`[[host]]` tables, or those named).
#[derive(Args, Debug)]
pub struct HostsArgs {
    /// A host to check (a `[[host]]` name, or anything ssh accepts); repeatable [default: every
    /// `[[host]]` of the config]
    #[arg(long = "host", value_name = "HOST")]
    hosts: Vec<String>,
}

/// Connects to every host at once and checks it can run forks; exit 2 naming the hosts that
/// cannot (the connected ones are closed then).
pub(super) async fn connect_checked(configs: &[HostConfig]) -> Result<Vec<Host>, CommandError> {
    let tried = futures_util::future::join_all(configs.iter().map(|c| async move {
        let host = Host::connect(c).await?;
        match host.check().await {
            Ok(_) => Ok(host),
            Err(e) => {
                host.close().await;
                Err(e)
            }
        }
    }))
    .await;
    let (mut hosts, mut errors) = (Vec::new(), Vec::new());
    for t in tried {
        match t {
            Ok(h) => hosts.push(h),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        return Ok(hosts);
    }
    for h in hosts {
        h.close().await;
    }
    Err(CommandError::usage(errors.join("\n")).with_hint(
        "`ocfork hosts` shows what each host has; see README, \"Forks on other machines\"",
    ))
}

pub async fn cmd_hosts(args: HostsArgs) -> CmdResult {
    let workdir = super::current_repo().ok().map(|r| r.workdir);
    let config = crate::config::Config::load(workdir.as_deref())?.layer.hosts;
    let configs = match args.hosts.is_empty() {
        true => config.clone(),
        false => crate::config::hosts::named(&args.hosts, &config),
    };
    if configs.is_empty() {
        return Err(
            CommandError::usage("no hosts: the config has no [[host]] table")
                .with_hint("add one (README, \"Forks on other machines\"), or pass --host"),
        );
    }
    let mut code = 0;
    let mut lines = Vec::new();
    for c in &configs {
        let report = match Host::connect(c).await {
            Ok(h) => {
                let r = h.report().await;
                h.close().await;
                r
            }
            Err(e) => Err(e),
        };
        match report {
            Ok(r) => {
                let problems = r.problems();
                lines.push(format!(
                    "{}\treachable\t{}\topencode {}\t{}",
                    c.name,
                    r.git
                        .as_deref()
                        .unwrap_or("no git")
                        .replace("git version ", "git "),
                    r.opencode.as_deref().unwrap_or("missing"),
                    r.free_kib
                        .map_or("free disk unknown".to_string(), |k| format!(
                            "{:.1} GiB free",
                            k as f64 / 1024.0 / 1024.0
                        )),
                ));
                if !problems.is_empty() {
                    eprintln!("ocfork: host {}: {}", c.name, problems.join("; "));
                    code = 2;
                }
            }
            Err(e) => {
                lines.push(format!("{}\tunreachable", c.name));
                eprintln!("ocfork: {e}");
                code = 2;
            }
        }
    }
    super::output::print(lines.join("\n") + "\n")?;
    Ok(code)
}
