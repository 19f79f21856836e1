//! Forks on other machines (`--host`): real OpenSSH servers in private mount namespaces, real
//! git on both sides, the real `opencode serve` started on the host and reached through a port
//! forward; the work comes home as branches that `diff` and `merge` read locally.

use std::time::Duration;

use crate::common::sshd::{SshHost, host_config, run_with_hosts, ssh_env, try_on_hosta};
use crate::common::*;

/// One host of `hosts --json`, every field named.
#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
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

/// `hosts --json ARGS`: its exit code and its one host.
fn hosts_json(w: &World, args: &[&str]) -> (Option<i32>, HostJson) {
    let out = run_with_hosts(w, &[&["hosts", "--json"][..], args].concat());
    crate::json_docs::assert_documented(
        "hosts --json",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/cli/hosts.rs")),
        &json(&out),
    );
    let hosts: Vec<HostJson> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not the hosts' JSON ({e}): {}", stdout(&out)));
    let [host] = <[HostJson; 1]>::try_from(hosts).expect("one host");
    (out.status.code(), host)
}

fn rules() -> Vec<Rule> {
    numbered_exports(&["Approach A", "Approach B"])
}

#[test]
fn a_host_without_opencode_exits_2_and_nothing_is_made_anywhere() {
    let w = world(rules());
    let host = SshHost::start(&w, "bare");
    let missing = host.dir.join("no/opencode");
    host_config(&w, &[(&host, Some(&missing))]);
    let out = run_with_hosts(&w, &["try", "-n", "r", "--host", "bare", "a=Approach A"]);
    exits_with(&out, 2, "bare");
    assert!(stderr(&out).contains("opencode"), "{}", stderr(&out));
    assert_eq!(w.git(&["branch", "--list", "ocfork/*"]), "");
    assert!(!w.repo.join(".git/ocfork/runs/r.json").exists());
    let (_, listing) = host.sh(&w, &format!("ls -A '{}'", host.dir.display()));
    assert_eq!(listing.trim(), "", "ocfork made things on the host");
    // `ocfork hosts` says the same, naming the host and what is missing.
    let out = run_with_hosts(&w, &["hosts"]);
    exits_with(&out, 2, "bare");
    let (code, bare) = hosts_json(&w, &[]);
    assert_eq!(code, Some(2));
    assert!(bare.reachable && bare.git.is_some(), "{bare:?}");
    assert_eq!(bare.opencode, None, "{bare:?}");
    assert!(
        bare.problems.iter().any(|p| p.contains("opencode")),
        "{bare:?}"
    );
    // No server was started there, so no agents or models to show.
    assert_eq!((bare.agents, bare.models), (None, None));

    // An OpenCode 2 there is refused as here, before anything is made (its server would
    // migrate the data V1 shares with it); a script's version is never kept.
    let v2 = w.path("opencode-v2");
    std::fs::write(&v2, "#!/bin/sh\necho 2.0.1\n").expect("write");
    std::fs::set_permissions(&v2, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    host_config(&w, &[(&host, Some(&v2))]);
    let out = run_with_hosts(&w, &["try", "-n", "r", "--host", "bare", "a=Approach A"]);
    exits_with(&out, 2, "bare");
    assert!(stderr(&out).contains("OpenCode 2.0.1"), "{}", stderr(&out));
    assert!(!w.repo.join(".git/ocfork/runs/r.json").exists());
    let (_, listing) = host.sh(&w, &format!("ls -A '{}'", host.dir.display()));
    assert_eq!(listing.trim(), "", "ocfork made things on the host");
}

/// The host's `opencode --version` (most of a CPU-second) is kept on the host, where ocfork
/// keeps things there, while the binary is the same compiled file, as here.
#[test]
fn a_hosts_opencode_version_is_kept_there_while_it_is_the_same_file() {
    let w = world(rules());
    let host = SshHost::start(&w, "hosta");
    host_config(&w, &[(&host, None)]);
    let version = || hosts_json(&w, &["--no-server"]).1.opencode;
    let real = version().expect("the host's opencode has a version");
    let cache = format!("{}/host-opencode-versions", host.dir.display());
    let kept = || host.sh(&w, &format!("cat '{cache}'")).1;
    let first = kept();
    assert!(
        first.starts_with(&format!("{real} ")) && first.lines().count() == 1,
        "{first:?}"
    );
    // Private to the host's user, as all ocfork writes there, and no temporary file left.
    let mode = host.sh(&w, &format!("stat -c %a '{cache}'")).1;
    assert_eq!(mode, "600\n");
    let left = host.sh(&w, &format!("ls -a '{}'", host.dir.display())).1;
    let temporary = left
        .lines()
        .filter(|f| f.starts_with("host-opencode-versions."));
    assert_eq!(temporary.count(), 0, "{left}");
    // What is kept is what the host's opencode is said to be while the file is the same...
    host.sh(&w, &format!("sed -i 's/^[^ ]* /1.18.99 /' '{cache}'"));
    assert_eq!(version().as_deref(), Some("1.18.99"));
    // ...and it is asked again once the file differs (another inode here).
    host.sh(
        &w,
        &format!("sed -i 's/^\\([^ ]* [^ ]*\\) [0-9]* /\\1 1 /' '{cache}'"),
    );
    assert_eq!(version(), Some(real.clone()));
    let again = kept();
    assert!(
        again.starts_with(&format!("{real} ")) && again.lines().count() == 1,
        "{again:?}"
    );
}

/// `ocfork hosts` shows what a host has and what its server offers; the forks running there
/// are checked in the run of [`a_run_on_a_host_keeps_its_password_out_of_argv_shows_in_hosts_and_clean_waits_for_the_work_home`].
#[test]
fn hosts_shows_git_opencode_disk_agents_and_models() {
    let w = world(rules());
    let host = SshHost::start(&w, "hosta");
    host_config(&w, &[(&host, None)]);
    let out = ok(&run_with_hosts(&w, &["hosts"]));
    assert!(out.contains("hosta\treachable"), "{out}");
    assert!(out.contains("git 2."), "{out}");
    assert!(out.contains("opencode 1."), "{out}");
    assert!(out.contains("free"), "{out}");
    let agents = out
        .lines()
        .find(|l| l.starts_with("  agents: "))
        .unwrap_or("");
    assert!(agents.split([' ', ',']).any(|a| a == "build"), "{out}");
    let models: Vec<&str> = out
        .lines()
        .find_map(|l| l.strip_prefix("  models of scripted: "))
        .map(|m| m.split(", ").collect())
        .unwrap_or_default();
    assert!(
        models.contains(&"scripted") && models.contains(&"other"),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "  forks running: none"), "{out}");
    // --no-server asks ssh only.
    let quick = ok(&run_with_hosts(&w, &["hosts", "--no-server"]));
    assert!(quick.contains("hosta\treachable"), "{quick}");
    assert!(!quick.contains("agents:"), "{quick}");
    // --json says the same as one document.
    let (code, host) = hosts_json(&w, &[]);
    assert_eq!(code, Some(0), "{host:?}");
    assert_eq!((host.name.as_str(), host.ssh.as_str()), ("hosta", "hosta"));
    assert!(host.reachable && host.problems.is_empty(), "{host:?}");
    assert!(
        host.git.as_deref().is_some_and(|g| g.starts_with("2.")),
        "{host:?}"
    );
    let version = host.opencode.as_deref().unwrap_or("");
    assert!(
        version.starts_with("1.") && out.contains(version),
        "{host:?}"
    );
    assert!(host.free_bytes.is_some_and(|b| b > 0), "{host:?}");
    assert!(host.agents.is_some_and(|a| a.iter().any(|a| a == "build")));
    let models = host.models.unwrap_or_default();
    for m in ["scripted/scripted", "scripted/other"] {
        assert!(models.iter().any(|x| x == m), "{models:?}");
    }
    assert_eq!(host.forks_running, Some(Vec::new()));
    let (_, quick) = hosts_json(&w, &["--no-server"]);
    assert_eq!((quick.agents, quick.models), (None, None));
}

/// One run on a host (a run there costs ~20 s to make): while its agent works, the host's
/// server password is in no process's argv on either side, nor in a file ocfork wrote there,
/// and `ocfork hosts` lists the fork running there; its server keeps no snapshots; after it,
/// `clean` removes the host's worktree only once the fork's tip is home.
#[test]
fn a_run_on_a_host_keeps_its_password_out_of_argv_shows_in_hosts_and_clean_waits_for_the_work_home()
{
    let w = world(vec![writes_then(
        "Approach A",
        ("src/a.js", "export const a = 1;\n"),
        held(),
    )]);
    let host = SshHost::start(&w, "hosta");
    host_config(&w, &[(&host, None)]);
    let (k, v) = ssh_env(&w);
    let child = w
        .ocfork()
        .env(k, v)
        .args(try_on_hosta(&["a=Approach A"]))
        .in_background();
    let dir = host.dir.display().to_string();
    let started = wait_until(Duration::from_secs(120), || {
        host.sh(&w, &format!("find '{dir}' -name .started | grep -q ."))
            .0
            == 0
    });
    // The host's server, found by its environment: its password is what must not leak.
    let password = started.and_then(|_| {
        host.processes().into_iter().find_map(|pid| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            env.split(|b| *b == 0).find_map(|kv| {
                let kv = String::from_utf8_lossy(kv);
                kv.strip_prefix("OPENCODE_SERVER_PASSWORD=")
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
            })
        })
    });
    let leaks: Vec<String> = password.as_ref().map_or_else(Vec::new, |password| {
        std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter_map(|e| {
                let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                text.contains(password.as_str()).then_some(text)
            })
            .collect()
    });
    let during = run_with_hosts(&w, &["hosts", "--no-server"]);
    let (_, during_json) = hosts_json(&w, &["--no-server"]);
    // The agent goes on and the run ends, whatever was found.
    host.sh(
        &w,
        &format!("find '{dir}' -name .started -execdir touch .go \\;"),
    );
    let out = child.wait_with_output().expect("ocfork ends");
    let during = ok(&during);
    assert!(
        during.lines().any(|l| l == "  forks running: r/a"),
        "{during}"
    );
    assert_eq!(during_json.forks_running, Some(vec!["r/a".to_string()]));
    let after = ok(&run_with_hosts(&w, &["hosts", "--no-server"]));
    assert!(
        after.lines().any(|l| l == "  forks running: none"),
        "{after}"
    );
    let Some(password) = password else {
        panic!(
            "no opencode server with a password on the host while its agent worked: {}",
            stderr(&out)
        );
    };
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(leaks.is_empty(), "the password is in argv: {leaks:?}");
    // Nothing ocfork wrote on the host holds it either.
    let (code, _) = host.sh(&w, &format!("grep -rqF '{password}' '{dir}'"));
    assert_ne!(code, 0, "the password is in a file on the host");

    // The host's server kept no snapshots of the worktree (OpenCode's own `git add` of it at
    // every step), as ocfork's servers here do not: the fork's branch is its record.
    let (_, snapshots) = host.sh(
        &w,
        &format!("find '{dir}/.opencode-data' -path '*/snapshot/*' | head -3"),
    );
    assert_eq!(snapshots.trim(), "", "OpenCode snapshots on the host");

    let run = json(&out);
    let remote_tree = worktree_of(fork(&run, "a"));
    let on_host = |path: &str| host.sh(&w, &format!("test -e '{path}'")).0 == 0;
    // The fork's tip gone from here (as if the fetch had not happened): clean keeps the
    // host's worktree, the only place the work is.
    w.git(&["branch", "-D", "ocfork/r/a"]);
    let kept = run_with_hosts(&w, &["clean", "r", "--force"]);
    assert!(
        on_host(&remote_tree.display().to_string()),
        "{}",
        stderr(&kept)
    );
    assert_ne!(kept.status.code(), Some(0), "{}", stderr(&kept));
    // Home again: clean removes the host's worktree and branch.
    let tip = fork(&run, "a")["commit"]
        .as_str()
        .expect("commit")
        .to_string();
    w.git(&["branch", "ocfork/r/a", &tip]);
    ok(&run_with_hosts(&w, &["clean", "r", "--force"]));
    assert!(!on_host(&remote_tree.display().to_string()));
}

#[path = "hosts_later.rs"]
mod later;

#[path = "hosts_steps.rs"]
mod steps;

#[path = "hosts_drops.rs"]
mod drops;

#[path = "hosts_detach.rs"]
mod detach;

#[path = "hosts_pool.rs"]
mod pool;

#[path = "hosts_disk.rs"]
mod disk;

#[path = "hosts_agents.rs"]
mod agents;
