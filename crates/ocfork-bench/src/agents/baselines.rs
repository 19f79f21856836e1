//! The ways to fork without ocfork that the scenarios measure it against: one `opencode run`
//! per worktree by hand, and the best script (one server, N sessions, `prompt_async`).

use super::*;

/// The hand-made way: a shell loop of `git worktree add`, then one `opencode run` per worktree,
/// all at once.
pub fn hand(w: &World, repo: &Path, n: usize) -> anyhow::Result<Measured<()>> {
    let name = w.fresh("hand");
    let m = measure(|| -> anyhow::Result<Vec<PathBuf>> {
        let dirs = loop_worktrees(w, repo, &name, n)?;
        let mut children = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            let log = std::fs::File::create(w.log_path(&format!("{name}-f{}", i + 1)))?;
            let mut cmd = Command::new(&w.opencode);
            w.apply_env(&mut cmd);
            // `opencode run` takes its directory from $PWD.
            cmd.args(["run", "--model", "scripted/scripted", &prompt(i + 1)])
                .current_dir(dir)
                .env("PWD", dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            children.push(cmd.spawn().context("cannot start opencode run")?);
        }
        for (i, mut c) in children.into_iter().enumerate() {
            let status = c.wait()?;
            if !status.success() {
                let log = w.log_path(&format!("{name}-f{}", i + 1));
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(5).collect();
                bail!(
                    "opencode run in {} exited with {status}; last lines of {}: {}",
                    dirs[i].display(),
                    log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                );
            }
        }
        Ok(dirs)
    });
    check_written(&m.value?)?;
    Ok(Measured {
        value: (),
        secs: m.secs,
        peak_rss: m.peak_rss,
        peak_maps: m.peak_maps,
        cpu: m.cpu,
    })
}

/// A plain `opencode serve` as a script would start it: hermetic env, a password, no tuning.
pub(super) struct PlainServer {
    pub(super) url: String,
    pub(super) password: String,
    pub(super) child: tokio::process::Child,
}

impl PlainServer {
    pub(super) async fn spawn(w: &World, dir: &Path) -> anyhow::Result<PlainServer> {
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let password = format!("bench-{}-{n}", std::process::id());
        let mut cmd = tokio::process::Command::new(&w.opencode);
        // Port 0: OpenCode binds the port itself and prints its URL, so no other process can
        // take it between choosing and binding.
        cmd.args(["serve", "--hostname", "127.0.0.1", "--port", "0"])
            .envs(w.env())
            .env("OPENCODE_SERVER_PASSWORD", &password)
            .env_remove("OPENCODE_PERMISSION")
            .current_dir(dir)
            .env("PWD", dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("cannot start opencode serve")?;
        let out = child
            .stdout
            .take()
            .context("no stdout from opencode serve")?;
        let mut lines = BufReader::new(out).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(i) = line.find("listening on ") {
                    return Some(line[i + "listening on ".len()..].trim().to_string());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .context("opencode serve did not print its URL")?;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(PlainServer {
            url,
            password,
            child,
        })
    }

    /// Kills the server's process group and reaps it, so its CPU time is accounted.
    pub(super) async fn stop(mut self) {
        self.kill_group();
        let _ = self.child.kill().await;
    }

    fn kill_group(&self) {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// A script that failed drops its server on the way out: the whole group goes, not only the
/// launcher (a server left spinning at the map limit would load every later measurement).
impl Drop for PlainServer {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// The best script: a shell loop of `git worktree add`, one `opencode serve`, N sessions
/// prompted with `prompt_async`, then waiting until every session is idle with its answer.
/// The server is stopped after the clock stops.
pub fn script(
    w: &World,
    rt: &tokio::runtime::Runtime,
    repo: &Path,
    n: usize,
    limit: Duration,
) -> anyhow::Result<Measured<()>> {
    let name = w.fresh("script");
    let cpu_before = crate::measure::children_cpu();
    let m = measure(|| rt.block_on(script_run(w, repo, &name, n, limit)));
    let (server, dirs) = m.value?;
    rt.block_on(server.stop());
    check_written(&dirs)?;
    Ok(Measured {
        value: (),
        secs: m.secs,
        peak_rss: m.peak_rss,
        peak_maps: m.peak_maps,
        cpu: crate::measure::children_cpu() - cpu_before,
    })
}

async fn script_run(
    w: &World,
    repo: &Path,
    name: &str,
    n: usize,
    limit: Duration,
) -> anyhow::Result<(PlainServer, Vec<PathBuf>)> {
    let dirs = loop_worktrees(w, repo, name, n)?;
    let server = PlainServer::spawn(w, repo).await?;
    let client = Client::new(&server.url, Some(&server.password))?;
    let stop = CancellationToken::new();
    let hub = EventHub::start(client.clone(), stop.clone());
    hub.wait_connected(Duration::from_secs(10)).await;
    let turns = dirs.iter().enumerate().map(|(i, dir)| {
        let client = &client;
        let events = hub.subscribe();
        async move {
            let session = client.create_session(dir, &format!("bench {i}")).await?;
            let body = PromptBody::text(Some("build"), None, &prompt(i + 1));
            client.prompt_async(&session.id, dir, &body).await?;
            let watch = TurnWatch {
                client,
                events,
                session: &session.id,
                directory: dir,
                before: 0,
                deadline: tokio::time::Instant::now() + limit,
                cancel: CancellationToken::new(),
                server_exit: None,
            };
            match follow_turn(watch, |_| {}).await {
                TurnEnd::Done => Ok(()),
                other => bail!("session in {} ended {other:?}", dir.display()),
            }
        }
    });
    let results = futures_util::future::join_all(turns).await;
    stop.cancel();
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    Ok((server, dirs))
}
