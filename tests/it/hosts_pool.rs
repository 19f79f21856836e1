//! A host's pool of OpenCode servers (`[[host]] servers = N`): the host runs N `opencode
//! serve`, its forks spread over them least-loaded first as forks here spread over the local
//! pool, and none is left running there once the run ends, nor, when ocfork is killed
//! outright, there or an ssh connection to the host here.

use std::time::Duration;

use crate::common::sshd::{SshHost, host_config_with, ssh_config, ssh_env, try_on_hosta};
use crate::common::*;

#[test]
fn a_host_with_two_servers_spreads_its_forks_over_both_and_stops_them() {
    let letters = ["a", "b", "c", "d"];
    let rules = letters
        .iter()
        .map(|l| {
            let (file, text) = (format!("src/{l}.js"), format!("export const {l} = 1;\n"));
            writes_then(&format!("Approach {l}"), (&file, &text), held())
        })
        .collect();
    let w = world(rules);
    let host = SshHost::start(&w, "hosta");
    host_config_with(&w, &[(&host, None)], "servers = 2\n");
    let (k, v) = ssh_env(&w);
    let prompts: Vec<String> = letters
        .iter()
        .map(|l| format!("{l}=Approach {l}"))
        .collect();
    let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let child = w
        .ocfork()
        .env(k, &v)
        .args(try_on_hosta(&prompts))
        .in_background();
    // Every agent at work at once: each fork holds its place on its server meanwhile.
    let dir = host.dir.display().to_string();
    let all_started = wait_until(Duration::from_secs(180), || {
        let (_, found) = host.sh(&w, &format!("find '{dir}' -name .started"));
        found.lines().count() == letters.len()
    });
    let serving = host.opencode_servers();
    host.sh(
        &w,
        &format!("find '{dir}' -name .started -execdir touch .go \\;"),
    );
    let out = child.wait_with_output().expect("ocfork ends");
    assert!(
        all_started.is_some(),
        "the agents never all started: {}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(serving.len(), 2, "servers on the host: {serving:?}");
    let run = json(&out);
    // Two forks on each of the host's servers (each reached here on a port of its own).
    let mut on = std::collections::BTreeMap::<String, Vec<&str>>::new();
    for l in letters {
        let f = fork(&run, l);
        assert_eq!(f["state"], "done", "{run:#}");
        assert_eq!(f["host"], "hosta", "{run:#}");
        let server = f["server"].as_str().expect("a server").to_string();
        on.entry(server).or_default().push(l);
        let file = format!("ocfork/r/{l}:src/{l}.js");
        assert_eq!(w.git(&["show", &file]), format!("export const {l} = 1;\n"));
    }
    let counts: Vec<usize> = on.values().map(Vec::len).collect();
    assert_eq!(counts, vec![2, 2], "forks by server: {on:?}");
    let status = json(&w.run(&["status", "r", "--json"]));
    assert_eq!(fork(&status, "a")["server"], fork(&run, "a")["server"]);
    // The run's servers on the host are gone with it.
    let stopped = wait_until(Duration::from_secs(15), || {
        host.opencode_servers().is_empty()
    });
    assert!(
        stopped.is_some(),
        "left running on the host: {:?}",
        host.opencode_servers()
    );
    assert_eq!(
        masters(&w),
        Vec::<u32>::new(),
        "ssh masters left after the run"
    );

    // ocfork killed outright (no signal handler, no Drop) while a fork works on the host:
    // the host's server stops all the same, and no ssh connection to the host is left here.
    let child = w
        .ocfork()
        .env(k, &v)
        .args([
            "try",
            "--json",
            "-n",
            "killed",
            "--host",
            "hosta",
            "a=Approach a",
        ])
        .in_background();
    let started = wait_until(Duration::from_secs(120), || {
        let (_, found) = host.sh(&w, &format!("find '{dir}' -name .started"));
        found.lines().count() == 1
    });
    let (serving, connected) = (host.opencode_servers(), masters(&w));
    let mut child = child;
    let _ = child.kill();
    let out = child.wait_with_output().expect("ocfork ends");
    assert!(
        started.is_some(),
        "the agent never started: {}",
        stderr(&out)
    );
    assert_eq!(serving.len(), 1, "servers on the host: {serving:?}");
    assert_eq!(
        connected.len(),
        1,
        "ssh masters while it ran: {connected:?}"
    );
    let gone = wait_until(Duration::from_secs(30), || {
        host.opencode_servers().is_empty() && masters(&w).is_empty()
    });
    assert!(
        gone.is_some(),
        "left after ocfork was killed: on the host {:?}, here {:?}",
        host.opencode_servers(),
        masters(&w)
    );
}

/// The ssh master connections here made with the world's ssh config (ocfork's hosts).
fn masters(w: &World) -> Vec<u32> {
    let config = ssh_config(w).display().to_string();
    crate::common::procs::all_pids()
        .into_iter()
        .filter(|pid| {
            let line = crate::common::procs::cmdline(*pid);
            let words: Vec<&str> = line.split(' ').collect();
            words.first().is_some_and(|w| w.ends_with("ssh"))
                && words.contains(&"-M")
                && line.contains(&config)
        })
        .collect()
}
