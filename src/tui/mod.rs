//! `ocfork ui`'s full-screen terminal UI over a run's manifest and the comparison code the
//! commands use: the terminal's setup and its restoration on every way out, and the loop
//! that redraws as the manifest changes and hands keys to [`keys`].

mod actions;
mod app;
mod keys;
mod render;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::{cursor, event, execute, terminal};

use crate::git::Repo;
use crate::state::{Run, Store};

/// How often the manifest is looked at while no key is pressed.
const TICK: Duration = Duration::from_millis(300);

type Term = Terminal<CrosstermBackend<std::io::Stdout>>;

/// Puts the terminal back as it was: raw mode off, main screen, cursor shown.
fn restore() {
    let _ = terminal::disable_raw_mode();
    let mut out = std::io::stdout();
    let _ = execute!(out, terminal::LeaveAlternateScreen, cursor::Show);
    let _ = out.flush();
}

/// Restores the terminal when dropped, so an error or early return cannot leave it raw.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        restore();
    }
}

fn enter() -> std::io::Result<Term> {
    terminal::enable_raw_mode()?;
    execute!(
        std::io::stdout(),
        terminal::EnterAlternateScreen,
        cursor::Hide
    )?;
    let mut term = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    term.clear()?;
    Ok(term)
}

/// Runs the UI on `run` until the user quits or `stop` is set (a signal). True when it
/// ended on Ctrl-C or a signal.
pub fn run(repo: Repo, store: Store, run: Run, stop: Arc<AtomicBool>) -> std::io::Result<bool> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    let _restore = Restore;
    let mut term = enter()?;
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
        if let Some(fork) = app.attach.take() {
            let reference = app.reference(&fork);
            restore();
            app.status = actions::attach(&reference);
            term = enter()?;
        }
    }
    for job in &mut app.jobs {
        // A follow-up or judge keeps going: it records its own result in the run.
        let _ = job.child.try_wait();
    }
    Ok(app.interrupted || stop.load(Ordering::Relaxed))
}
