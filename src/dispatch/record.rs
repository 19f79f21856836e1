//! The run a driver holds: kept in memory, changed in place in microseconds, and written to
//! disk by one writer thread off the async runtime. A change of a fork's state (anything but
//! progress) is on disk before `update` returns; progress (tool calls, activity) is coalesced.
//!
//! Other processes change the run too (`merge` marks a fork merged, a session relay drives a
//! fork of the same run), so the writer does not overwrite the file with its copy: it replays
//! the fields this process changed onto the file as it is, under the store's lock, and keeps
//! the result (with changes made since) as the copy in memory.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::state::{Fork, Run, StateError, Store};

/// How long progress waits for company before it is written.
const COALESCE: Duration = Duration::from_millis(250);

/// Fields that only report progress: writing them may wait.
const PROGRESS: &[&str] = &["tool_calls", "activity"];

/// A run shared by the tasks that drive it; see the module docs.
pub struct RunHandle {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    name: String,
    live: Mutex<Live>,
    /// Wakes the writer.
    wake: Condvar,
    /// Tells waiters a write finished.
    written: Condvar,
}

struct Live {
    run: Run,
    /// Changes not handed to the writer yet, oldest first.
    queue: Vec<Change>,
    /// The queue holds a change that must not wait.
    urgent: bool,
    /// Number of the latest update queued, and of the latest one on disk.
    queued: u64,
    on_disk: u64,
    /// The latest failed write: the last update it held and why.
    failed: Option<(u64, String)>,
    closing: bool,
}

/// One field this process changed.
#[derive(Clone, Debug)]
enum Change {
    Run(String, Value),
    Fork(String, String, Value),
    NewFork(Value),
}

impl RunHandle {
    pub fn new(store: Store, run: Run) -> Arc<RunHandle> {
        let inner = Arc::new(Inner {
            store,
            name: run.run.clone(),
            live: Mutex::new(Live {
                run,
                queue: Vec::new(),
                urgent: false,
                queued: 0,
                on_disk: 0,
                failed: None,
                closing: false,
            }),
            wake: Condvar::new(),
            written: Condvar::new(),
        });
        let writer = inner.clone();
        let spawned = std::thread::Builder::new()
            .name("ocfork-manifest".into())
            .spawn(move || writer.write_loop());
        if let Err(e) = spawned {
            // Without a writer nothing would be saved: every wait reports that at once.
            let mut live = inner.lock();
            live.failed = Some((u64::MAX, format!("cannot start the manifest writer: {e}")));
            live.closing = true;
        }
        Arc::new(RunHandle { inner })
    }

    /// A copy of the run as it is now.
    pub fn snapshot(&self) -> Run {
        self.inner.lock().run.clone()
    }

    /// Changes the run and waits until the change is on disk.
    pub fn update_run(&self, f: impl FnOnce(&mut Run)) -> Result<(), StateError> {
        match self.change(f, true) {
            Some(seq) => self.inner.wait_written(seq),
            None => Ok(()),
        }
    }

    /// Changes one fork; a change beyond progress is on disk when this returns.
    pub fn update(&self, fork: &str, f: impl FnOnce(&mut Fork)) {
        let seq = self.change(
            |r| {
                if let Some(fk) = r.fork_mut(fork) {
                    f(fk);
                }
            },
            false,
        );
        if let Some(seq) = seq
            && let Err(e) = self.inner.wait_written(seq)
        {
            eprintln!("ocfork: warning: {e}");
        }
    }

    /// Waits until every change made so far is on disk.
    pub fn flush(&self) -> Result<(), StateError> {
        let seq = {
            let mut live = self.inner.lock();
            live.urgent = true;
            live.queued
        };
        self.inner.wake.notify_one();
        self.inner.wait_written(seq)
    }

    /// Applies `f` in memory and queues what it changed; returns the update's number when
    /// the caller must wait for it (`urgent`, or it changed more than progress).
    fn change(&self, f: impl FnOnce(&mut Run), urgent: bool) -> Option<u64> {
        let mut live = self.inner.lock();
        let before = to_value(&live.run);
        f(&mut live.run);
        live.run.refresh_state();
        let changes = diff(&before, &to_value(&live.run));
        if changes.is_empty() {
            return None;
        }
        let must_wait = urgent || changes.iter().any(|c| !c.is_progress());
        live.queue.extend(changes);
        live.queued += 1;
        live.urgent |= must_wait;
        let seq = live.queued;
        drop(live);
        self.inner.wake.notify_one();
        must_wait.then_some(seq)
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        let _ = self.flush();
        self.inner.lock().closing = true;
        self.inner.wake.notify_one();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks until update `seq` is on disk. On a runtime worker the runtime is told, so the
    /// thread's other tasks move elsewhere meanwhile.
    fn wait_written(&self, seq: u64) -> Result<(), StateError> {
        let wait = || {
            let mut live = self.lock();
            while live.on_disk < seq && !live.closing {
                live = self.written.wait(live).unwrap_or_else(|p| p.into_inner());
            }
            match &live.failed {
                Some((upto, why)) if *upto >= seq => Err(StateError::Write {
                    path: self.store.path(&self.name),
                    source: std::io::Error::other(why.clone()),
                }),
                _ => Ok(()),
            }
        };
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if on_worker {
            tokio::task::block_in_place(wait)
        } else {
            wait()
        }
    }

    /// The writer thread: takes what is queued (progress after a short wait for company),
    /// replays it onto the file under the store's lock, and keeps the result.
    fn write_loop(self: Arc<Self>) {
        loop {
            let mut live = self.lock();
            while live.queue.is_empty() && !live.closing {
                live = self.wake.wait(live).unwrap_or_else(|p| p.into_inner());
            }
            if live.queue.is_empty() {
                return;
            }
            let until = Instant::now() + COALESCE;
            while !live.urgent && !live.closing {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                live = self
                    .wake
                    .wait_timeout(live, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            let batch = std::mem::take(&mut live.queue);
            let upto = live.queued;
            live.urgent = false;
            drop(live);

            let res = self
                .store
                .update(&self.name, || None, |r| replay(r, &batch));

            let mut live = self.lock();
            match res {
                Ok(Some(mut disk)) => {
                    let later = live.queue.clone();
                    replay(&mut disk, &later);
                    live.run = disk;
                }
                Ok(None) => {}
                Err(e) => {
                    let why = std::error::Error::source(&e)
                        .map_or_else(|| e.to_string(), |s| s.to_string());
                    live.failed = Some((upto, why));
                }
            }
            live.on_disk = upto;
            drop(live);
            self.written.notify_all();
        }
    }
}

impl Change {
    fn is_progress(&self) -> bool {
        match self {
            Change::Fork(_, field, _) => PROGRESS.contains(&field.as_str()),
            // The run's state follows from its forks'.
            Change::Run(field, _) => field == "state",
            Change::NewFork(_) => false,
        }
    }
}

fn to_value(run: &Run) -> Value {
    serde_json::to_value(run).unwrap_or(Value::Null)
}

/// The fields that differ from `before` to `after`; a field gone is written as null.
fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return Vec::new();
    };
    let mut out: Vec<Change> = fields(b, a)
        .into_iter()
        .filter(|(k, _)| k != "forks")
        .map(|(k, v)| Change::Run(k, v))
        .collect();
    let forks = |o: &Map<String, Value>| -> Vec<Value> {
        o.get("forks")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let old = forks(b);
    for fork in forks(a) {
        let name = fork.get("name").and_then(Value::as_str).unwrap_or("");
        let earlier = old
            .iter()
            .find(|f| f.get("name").and_then(Value::as_str) == Some(name));
        match (earlier.and_then(Value::as_object), fork.as_object()) {
            (Some(e), Some(n)) => out.extend(
                fields(e, n)
                    .into_iter()
                    .map(|(k, v)| Change::Fork(name.to_string(), k, v)),
            ),
            _ => out.push(Change::NewFork(fork.clone())),
        }
    }
    out
}

fn fields(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.extend(
        before
            .keys()
            .filter(|k| !after.contains_key(*k))
            .map(|k| (k.clone(), Value::Null)),
    );
    out
}

/// Replays changes onto a run as another process may have left it.
fn replay(run: &mut Run, changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    let mut value = to_value(run);
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    for c in changes {
        match c {
            Change::Run(k, v) => {
                obj.insert(k.clone(), v.clone());
            }
            Change::Fork(name, k, v) => {
                let fork = obj
                    .get_mut("forks")
                    .and_then(Value::as_array_mut)
                    .and_then(|fs| {
                        fs.iter_mut()
                            .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
                    })
                    .and_then(Value::as_object_mut);
                if let Some(fork) = fork {
                    fork.insert(k.clone(), v.clone());
                }
            }
            Change::NewFork(f) => {
                if let Some(fs) = obj.get_mut("forks").and_then(Value::as_array_mut) {
                    let name = f.get("name");
                    if !fs.iter().any(|x| x.get("name") == name) {
                        fs.push(f.clone());
                    }
                }
            }
        }
    }
    match serde_json::from_value::<Run>(value) {
        Ok(r) => *run = r,
        Err(e) => eprintln!("ocfork: warning: could not record a change of the run: {e}"),
    }
    run.refresh_state();
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
