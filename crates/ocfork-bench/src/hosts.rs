//! Scenario 9, forks on another machine: N forks through `ocfork try --host` to a loopback
//! OpenSSH host (this machine's `sshd` on a free port, its own keys and config) against the
//! same N forks here, in the same repetition; and what the difference is made of, measured
//! part by part: a new ssh connection, the push of the repository to a bare mirror on the
//! host, the fetch of one fork's branch home.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::agents::{Variant, ocfork_try};
use crate::measure::Stat;
use crate::report::{Goal, Section};
use crate::world::World;

/// The host's name in the ssh config and in `--host`.
const NAME: &str = "bench-host";

/// A loopback OpenSSH host; its sshd stops when this is dropped.
pub struct Host {
    sshd: Child,
    /// The ssh client config naming the host (`ssh -F`).
    config: PathBuf,
    /// Where ocfork keeps its things on the host.
    dir: PathBuf,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.sshd.kill();
        let _ = self.sshd.wait();
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn keygen(path: &Path) -> anyhow::Result<()> {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path))
    .map(drop)
}

impl Host {
    /// Starts `/usr/sbin/sshd` on a free loopback port whose sessions have the world's offline
    /// environment (OpenCode's data kept on the host), the host's opencode the world's own.
    pub fn start(w: &World) -> anyhow::Result<Host> {
        let conf = w.root.join("ssh");
        let dir = w.root.join("host");
        std::fs::create_dir_all(&conf)?;
        std::fs::create_dir_all(&dir)?;
        std::fs::create_dir_all("/run/sshd").context("cannot make /run/sshd (sshd needs it)")?;
        let (key, host_key) = (conf.join("id"), conf.join("host_key"));
        keygen(&key)?;
        keygen(&host_key)?;
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))?
            .local_addr()?
            .port();
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        // The host's sessions get the world's environment, OpenCode's data kept on the host,
        // and its opencode is the compiled binary itself, as on a real host.
        let env: Vec<(&str, std::ffi::OsString)> = (w.env().into_iter())
            .filter(|(k, _)| *k != "HOME")
            .map(|(k, v)| match k {
                "XDG_DATA_HOME" => (k, dir.join(".opencode-data").into_os_string()),
                _ => (k, v),
            })
            .collect();
        let sshd_config = conf.join("sshd_config");
        std::fs::write(
            &sshd_config,
            ocfork_scripted::sshd_config(port, &host_key, &key, &conf.join("sshd.pid"))
                + &ocfork_scripted::sshd_set_env(&env),
        )?;
        let log = std::fs::File::create(conf.join("sshd.log"))?;
        let mut sshd = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&sshd_config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start /usr/sbin/sshd (install openssh-server)")?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || sshd.try_wait()?.is_some() {
                let _ = sshd.kill();
                bail!(
                    "sshd did not listen on port {port}: {}",
                    std::fs::read_to_string(conf.join("sshd.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let config = conf.join("config");
        std::fs::write(
            &config,
            format!(
                "Host {NAME}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  \
                 IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile /dev/null\n  \
                 StrictHostKeyChecking no\n  LogLevel ERROR\n",
                key.display()
            ),
        )?;
        let opencode = w.opencode.clone();
        // The user's `[[host]]` table.
        let table = w.root.join("xdg/config/ocfork/config.toml");
        std::fs::create_dir_all(table.parent().context("config folder")?)?;
        std::fs::write(
            &table,
            format!(
                "[[host]]\nname = \"{NAME}\"\nssh = \"{NAME}\"\ndir = \"{}\"\nopencode = \"{}\"\n",
                dir.join("ocfork").display(),
                opencode.display()
            ),
        )?;
        Ok(Host { sshd, config, dir })
    }

    fn ssh_option(&self) -> String {
        format!("-F {}", self.config.display())
    }

    /// `ocfork try --host` on this host.
    fn variant(&self) -> Variant {
        Variant {
            label: format!("--host {NAME}"),
            env: vec![("OCFORK_SSH".into(), self.ssh_option())],
            args: vec!["--host".into(), NAME.into()],
            ..Variant::default()
        }
    }

    fn git(&self, w: &World, dir: &Path, args: &[&str]) -> anyhow::Result<String> {
        let mut cmd = Command::new("git");
        cmd.current_dir(dir).args(args);
        w.apply_env(&mut cmd);
        cmd.env("GIT_SSH_COMMAND", format!("ssh {}", self.ssh_option()));
        run(&mut cmd)
    }
}

/// Seconds `f` took.
fn timed(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let started = Instant::now();
    f()?;
    Ok(started.elapsed().as_secs_f64())
}

/// The parts a host adds to a run, measured once each: a new ssh connection, the push of
/// `repo`'s HEAD to a fresh bare repository on the host, and the fetch of one fork's branch
/// (made there on top of it) into a clone here.
fn parts(w: &World, host: &Host, repo: &Path) -> anyhow::Result<[f64; 3]> {
    let connect = timed(|| {
        run(Command::new("ssh")
            .args(["-F"])
            .arg(&host.config)
            .args([NAME, "true"]))
        .map(drop)
    })?;
    let bare = host.dir.join(w.fresh("mirror"));
    let url = format!("{NAME}:{}", bare.display());
    run(Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&bare))?;
    let push = timed(|| {
        host.git(w, repo, &["push", "-q", &url, "HEAD:refs/heads/start"])
            .map(drop)
    })?;
    // A fork's work on the host: one commit on top of the start.
    let tree = host.dir.join(w.fresh("fork"));
    run(Command::new("git")
        .args(["clone", "-q", "--branch", "start"])
        .arg(&bare)
        .arg(&tree))?;
    std::fs::write(tree.join("fork-work.txt"), "the fork's work\n")?;
    host.git(w, &tree, &["add", "-A"])?;
    host.git(w, &tree, &["commit", "-q", "-m", "fork"])?;
    host.git(w, &tree, &["push", "-q", "origin", "HEAD:refs/heads/fork"])?;
    let home = w.root.join(w.fresh("home"));
    run(Command::new("git")
        .args(["clone", "-q", "--no-checkout"])
        .arg(repo)
        .arg(&home))?;
    let fetch = timed(|| {
        host.git(w, &home, &["fetch", "-q", &url, "refs/heads/fork"])
            .map(drop)
    })?;
    Ok([connect, push, fetch])
}

/// Scenario 9: the same `n` forks here and on the host, in turn, `reps` times.
pub fn run_scenario(
    w: &World,
    repo: &Path,
    n: usize,
    reps: usize,
) -> anyhow::Result<(Section, Goal)> {
    let host = Host::start(w)?;
    let remote = host.variant();
    let (mut here, mut there) = (Stat::default(), Stat::default());
    let [mut connect, mut push, mut fetch] = [Stat::default(), Stat::default(), Stat::default()];
    for rep in 1..=reps {
        // Alternate which goes first, so neither always meets a warmer machine.
        let order: [bool; 2] = if rep % 2 == 1 {
            [false, true]
        } else {
            [true, false]
        };
        for on_host in order {
            w.remove_worktrees(repo)?;
            let variant = if on_host {
                &remote
            } else {
                &Variant::default()
            };
            let m = ocfork_try(w, repo, n, variant)?;
            if on_host { &mut there } else { &mut here }.push(m.secs);
        }
        let [c, p, f] = parts(w, &host, repo)?;
        connect.push(c);
        push.push(p);
        fetch.push(f);
        eprintln!(
            "  hosts rep {rep}: here {:.1} s, on the host {:.1} s; connect {c:.2} s, push \
             {p:.2} s, fetch {f:.2} s",
            here.values.last().copied().unwrap_or_default(),
            there.values.last().copied().unwrap_or_default(),
        );
    }
    let ratio = there.ratio(&here);
    let mut sec = Section::new(
        "9. Forks on another machine (`--host`)",
        &format!(
            "`ocfork try` with {n} forks of the small repository through `--host` to a loopback \
             OpenSSH host (this machine's sshd on a free port: the same CPUs and disk, so what \
             is measured is what the host path adds, not a second machine's capacity) against \
             the same {n} forks here, in turn in each repetition. On the host ocfork connects, \
             pushes the start to its bare mirror, makes the worktrees, starts `opencode serve` \
             there behind a port forward, and fetches each fork's branch home. The parts are \
             measured alone: a new ssh connection (`ssh HOST true`), a push of the repository \
             to a fresh bare repository there, the fetch of one fork's branch here."
        ),
    );
    sec.secs(&format!("try, {n} forks here, wall"), &here);
    sec.secs(&format!("try, {n} forks on the host, wall"), &there);
    sec.ratio("host / here, wall", &ratio);
    sec.secs("a new ssh connection", &connect);
    sec.secs("push of the repository to a new mirror", &push);
    sec.secs("fetch of one fork's branch", &fetch);
    let goal = Goal::at_most("9", "host / here, wall", &ratio, 1.15);
    Ok((sec, goal))
}
