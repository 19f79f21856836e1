//! `clean` for forks on hosts: a host's worktree and branch go only once the fork's tip on
//! the host is in the local repository and its worktree there holds nothing uncommitted (work
//! that exists only on a host is never deleted).

use super::{CleanEvent, Say};
use crate::git::Repo;
use crate::state::Run;

/// Removes the run's forks from their hosts where their work is home. False (having said
/// why) when any fork's work is still only on its host, or its host cannot be reached: the
/// run is then kept whole.
pub(super) async fn clean_hosts(repo: &Repo, run: &Run, say: Say<'_>) -> bool {
    let on_hosts: Vec<&crate::state::Fork> =
        run.forks.iter().filter(|f| f.host.is_some()).collect();
    if on_hosts.is_empty() {
        return true;
    }
    let config = match crate::config::Config::load(Some(&repo.workdir)) {
        Ok(c) => c.layer.hosts,
        Err(e) => {
            say(CleanEvent::Problem(format!("kept run {}: {e}", run.run)));
            return false;
        }
    };
    let mut all = true;
    let mut connected: Vec<crate::host::Host> = Vec::new();
    // A fork kept because its host could not be asked.
    let kept = |fork: &str, e: &dyn std::fmt::Display| {
        CleanEvent::Problem(format!("kept fork {}/{fork}: {e}", run.run))
    };
    for fork in on_hosts {
        let name = fork.host.clone().unwrap_or_default();
        if !connected.iter().any(|h| h.name() == name) {
            let cfg = crate::config::hosts::named(std::slice::from_ref(&name), &config);
            let Some(cfg) = cfg.first() else { continue };
            match crate::host::Host::connect(cfg).await {
                Ok(h) => connected.push(h),
                Err(e) => {
                    say(kept(&fork.name, &e));
                    all = false;
                    continue;
                }
            }
        }
        let Some(host) = connected.iter().find(|h| h.name() == name) else {
            continue;
        };
        let mirror = host.mirror(&repo.workdir, &repo.common_dir);
        let path = fork.worktree.to_string_lossy().to_string();
        let home = match host.branch_tip(&mirror, &fork.branch).await {
            Ok(None) => true,
            Ok(Some(tip)) => {
                let local = format!("refs/heads/{}", fork.branch);
                crate::git::git(
                    &repo.workdir,
                    ["merge-base", "--is-ancestor", tip.as_str(), local.as_str()],
                )
                .is_ok()
            }
            Err(e) => {
                say(kept(&fork.name, &e));
                all = false;
                continue;
            }
        };
        if !home {
            say(CleanEvent::Problem(format!(
                "kept fork {}/{} on host {name}: its branch {} there is not in this repository\n\
                 hint: fetch it (`git fetch` from the host's mirror {mirror}) or run `ocfork clean` again once it is home",
                run.run, fork.name, fork.branch
            )));
            all = false;
            continue;
        }
        // Work the agent left uncommitted there (its connection dropped) exists nowhere else.
        match host.uncommitted(&mirror, &path).await {
            Ok(dirty) if dirty.is_empty() => {}
            Ok(_) => {
                say(CleanEvent::Problem(format!(
                    "kept fork {}/{} on host {name}: its worktree there ({path}) has work that is not committed\n\
                     hint: `ocfork resume {}` commits it and brings it home when the fork was interrupted; \
                     else commit or remove it there",
                    run.run, fork.name, run.run
                )));
                all = false;
                continue;
            }
            Err(e) => {
                say(CleanEvent::Problem(format!(
                    "kept fork {}/{}: {e}",
                    run.run, fork.name
                )));
                all = false;
                continue;
            }
        }
        if let Err(e) = host.remove_fork(&mirror, &path, &fork.branch).await {
            say(CleanEvent::Problem(format!(
                "kept fork {}/{}: {e}",
                run.run, fork.name
            )));
            all = false;
        }
    }
    for h in connected {
        h.close().await;
    }
    all
}
