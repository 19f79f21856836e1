//! Plain-text pieces every view shares: short durations, left-aligned columns, a fork's
//! check result as one cell, and text from tasks, agents and files made safe for a terminal.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

/// A short human duration: `850ms`, `12.3s`, `4m05s`, `1h02m`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// Lays out rows in left-aligned columns two spaces apart, each line after `indent` and
/// without trailing blanks; control characters in a cell are written out (see
/// [`escape_controls`]) before the columns are measured.
pub fn columns(rows: &[Vec<String>], indent: &str) -> String {
    columns_painted(rows, indent, |_, _, _| None)
}

/// [`columns`], each cell for which `paint(row, column, cell)` names an SGR code (`"32"`) in
/// that colour; widths are measured without the colour codes, so columns line up either way.
pub fn columns_painted(
    rows: &[Vec<String>],
    indent: &str,
    paint: impl Fn(usize, usize, &str) -> Option<&'static str>,
) -> String {
    let rows: Vec<Vec<Cow<'_, str>>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| escape_controls(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(old) => *old = (*old).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for (r, row) in rows.iter().enumerate() {
        let mut line = indent.to_string();
        for (c, (cell, w)) in row.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w.saturating_sub(cell.chars().count()) + 2);
            match paint(r, c, cell) {
                Some(code) if !cell.is_empty() => {
                    line.push_str(&format!("\x1b[{code}m{cell}\x1b[0m{pad}"))
                }
                _ => line.push_str(&format!("{cell}{pad}")),
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `text` with every control character but newline and tab written out (`\x1b`, `\r`,
/// `\u{9b}`), so that text from a task, an agent, a model's error or a file name cannot move
/// the cursor, recolour the terminal or set its title. For human output only: JSON and commit
/// trees keep the text as it is.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.contains(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Writes one line of progress or warning to stderr, control characters escaped (see
/// [`escape_controls`]): for messages that carry an agent's, a task's or a file's text.
pub fn eprint_line(text: impl AsRef<str>) {
    eprintln!("{}", escape_controls(text.as_ref()));
}

/// A word as a POSIX shell reads it back.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `text` as a commit message can hold it: git refuses a NUL in one, and `git log` shows the
/// rest as it is, so control characters are written out as on the terminal; CRLF line ends
/// become plain ones.
pub fn commit_text(text: &str) -> String {
    escape_controls(&text.replace("\r\n", "\n")).into_owned()
}

/// The first non-blank line of `text`, control characters escaped, cut to `max` characters
/// with an ellipsis: a task or an error as one cell of a table.
pub fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let line = escape_controls(line);
    if line.chars().count() <= max {
        return line.into_owned();
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The first non-blank line of `text` as a commit subject: cut to `max` characters at the end
/// of a word, with an ellipsis, so no word is cut in two.
pub fn subject(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() <= max {
        return line.to_string();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    let at_word = match line.chars().nth(cut.chars().count()) {
        Some(next) if next.is_whitespace() => cut.len(),
        _ => cut.rfind(char::is_whitespace).unwrap_or(cut.len()),
    };
    format!("{}…", cut[..at_word].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        assert_eq!(duration(Duration::from_millis(850)), "850ms");
        assert_eq!(duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h02m");
    }

    #[test]
    fn columns_align_and_trim() {
        let rows = vec![
            vec!["A".to_string(), "long cell".into(), "x".into()],
            vec!["bbb".to_string(), "b".into(), String::new()],
        ];
        assert_eq!(columns(&rows, "  "), "  A    long cell  x\n  bbb  b\n");
    }

    #[test]
    fn controls_are_written_out() {
        assert_eq!(escape_controls("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(
            escape_controls("\x1b]0;t\x07a\r\0\u{9b}\x7f"),
            "\\x1b]0;t\\x07a\\r\\x00\\u{9b}\\x7f"
        );
    }

    #[test]
    fn first_lines_are_cut() {
        assert_eq!(first_line("\n  \nab\ncd", 5), "ab");
        assert_eq!(first_line("abcdef", 4), "abc…");
        assert_eq!(subject("add a store for todos", 14), "add a store…");
        assert_eq!(subject("add a store", 14), "add a store");
        assert_eq!(subject("abcdefghijklmnop", 6), "abcde…");
        assert_eq!(first_line("\x1b[2J", 20), "\\x1b[2J");
    }
}
