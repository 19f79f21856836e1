//! Plain-text pieces every view shares: short durations, left-aligned columns, and a fork's
//! check result as one cell.

use std::time::Duration;

use crate::state::Check;

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
/// without trailing blanks.
pub fn columns(rows: &[Vec<String>], indent: &str) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(old) => *old = (*old).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = indent.to_string();
        for (cell, w) in row.iter().zip(&widths) {
            line.push_str(&format!("{cell:<w$}  "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A fork's check as one cell: `-` (none ran), `pass`, `fail(2)`, or `fail` (killed).
pub fn check_cell(check: Option<&Check>) -> String {
    match check.map(|c| c.exit_code) {
        None => "-".into(),
        Some(Some(0)) => "pass".into(),
        Some(Some(code)) => format!("fail({code})"),
        Some(None) => "fail".into(),
    }
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
}
