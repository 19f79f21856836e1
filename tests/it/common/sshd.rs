//! Other machines for real: one OpenSSH server per test host, on a free loopback port with its
//! own host key, authorized key and `sshd_config`, in a private mount namespace where a tmpfs
//! covers the host's `dir` (and the world's repository), so what ocfork keeps on a "host" does
//! not exist locally and the host cannot read the local repository behind ocfork's back.
//! A host can go down keeping its disk (`drop_connections`) and come back (`come_back`): a
//! process holds its namespace while its sshd comes and goes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{World, wait_until};

/// A running test host; its sshd and every process in its namespace die with it.
pub struct SshHost {
    pub name: String,
    /// Where ocfork keeps its things on the host (a tmpfs there, an empty folder here).
    pub dir: PathBuf,
    /// The host's opencode: the world's own (its sessions have the world's offline
    /// environment, see [`ocfork_scripted::sshd_set_env`]).
    pub opencode: PathBuf,
    pub port: u16,
    /// Holds the host's mount namespace (and so its disk) while its sshd comes and goes.
    holder: Child,
    sshd: Child,
    sshd_config: PathBuf,
    log: PathBuf,
    namespace: Option<PathBuf>,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    l.local_addr().expect("addr").port()
}

/// The client key every host of a world authorizes, made once.
fn client_key(w: &World) -> PathBuf {
    let dir = w.path("ssh");
    let key = dir.join("id");
    if !key.exists() {
        std::fs::create_dir_all(&dir).expect("mkdir");
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key));
    }
    key
}

impl SshHost {
    /// Starts host `name` for world `w` and adds it to the world's ssh config
    /// ([`ssh_config`]).
    pub fn start(w: &World, name: &str) -> SshHost {
        let key = client_key(w);
        let conf = w.path("ssh").join(name);
        let dir = w.path(&format!("host-{name}"));
        std::fs::create_dir_all(&conf).expect("mkdir");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let host_key = conf.join("host_key");
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key));
        let port = free_port();
        let pid_file = conf.join("sshd.pid");
        // The host's sessions see the world's model and config, OpenCode keeping its data on
        // the host; its opencode is the compiled binary itself, as on a real host.
        let env: Vec<(&str, std::ffi::OsString)> = (w.offline_env().into_iter())
            .map(|(k, v)| match k {
                "XDG_DATA_HOME" => (k, dir.join(".opencode-data").into_os_string()),
                _ => (k, v),
            })
            .collect();
        let sshd_config = conf.join("sshd_config");
        std::fs::write(
            &sshd_config,
            ocfork_scripted::sshd_config(port, &host_key, &key, &pid_file)
                + &ocfork_scripted::sshd_set_env(&env),
        )
        .expect("write sshd_config");
        let opencode = w.opencode.clone();
        let ready = conf.join("mounted");
        let script = "mount -t tmpfs -o mode=700 ocfork-host \"$1\" && \
                      mount -t tmpfs -o mode=700 ocfork-host \"$2\" && \
                      : > \"$3\" && exec sleep infinity";
        let holder = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(&dir)
            .arg(&w.repo)
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("unshare starts (needs root)");
        let mounted = wait_until(Duration::from_secs(20), || ready.exists());
        assert!(mounted.is_some(), "the namespace of {name} was not made");
        let log = conf.join("sshd.log");
        let sshd = start_sshd(holder.id(), &sshd_config, &log, port, name);
        let namespace = std::fs::read_link(format!("/proc/{}/ns/mnt", holder.id())).ok();
        let host = SshHost {
            name: name.to_string(),
            dir,
            opencode,
            port,
            holder,
            sshd,
            sshd_config,
            log,
            namespace,
        };
        let mut entry = format!(
            "Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  \
             LogLevel ERROR\n",
            key.display()
        );
        entry.push('\n');
        let config = ssh_config(w);
        let mut text = std::fs::read_to_string(&config).unwrap_or_default();
        text.push_str(&entry);
        std::fs::write(&config, text).expect("write ssh config");
        host
    }

    /// Runs `command` on the host through plain ssh; (exit code, stdout).
    pub fn sh(&self, w: &World, command: &str) -> (i32, String) {
        let out = Command::new("ssh")
            .arg("-F")
            .arg(ssh_config(w))
            .arg(&self.name)
            .arg(command)
            .stdin(Stdio::null())
            .output()
            .expect("ssh runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    }

    /// Mounts a tmpfs of `size` (`mount`'s `size=`) at `path` on the host (made there first):
    /// a small disk of its own.
    pub fn mount_tmpfs(&self, path: &Path, size: &str) {
        run(Command::new("nsenter")
            .arg(format!("--mount=/proc/{}/ns/mnt", self.holder.id()))
            .args([
                "sh",
                "-c",
                "mkdir -p \"$1\" && mount -t tmpfs -o \"size=$2,mode=700\" ocfork-small \"$1\"",
                "sh",
            ])
            .arg(path)
            .arg(size));
    }

    /// How many ssh logins the host has accepted so far (its sshd's log).
    pub fn logins(&self) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter(|l| l.starts_with("Accepted publickey"))
            .count()
    }

    /// Pids of the processes in the host's mount namespace (its sshd and what it started).
    pub fn processes(&self) -> Vec<u32> {
        let Some(ns) = &self.namespace else {
            return Vec::new();
        };
        super::procs::all_pids()
            .into_iter()
            .filter(|pid| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).is_ok_and(|l| &l == ns))
            .collect()
    }

    /// The command lines of the OpenCode servers running on the host (`opencode serve`, not
    /// the shell around it).
    pub fn opencode_servers(&self) -> Vec<String> {
        self.processes()
            .into_iter()
            .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| {
                let mut words = c.split(' ');
                let bin = words.next().unwrap_or("");
                bin.ends_with("opencode") && words.next() == Some("serve")
            })
            .collect()
    }

    /// Stops the host's sshd and everything in its namespace: the host goes away.
    pub fn kill(&mut self) {
        self.drop_connections();
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }

    /// The host goes down and keeps its disk: its sshd and every process in its namespace
    /// (ssh sessions, its OpenCode server, agents' commands) are killed; what it holds stays
    /// for [`SshHost::come_back`].
    pub fn drop_connections(&mut self) {
        let holder = self.holder.id();
        for pid in self.processes().into_iter().filter(|p| *p != holder) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.sshd.kill();
        let _ = self.sshd.wait();
    }

    /// Starts the host's sshd again, on its port, with what its disk held.
    pub fn come_back(&mut self) {
        self.sshd = start_sshd(
            self.holder.id(),
            &self.sshd_config,
            &self.log,
            self.port,
            &self.name,
        );
    }
}

/// sshd in the mount namespace `holder` keeps, listening once this returns.
fn start_sshd(holder: u32, config: &Path, log: &Path, port: u16, name: &str) -> Child {
    let sshd = Command::new("nsenter")
        .arg(format!("--mount=/proc/{holder}/ns/mnt"))
        .args(["/usr/sbin/sshd", "-D", "-e", "-f"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("log"),
        )
        .spawn()
        .expect("nsenter starts (needs root)");
    let up = wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(
        up.is_some(),
        "sshd for {name} did not listen: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    sshd
}

impl Drop for SshHost {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The world's ssh client config (`ssh -F`), naming every host started for it.
pub fn ssh_config(w: &World) -> PathBuf {
    w.path("ssh").join("config")
}

/// ocfork's environment for hosts: `OCFORK_SSH` pointing ssh at the world's config.
pub fn ssh_env(w: &World) -> (&'static str, String) {
    ("OCFORK_SSH", format!("-F {}", ssh_config(w).display()))
}

/// Writes the user config's `[[host]]` tables for `hosts` (`opencode` overridden per name).
pub fn host_config(w: &World, hosts: &[(&SshHost, Option<&Path>)]) {
    host_config_jobs(w, hosts, None);
}

/// [`host_config`], each table with `jobs` when given.
pub fn host_config_jobs(w: &World, hosts: &[(&SshHost, Option<&Path>)], jobs: Option<usize>) {
    let extra = jobs.map(|j| format!("jobs = {j}\n")).unwrap_or_default();
    host_config_with(w, hosts, &extra);
}

/// [`host_config`], `extra` (whole lines) added to each table.
pub fn host_config_with(w: &World, hosts: &[(&SshHost, Option<&Path>)], extra: &str) {
    let mut text = String::new();
    for (h, opencode) in hosts {
        let opencode = opencode.unwrap_or(&h.opencode);
        text.push_str(&format!(
            "[[host]]\nname = \"{}\"\nssh = \"{}\"\ndir = \"{}\"\nopencode = \"{}\"\n",
            h.name,
            h.name,
            h.dir.display(),
            opencode.display()
        ));
        text.push_str(extra);
        text.push('\n');
    }
    let file = w.tmp.path().join("xdg/config/ocfork/config.toml");
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(file, text).expect("write config");
}

/// `ocfork ARGS` in the world, with `OCFORK_SSH` pointing at the test hosts ([`ssh_env`]).
pub fn run_with_hosts(w: &World, args: &[&str]) -> std::process::Output {
    let (k, v) = ssh_env(w);
    w.seed_for(args);
    let out = (w.ocfork().env(k, v).args(args).output()).expect("ocfork runs");
    w.kept_for_others(args);
    out
}

/// `try --json -n r --host hosta` and then `more`: a run `r` with forks on host `hosta`, as
/// the host tests start one.
pub fn try_on_hosta<'a>(more: &[&'a str]) -> Vec<&'a str> {
    [&["try", "--json", "-n", "r", "--host", "hosta"][..], more].concat()
}

/// The forks `a` and `b` of run `r` (rules "Approach A" and "Approach B" writing `src/a.js` and
/// `src/b.js`, as the host tests make them) have their branches home with their agents' files.
pub fn assert_both_home(w: &World) {
    w.assert_shows("ocfork/r/a:src/a.js", "export const a = 1;\n");
    w.assert_shows("ocfork/r/b:src/b.js", "export const b = 2;\n");
}
