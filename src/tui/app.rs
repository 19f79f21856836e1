//! The UI's state: the run as its manifest says now, the selected fork, the patch pane, the
//! dialog on top, and the jobs working in the background.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use crate::git::Repo;
use crate::state::{Run, Store};

/// Which pane the arrow keys move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Table,
    Patch,
}

/// What covers the panes, if anything.
#[derive(Debug)]
pub enum Dialog {
    None,
    Help,
    /// Output of a finished action.
    Message {
        title: String,
        lines: Vec<String>,
    },
    /// What `merge --dry-run` said about the fork; `y` merges it.
    ConfirmMerge {
        fork: String,
        lines: Vec<String>,
    },
    /// The follow-up prompt being typed for `continue`.
    Input {
        fork: String,
        text: String,
    },
}

pub struct App {
    pub repo: Repo,
    pub store: Store,
    pub run: Run,
    pub selected: usize,
    pub focus: Focus,
    /// The first fork picked with `v`, waiting for the second.
    pub picking_vs: Option<String>,
    /// The two forks the patch pane compares, when it compares two.
    pub compare: Option<(String, String)>,
    pub stat: bool,
    pub scroll: u16,
    pub patch: Vec<String>,
    /// What `patch` shows (mode and commits), so it is only recomputed when that changes.
    pub patch_key: String,
    pub dialog: Dialog,
    /// One line of news at the bottom.
    pub status: String,
    pub color: bool,
    pub quit: bool,
    /// Quit with Ctrl-C.
    pub interrupted: bool,
    /// The fork whose OpenCode TUI to attach once the loop has suspended the terminal.
    pub attach: Option<String>,
    pub jobs: Vec<super::jobs::Job>,
    manifest: PathBuf,
    manifest_mtime: Option<SystemTime>,
    last_load: Instant,
}

impl App {
    pub fn new(repo: Repo, store: Store, run: Run) -> App {
        let manifest = store.path(&run.run);
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        App {
            repo,
            manifest_mtime: mtime(&manifest),
            manifest,
            store,
            run,
            selected: 0,
            focus: Focus::Table,
            picking_vs: None,
            compare: None,
            stat: false,
            scroll: 0,
            patch: Vec::new(),
            patch_key: String::new(),
            dialog: Dialog::None,
            status: String::new(),
            color,
            quit: false,
            interrupted: false,
            attach: None,
            jobs: Vec::new(),
            last_load: Instant::now(),
        }
    }

    /// The selected fork's name.
    pub fn selected_name(&self) -> Option<String> {
        self.run.forks.get(self.selected).map(|f| f.name.clone())
    }

    /// `RUN/FORK` for a fork of this run.
    pub fn reference(&self, fork: &str) -> String {
        format!("{}/{fork}", self.run.run)
    }

    /// Re-reads the manifest when it changed on disk (or every 2 s, so a driver that died
    /// shows its forks interrupted), collects finished jobs and refreshes the patch.
    pub fn refresh(&mut self) {
        let now = mtime(&self.manifest);
        if now != self.manifest_mtime || self.last_load.elapsed().as_secs() >= 2 {
            self.manifest_mtime = now;
            self.last_load = Instant::now();
            match self.store.load_checked(&self.run.run) {
                Ok(r) => self.run = r,
                Err(e) => self.status = format!("cannot read the run: {e}"),
            }
            if self.selected >= self.run.forks.len() {
                self.selected = self.run.forks.len().saturating_sub(1);
            }
        }
        super::jobs::collect(self);
        super::actions::refresh_patch(self);
    }

    pub fn select(&mut self, delta: isize) {
        let n = self.run.forks.len();
        if n == 0 {
            return;
        }
        let next = (self.selected as isize + delta).clamp(0, n as isize - 1);
        if next as usize != self.selected {
            self.selected = next as usize;
            self.scroll = 0;
        }
    }

    pub fn scroll_by(&mut self, delta: i32) {
        let max = self.patch.len().saturating_sub(1) as i32;
        self.scroll =
            (i32::from(self.scroll) + delta).clamp(0, max.min(i32::from(u16::MAX))) as u16;
    }
}

/// How a child ended, in words.
pub fn exit_text(status: std::process::ExitStatus) -> String {
    match status.code() {
        Some(0) => "finished".into(),
        Some(c) => format!("exited with {c}"),
        None => "killed by a signal".into(),
    }
}

fn mtime(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
