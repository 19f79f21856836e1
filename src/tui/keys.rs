//! Keys: what each one does in the table, the patch pane and the dialogs.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::actions;
use super::app::{App, Dialog, Focus};

/// The help dialog's lines.
pub const HELP: &[&str] = &[
    "Up/Down, j/k   select a fork (scroll in the patch pane)",
    "Enter, Tab     move between the table and the patch",
    "PgUp/PgDn, g/G scroll the patch",
    "v              then another fork: the patch between the two (v again: back)",
    "s              per-file stat instead of the patch",
    "m              merge the selected fork (shows merge --dry-run, asks y/n)",
    "a              attach OpenCode's TUI to the fork's session",
    "c              send the fork a follow-up prompt (continue)",
    "J              judge the run (ocfork judge, in the background)",
    "S              synthesize one more fork from the best (synth)",
    "?              this help",
    "Esc            back to the table (in the table: quit)",
    "q              quit",
];

pub fn handle(app: &mut App, key: KeyEvent) {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        app.quit = true;
        app.interrupted = true;
        return;
    }
    match std::mem::replace(&mut app.dialog, Dialog::None) {
        Dialog::None => {
            // A message lasts until the next key, unless it asks for the second fork of `v`.
            if app.picking_vs.is_none() {
                app.status.clear();
            }
            main_keys(app, key)
        }
        Dialog::ConfirmMerge { fork, lines } => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => actions::merge(app, &fork),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                app.status = format!("not merged: {}", app.reference(&fork));
            }
            _ => app.dialog = Dialog::ConfirmMerge { fork, lines },
        },
        Dialog::Input { fork, mut text } => match key.code {
            KeyCode::Enter => actions::start_continue(app, &fork, &text),
            KeyCode::Esc => app.status = "continue: cancelled".into(),
            KeyCode::Backspace => {
                text.pop();
                app.dialog = Dialog::Input { fork, text };
            }
            KeyCode::Char(c) => {
                text.push(c);
                app.dialog = Dialog::Input { fork, text };
            }
            _ => app.dialog = Dialog::Input { fork, text },
        },
        // Any key closes help and messages.
        Dialog::Help | Dialog::Message { .. } => {}
    }
}

fn main_keys(app: &mut App, key: KeyEvent) {
    let patch = app.focus == Focus::Patch;
    match key.code {
        KeyCode::Char('q') => app.quit = true,
        KeyCode::Esc if app.picking_vs.is_some() => {
            app.picking_vs = None;
            app.status = "comparison cancelled".into();
        }
        KeyCode::Esc if patch => app.focus = Focus::Table,
        KeyCode::Esc => app.quit = true,
        KeyCode::Char('?') => app.dialog = Dialog::Help,
        KeyCode::Enter | KeyCode::Tab | KeyCode::BackTab => {
            app.focus = if patch { Focus::Table } else { Focus::Patch };
        }
        KeyCode::Down | KeyCode::Char('j') if patch => app.scroll_by(1),
        KeyCode::Up | KeyCode::Char('k') if patch => app.scroll_by(-1),
        KeyCode::Down | KeyCode::Char('j') => app.select(1),
        KeyCode::Up | KeyCode::Char('k') => app.select(-1),
        KeyCode::PageDown | KeyCode::Char(' ') => app.scroll_by(10),
        KeyCode::PageUp => app.scroll_by(-10),
        KeyCode::Char('g') | KeyCode::Home => app.scroll = 0,
        KeyCode::Char('G') | KeyCode::End => app.scroll_by(i32::from(u16::MAX)),
        KeyCode::Char('s') => app.stat = !app.stat,
        KeyCode::Char('v') => pick_vs(app),
        KeyCode::Char('m') => actions::ask_merge(app),
        KeyCode::Char('c') => {
            if let Some(fork) = app.selected_name() {
                app.dialog = Dialog::Input {
                    fork,
                    text: String::new(),
                };
            }
        }
        KeyCode::Char('a') => app.attach = app.selected_name(),
        KeyCode::Char('J') => actions::start_judge(app),
        KeyCode::Char('S') => actions::start_synth(app),
        _ => {}
    }
}

/// `v`: the first press picks a fork, the second (on another fork) compares the two; a
/// press while comparing goes back to one fork against the start.
fn pick_vs(app: &mut App) {
    let Some(name) = app.selected_name() else {
        return;
    };
    if app.compare.take().is_some() {
        app.status = "patch against the run's start".into();
        return;
    }
    match app.picking_vs.take() {
        None => {
            app.status = format!("compare {name} with: select a fork and press v (Esc: cancel)");
            app.picking_vs = Some(name);
        }
        Some(first) if first == name => {
            app.status = "pick another fork to compare with".into();
            app.picking_vs = Some(first);
        }
        Some(first) => {
            app.status = format!("patch from {first} to {name}");
            app.compare = Some((first, name));
            app.focus = Focus::Patch;
        }
    }
}
