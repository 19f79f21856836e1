//! `ocfork hosts`: whether each host can run forks: reachable over ssh, its git and OpenCode
//! versions, the free disk where ocfork keeps things there, the agents and models its
//! OpenCode server offers (started there as `try` starts it), and the forks of this
//! repository's runs working there now. Exit 2 naming each host that cannot, and what it
//! lacks.
//!
//! # JSON
//!
//! `ocfork hosts --json` prints an array, one object a host in the order checked (`HostJson`):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `[].name` | string | the host's name (what `--host` names) |
//! | `[].ssh` | string | what ssh is given to reach it |
//! | `[].reachable` | bool | ssh connected |
//! | `[].git` | string or null | its git's version (`2.47.3`); null when it has none or is unreachable |
//! | `[].opencode` | string or null | its opencode's version; null as for `git` |
//! | `[].free_bytes` | number or null | free space where ocfork keeps things there |
//! | `[].agents` | array of strings or null | the agents its OpenCode server offers; null when no server was asked (`--no-server`, or the host cannot run forks) or it did not answer |
//! | `[].models` | array of strings or null | the models it offers, as `provider/model`; null as for `agents` |
//! | `[].forks_running` | array of strings or null | the unfinished forks of this repository's runs there, as `RUN/FORK`; null outside a repository |
//! | `[].problems` | array of strings | what keeps it from running forks (unreachable, what is missing, its server did not answer); empty when nothing does |

use clap::Args;

use super::{CmdResult, CommandError};
use crate::config::HostConfig;
use crate::host::{Host, RemoteServer, Report};
use crate::opencode::offer::Offer;

/// Check the hosts forks can run on (`[[host]]` tables, or those named).
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  ocfork hosts\n  ocfork hosts --host devbox --no-server")]
pub struct HostsArgs {
    /// A host to check (a `[[host]]` name, or anything ssh accepts); repeatable [default: every
    /// `[[host]]` of the config]
    #[arg(long = "host", value_name = "HOST")]
    hosts: Vec<String>,
    /// Do not start each host's OpenCode server: its agents and models are not listed
    #[arg(long)]
    no_server: bool,
    /// Print the hosts as one JSON array on stdout
    #[arg(long)]
    json: bool,
}

/// One host as `hosts --json` prints it (the module's JSON table).
#[derive(serde::Serialize)]
struct HostJson {
    name: String,
    ssh: String,
    reachable: bool,
    git: Option<String>,
    opencode: Option<String>,
    free_bytes: Option<u64>,
    agents: Option<Vec<String>>,
    models: Option<Vec<String>>,
    forks_running: Option<Vec<String>>,
    problems: Vec<String>,
}

/// Connects to every host at once and checks it can run forks; exit 2 naming the hosts that
/// cannot (the connected ones are closed then).
pub(super) async fn connect_checked(configs: &[HostConfig]) -> Result<Vec<Host>, CommandError> {
    let tried = futures_util::future::join_all(configs.iter().map(|c| async move {
        let (host, report) = Host::connect_reporting(c).await?;
        let problems = report.problems();
        if problems.is_empty() {
            return Ok(host);
        }
        let e = crate::host::HostError {
            host: host.name().to_string(),
            message: problems.join("; "),
        };
        host.close().await;
        Err(e)
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

/// What one host showed: its report, and what its server offers when it was asked.
type Seen = (
    Result<Report, crate::host::HostError>,
    Option<Result<Offer, String>>,
);

/// Connects to a host, reads its report and, with `offer` and nothing missing, starts its
/// OpenCode server and reads what it offers.
async fn look(config: &HostConfig, offer: bool) -> Seen {
    let (host, report) = match Host::connect_reporting(config).await {
        Ok(found) => found,
        Err(e) => return (Err(e), None),
    };
    let offered = match offer && report.problems().is_empty() {
        true => Some(read_offer(&host).await),
        false => None,
    };
    host.close().await;
    (Ok(report), offered)
}

/// The agents and models the host's server offers where ocfork keeps things there.
async fn read_offer(host: &Host) -> Result<Offer, String> {
    let server = RemoteServer::start(host).await.map_err(|e| e.to_string())?;
    let dir = std::path::PathBuf::from(&host.dir);
    let offer = Offer::read(&server.client, &dir)
        .await
        .map_err(|e| format!("host {}: its OpenCode server: {e}", host.name()));
    server.stop().await;
    offer
}

/// The unfinished forks of this repository's runs, as `RUN/FORK` with their host; None
/// outside a repository.
fn forks_on_hosts() -> Option<Vec<(String, String)>> {
    let repo = super::current_repo().ok()?;
    let (runs, _) = crate::state::Store::new(&repo.common_dir).all().ok()?;
    let mut out = Vec::new();
    for run in &runs {
        for f in run.forks.iter().filter(|f| !f.state.is_finished()) {
            if let Some(h) = &f.host {
                out.push((h.clone(), format!("{}/{}", run.run, f.name)));
            }
        }
    }
    Some(out)
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
    let seen =
        futures_util::future::join_all(configs.iter().map(|c| look(c, !args.no_server))).await;
    let running = forks_on_hosts();
    let (mut code, mut lines, mut rows) = (0, Vec::new(), Vec::new());
    for (c, (report, offered)) in configs.iter().zip(seen) {
        let here: Option<Vec<String>> = running.as_ref().map(|running| {
            (running.iter().filter(|(h, _)| *h == c.name))
                .map(|(_, f)| f.clone())
                .collect()
        });
        let mut row = HostJson {
            name: c.name.clone(),
            ssh: c.ssh.clone(),
            reachable: report.is_ok(),
            git: None,
            opencode: None,
            free_bytes: None,
            agents: None,
            models: None,
            forks_running: here.clone(),
            problems: Vec::new(),
        };
        match report {
            Ok(r) => {
                lines.push(report_line(&c.name, &r));
                row.problems = r.problems();
                if !row.problems.is_empty() {
                    eprintln!("ocfork: host {}: {}", c.name, row.problems.join("; "));
                }
                row.git = (r.git.as_deref()).map(|g| g.trim_start_matches("git version ").into());
                (row.opencode, row.free_bytes) = (r.opencode, r.free_kib.map(|k| k * 1024));
            }
            Err(e) => {
                lines.push(format!("{}\tunreachable", c.name));
                eprintln!("ocfork: {e}");
                row.problems.push(e.to_string());
            }
        }
        match offered {
            Some(Ok(offer)) => {
                lines.extend(offer_lines(&offer));
                row.agents = Some(offer.agents.names());
                row.models = Some(
                    (offer.models.providers().iter())
                        .flat_map(|(p, models)| models.iter().map(move |m| format!("{p}/{m}")))
                        .collect(),
                );
            }
            Some(Err(e)) => {
                lines.push(
                    "  agents and models: unknown (its OpenCode server did not answer)".into(),
                );
                eprintln!("ocfork: {e}");
                row.problems.push(e);
            }
            None => {}
        }
        if let Some(here) = here {
            lines.push(match here.is_empty() {
                true => "  forks running: none".to_string(),
                false => format!("  forks running: {}", here.join(", ")),
            });
        }
        if !row.problems.is_empty() {
            code = 2;
        }
        rows.push(row);
    }
    match args.json {
        true => super::print_json(&rows)?,
        false => super::output::print(lines.join("\n") + "\n")?,
    }
    Ok(code)
}

fn report_line(name: &str, r: &Report) -> String {
    format!(
        "{name}\treachable\t{}\topencode {}\t{}",
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
    )
}

/// `  agents: ...` and one `  models of PROVIDER: ...` line a provider.
fn offer_lines(offer: &Offer) -> Vec<String> {
    let mut out = vec![format!("  agents: {}", offer.agents.names().join(", "))];
    for (provider, models) in offer.models.providers() {
        out.push(format!("  models of {provider}: {}", models.join(", ")));
    }
    out
}
