//! `ocfork ui`'s full-screen terminal UI over a run's manifest and the comparison code the
//! commands use: the terminal's setup and its restoration on every way out, and the loop
//! that redraws as the manifest changes and hands keys to [`keys`].

mod actions;
mod app;
mod jobs;
mod keys;
mod render;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ratatui::DefaultTerminal;
use ratatui::crossterm::{event, execute, terminal};

use crate::git::Repo;
use crate::state::{Run, Store};

/// How often the manifest is looked at while no key is pressed.
const TICK: Duration = Duration::from_millis(300);

/// Restores the terminal when dropped (ratatui's own restore: raw mode off, main screen), so
/// an error or early return cannot leave it raw; a panic is restored by ratatui's hook.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Takes the terminal back after OpenCode's TUI had it, as `ratatui::init` set it up.
fn resume(term: &mut DefaultTerminal) -> std::io::Result<()> {
    terminal::enable_raw_mode()?;
    execute!(std::io::stdout(), terminal::EnterAlternateScreen)?;
    term.clear()
}

/// Runs the UI on `run` until the user quits or `stop` is set (a signal). True when it
/// ended on Ctrl-C or a signal.
pub fn run(repo: Repo, store: Store, run: Run, stop: Arc<AtomicBool>) -> std::io::Result<bool> {
    let _restore = Restore;
    let mut term = ratatui::try_init()?;
    term.clear()?;
    let mut app = app::App::new(repo, store, run);
    while !app.quit && !stop.load(Ordering::Relaxed) {
        app.refresh();
        term.draw(|f| render::draw(f, &app))?;
        if event::poll(TICK)? {
            match event::read()? {
                event::Event::Key(k) if k.kind == event::KeyEventKind::Press => {
                    keys::handle(&mut app, k);
                }
                _ => {}
            }
        }
        if let Some(fork) = app.attach.take()
            && let Some(cmd) = actions::attach_command(&mut app, &fork)
        {
            ratatui::restore();
            term.show_cursor()?;
            app.status = actions::attach(&cmd, &app.reference(&fork));
            resume(&mut term)?;
        }
    }
    if jobs::merging(&app) {
        app.status = "waiting for the merge to finish".into();
        term.draw(|f| render::draw(f, &app))?;
    }
    jobs::finish(&mut app);
    Ok(app.interrupted || stop.load(Ordering::Relaxed))
}
