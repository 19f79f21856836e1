//! The server itself: its shared state and request log, and the two ways to run it (on the
//! caller's tokio runtime, or on a thread of its own for synchronous tests) over one handle.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::chat::{chat_completions, list_models, not_found};
use crate::{LoggedRequest, Options, Script};

pub(crate) struct Shared {
    pub(crate) script: Mutex<Script>,
    /// Failures served so far, by rule index; reset with the script.
    pub(crate) failures: Mutex<HashMap<usize, u32>>,
    pub(crate) log: Mutex<Vec<LoggedRequest>>,
    pub(crate) log_path: Option<PathBuf>,
    pub(crate) delay: Duration,
    pub(crate) started: Instant,
    pub(crate) seq: AtomicU64,
    pub(crate) calls: AtomicU64,
    pub(crate) shutdown: CancellationToken,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn record(&self, entry: LoggedRequest) {
        if let Some(path) = &self.log_path
            && let Ok(line) = serde_json::to_string(&entry)
        {
            let mut log = lock(&self.log);
            // Written under the log lock so lines never interleave.
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(f, "{line}");
            }
            log.push(entry);
            return;
        }
        lock(&self.log).push(entry);
    }
}

/// Logs the request when dropped, so requests whose client hung up are still recorded.
pub(crate) struct Pending {
    pub(crate) shared: Arc<Shared>,
    pub(crate) entry: Option<LoggedRequest>,
}

impl Pending {
    pub(crate) fn finish(mut self, answer: String) {
        if let Some(mut e) = self.entry.take() {
            e.answer = answer;
            e.ended_ms = self.shared.now_ms();
            self.shared.record(e);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut e) = self.entry.take() {
            e.answer = "aborted".into();
            e.ended_ms = self.shared.now_ms();
            self.shared.record(e);
        }
    }
}

/// What both facades offer: the server's port, its request log and its script. Both
/// [`ModelServer`] and [`BlockingModelServer`] deref to it.
#[derive(Clone)]
pub struct ModelHandle {
    shared: Arc<Shared>,
    port: u16,
}

impl ModelHandle {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// The requests logged so far, in completion order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Replaces the script; failure counters start over.
    pub fn set_script(&self, script: Script) {
        let mut s = lock(&self.shared.script);
        *s = script;
        lock(&self.shared.failures).clear();
    }
}

/// The scripted model server, on the current tokio runtime.
pub struct ModelServer {
    handle: ModelHandle,
    task: JoinHandle<()>,
}

impl std::ops::Deref for ModelServer {
    type Target = ModelHandle;
    fn deref(&self) -> &ModelHandle {
        &self.handle
    }
}

impl ModelServer {
    /// Binds 127.0.0.1 (`opts.port`, 0 = any free) and starts serving.
    pub async fn start(script: Script, opts: Options) -> std::io::Result<ModelServer> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, opts.port)))
                .await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            script: Mutex::new(script),
            failures: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            log_path: opts.log_path,
            delay: opts.delay,
            started: Instant::now(),
            seq: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            shutdown: CancellationToken::new(),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/chat/completions", post(chat_completions))
            .route("/v1/models", get(list_models))
            .route("/models", get(list_models))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(256 * 1024 * 1024))
            .with_state(shared.clone());
        let token = shared.shutdown.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await;
        });
        Ok(ModelServer {
            handle: ModelHandle { shared, port },
            task,
        })
    }

    /// Stops serving; hanging requests are released with a 503.
    pub async fn stop(self) {
        self.handle.shared.shutdown.cancel();
        let abort = self.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

/// Runs the server on its own thread with its own tokio runtime, for synchronous tests.
/// Stops on drop.
pub struct BlockingModelServer {
    handle: ModelHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BlockingModelServer {
    pub fn start(script: Script, opts: Options) -> std::io::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("scripted-model".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match ModelServer::start(script, opts).await {
                        Ok(server) => {
                            let _ = ready_tx.send(Ok(server.handle.clone()));
                            let _ = stop_rx.await;
                            server.stop().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        match ready_rx.recv() {
            Ok(Ok(handle)) => Ok(BlockingModelServer {
                handle,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(std::io::Error::other("scripted model thread died"))
            }
        }
    }
}

impl std::ops::Deref for BlockingModelServer {
    type Target = ModelHandle;
    fn deref(&self) -> &ModelHandle {
        &self.handle
    }
}

impl Drop for BlockingModelServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
