//! Drawing: the header with the run's totals, the forks table, the patch pane, the key line
//! and any dialog; colour only when NO_COLOR is not set.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::app::{App, Dialog, Focus};
use crate::state::{Fork, ForkState};

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    let table_height = (app.run.forks.len() as u16 + 3).min(area.height.saturating_sub(6) / 2 + 3);
    let [header, table, patch, footer] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(table_height),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(header_lines(app)), header);
    draw_table(f, app, table);
    draw_patch(f, app, patch);
    let keys =
        "↑↓ select  Enter patch  v compare  s stat  m merge  a attach  c continue  ? help  q quit";
    let text = if app.status.is_empty() {
        keys
    } else {
        &app.status
    };
    f.render_widget(Paragraph::new(text.to_string()), footer);
    draw_dialog(f, app, area);
}

fn style(app: &App, color: Color) -> Style {
    if app.color {
        Style::default().fg(color)
    } else {
        Style::default()
    }
}

fn header_lines(app: &App) -> Vec<Line<'static>> {
    let run = &app.run;
    let (mut files, mut ins, mut del, mut tin, mut tout, mut cost) = (0, 0, 0, 0, 0, 0.0);
    for fk in &run.forks {
        files += fk.files_changed;
        ins += fk.insertions;
        del += fk.deletions;
        if let Some(t) = &fk.tokens {
            tin += t.input;
            tout += t.output;
        }
        cost += fk.cost.unwrap_or(0.0);
    }
    let done = run.forks.iter().filter(|f| f.state.is_finished()).count();
    let base: String = run.base.chars().take(10).collect();
    let first = Line::from(vec![
        Span::styled(
            format!("run {}", run.run),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "  {}  base {base}  forks {done}/{} finished",
            run.state.as_str(),
            run.forks.len(),
        )),
    ]);
    let totals = format!(
        "files {files} +{ins} -{del}  tokens {}  cost ${cost:.2}",
        tokens(tin, tout)
    );
    let task = run
        .task
        .as_deref()
        .and_then(|t| t.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("(no shared task)");
    vec![
        first,
        Line::from(totals),
        Line::from(format!("task: {task}")),
    ]
}

fn tokens(input: u64, output: u64) -> String {
    fn short(n: u64) -> String {
        if n >= 10_000 {
            format!("{}k", n / 1000)
        } else {
            n.to_string()
        }
    }
    format!("{}/{}", short(input), short(output))
}

fn state_color(s: ForkState) -> Color {
    match s {
        ForkState::Done => Color::Green,
        ForkState::Failed | ForkState::Timeout => Color::Red,
        ForkState::Cancelled | ForkState::Interrupted => Color::Yellow,
        _ => Color::Cyan,
    }
}

fn check_text(f: &Fork) -> String {
    match &f.check {
        None => "-".into(),
        Some(c) => match c.exit_code {
            Some(0) => "ok".into(),
            Some(n) => format!("exit {n}"),
            None => "killed".into(),
        },
    }
}

fn row<'a>(app: &App, f: &'a Fork) -> Row<'a> {
    // A running fork's time so far, counting up as `status` shows it.
    let time = match (f.state, &f.started_at) {
        (ForkState::Pending, None) => "-".into(),
        _ => crate::text::duration(Duration::from_millis(
            f.elapsed_ms(time::OffsetDateTime::now_utc()),
        )),
    };
    let tok = f
        .tokens
        .as_ref()
        .map_or("-".into(), |t| tokens(t.input, t.output));
    let cost = f.cost.map_or("-".into(), |c| format!("${c:.2}"));
    let mut name = f.label();
    if f.merged {
        name.push_str(" (merged)");
    }
    if app.picking_vs.as_deref() == Some(f.name.as_str()) {
        name.push_str(" [v]");
    }
    let check_color = match f.check.as_ref().and_then(|c| c.exit_code) {
        Some(0) => Color::Green,
        _ => Color::Red,
    };
    Row::new(vec![
        Cell::from(name),
        Cell::from(f.state.as_str()).style(style(app, state_color(f.state))),
        Cell::from(time),
        Cell::from(f.tool_calls.to_string()),
        Cell::from(tok),
        Cell::from(cost),
        Cell::from(f.files_changed.to_string()),
        Cell::from(format!("+{} -{}", f.insertions, f.deletions)),
        Cell::from(check_text(f)).style(style(app, check_color)),
    ])
}

fn draw_table(f: &mut Frame, app: &App, area: Rect) {
    let header = Row::new([
        "fork", "state", "time", "tools", "tokens", "cost", "files", "+/-", "check",
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let widths = [
        Constraint::Min(10),
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(11),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(11),
        Constraint::Length(7),
    ];
    let focused = app.focus == Focus::Table;
    let table = Table::new(app.run.forks.iter().map(|fk| row(app, fk)), widths)
        .header(header)
        .block(pane("forks", focused))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(Some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}

fn pane(title: &str, focused: bool) -> Block<'_> {
    let block = Block::default().borders(Borders::ALL).title(title);
    if focused {
        block.border_style(Style::default().add_modifier(Modifier::BOLD))
    } else {
        block
    }
}

fn draw_patch(f: &mut Frame, app: &App, area: Rect) {
    let what = if app.stat { "stat" } else { "patch" };
    let title = match (&app.compare, app.selected_name()) {
        (Some((a, b)), _) => format!("{what}: {a} vs {b}"),
        (None, Some(n)) => format!("{what}: {n} vs the run's start"),
        (None, None) => what.to_string(),
    };
    let lines: Vec<Line> = app.patch.iter().map(|l| patch_line(app, l)).collect();
    let p = Paragraph::new(lines)
        .block(pane(&title, app.focus == Focus::Patch))
        .scroll((app.scroll, 0));
    f.render_widget(p, area);
}

fn patch_line<'a>(app: &App, l: &'a str) -> Line<'a> {
    let s = if l.starts_with("+++") || l.starts_with("---") || l.starts_with("diff ") {
        Style::default().add_modifier(Modifier::BOLD)
    } else if l.starts_with('+') {
        style(app, Color::Green)
    } else if l.starts_with('-') {
        style(app, Color::Red)
    } else if l.starts_with("@@") {
        style(app, Color::Cyan)
    } else {
        Style::default()
    };
    Line::styled(l, s)
}

fn draw_dialog(f: &mut Frame, app: &App, area: Rect) {
    let (title, lines): (String, Vec<String>) = match &app.dialog {
        Dialog::None => return,
        Dialog::Help => (
            "keys (any key closes)".into(),
            super::keys::HELP.iter().map(|s| s.to_string()).collect(),
        ),
        Dialog::Message { title, lines } => (format!("{title} (any key closes)"), lines.clone()),
        Dialog::ConfirmMerge { fork, lines } => (format!("merge {fork}"), lines.clone()),
        Dialog::Input { fork, text } => (
            format!("continue {fork}: type the follow-up, Enter sends, Esc cancels"),
            vec![format!("> {text}_")],
        ),
    };
    let width = area.width.saturating_sub(4).min(90);
    let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    f.render_widget(Clear, rect);
    let text: Vec<Line> = lines.into_iter().map(Line::from).collect();
    let p = Paragraph::new(text)
        .wrap(Wrap { trim: false })
        .block(Block::default().borders(Borders::ALL).title(title));
    f.render_widget(p, rect);
}
