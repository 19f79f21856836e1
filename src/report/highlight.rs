//! Syntax colouring of whole files, one HTML fragment per line, with syntect's bundled
//! syntaxes and themes (no network, no files). Text is HTML-escaped by syntect.

use std::sync::OnceLock;

use syntect::easy::HighlightLines;
use syntect::highlighting::{Theme, ThemeSet};
use syntect::html::{IncludeBackground, styled_line_to_highlighted_html};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

/// Files larger than this are shown without colour: highlighting them would take too long.
const MAX_BYTES: usize = 256 * 1024;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn theme() -> Option<&'static Theme> {
    static THEMES: OnceLock<ThemeSet> = OnceLock::new();
    THEMES
        .get_or_init(ThemeSet::load_defaults)
        .themes
        .get("InspiredGitHub")
}

/// Every line of `text` as escaped HTML, coloured by the syntax `path`'s extension names.
/// Lines carry no trailing newline.
pub fn lines(path: &str, text: &str) -> Vec<String> {
    colour(path, text).unwrap_or_else(|| {
        text.lines()
            .map(|l| maud::html! { (l) }.into_string())
            .collect()
    })
}

fn colour(path: &str, text: &str) -> Option<Vec<String>> {
    if text.len() > MAX_BYTES {
        return None;
    }
    let set = syntaxes();
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map_or(name, |(_, e)| e);
    let syntax = set
        .find_syntax_by_extension(ext)
        .or_else(|| set.find_syntax_by_extension(name))?;
    let mut h = HighlightLines::new(syntax, theme()?);
    let mut out = Vec::new();
    for line in LinesWithEndings::from(text) {
        let regions = h.highlight_line(line, set).ok()?;
        let trimmed: Vec<_> = regions
            .into_iter()
            .map(|(style, t)| (style, t.trim_end_matches(['\n', '\r'])))
            .filter(|(_, t)| !t.is_empty())
            .collect();
        out.push(styled_line_to_highlighted_html(&trimmed, IncludeBackground::No).ok()?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_colours() {
        let lines = lines("a.js", "let s = '<script>&';\nx\n");
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("&lt;script&gt;&amp;"), "{}", lines[0]);
        assert!(lines[0].contains("<span style="), "{}", lines[0]);
        assert!(!lines[0].contains('\n'));
        let plain = super::lines("notes.unknownext", "<b>\n");
        assert_eq!(plain, vec!["&lt;b&gt;".to_string()]);
    }
}
