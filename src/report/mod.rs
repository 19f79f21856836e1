//! The HTML comparison report: one self-contained page (inline CSS, no scripts, nothing
//! fetched) with a run's table and every fork's changes as side-by-side diffs, forks that
//! touched the same file next to each other. Everything taken from files, prompts and errors
//! is HTML-escaped (maud escapes by default; syntect escapes what it colours).

mod highlight;
mod verdict;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use similar::{DiffTag, TextDiff};

use crate::git::{GitError, git};
use crate::state::{Fork, Run};

/// Files larger than this are listed but not shown.
const MAX_SHOWN_BYTES: usize = 1024 * 1024;
/// Unchanged lines kept around each change.
const CONTEXT: usize = 3;

/// One file a fork changed, with both sides' text when it is text.
#[derive(Debug)]
pub struct FileChange {
    /// The path as shown (non-UTF-8 bytes replaced).
    pub path: String,
    /// The path's bytes as git has them: what tells two files apart.
    pub raw_path: Vec<u8>,
    /// `added`, `modified`, `deleted` or `renamed`.
    pub status: &'static str,
    pub old_path: Option<String>,
    pub content: Content,
}

#[derive(Debug)]
pub enum Content {
    Text { old: String, new: String },
    Binary,
    TooLarge,
}

/// The changes of every fork that has a commit, keyed by fork name.
pub fn collect(repo_dir: &Path, run: &Run) -> Result<BTreeMap<String, Vec<FileChange>>, GitError> {
    let mut out = BTreeMap::new();
    for fork in &run.forks {
        let Some(commit) = &fork.commit else { continue };
        out.insert(fork.name.clone(), changes(repo_dir, &run.start, commit)?);
    }
    Ok(out)
}

/// A gitlink's mode: a nested repository's commit (a submodule), which has no file content.
const GITLINK: &[u8] = b"160000";

/// One side of a changed entry: its mode and object id, as `git diff --raw` gives them.
struct Side<'a> {
    mode: &'a [u8],
    id: &'a [u8],
}

impl Side<'_> {
    /// Its content as `git diff` shows it: a gitlink is `Subproject commit <id>`, a file its
    /// blob (read later, with the others).
    fn subproject(&self) -> Option<Vec<u8>> {
        (self.mode == GITLINK).then(|| [b"Subproject commit ", self.id, b"\n"].concat())
    }
}

fn changes(dir: &Path, from: &str, to: &str) -> Result<Vec<FileChange>, GitError> {
    let args = ["diff", "--raw", "--no-abbrev", "-z", "-M", from, to, "--"];
    let out = git(dir, args)?;
    // Paths stay git's bytes (not always UTF-8) until they are shown. Each entry is
    // `:MODE MODE ID ID STATUS`, then its path (two for a rename or copy).
    let mut fields = out.stdout.split(|b| *b == 0);
    let mut entries = Vec::new();
    while let Some(meta) = fields.next() {
        let meta: Vec<&[u8]> = meta
            .strip_prefix(b":")
            .unwrap_or(meta)
            .split(|b| *b == b' ')
            .collect();
        let [old_mode, new_mode, old_id, new_id, code] = meta[..] else {
            continue;
        };
        let mut next = || fields.next().unwrap_or_default();
        let (status, old_path, path) = match code.first() {
            Some(b'R') | Some(b'C') => {
                let old = next();
                ("renamed", Some(old), next())
            }
            Some(b'A') => ("added", None, next()),
            Some(b'D') => ("deleted", None, next()),
            _ => ("modified", None, next()),
        };
        let old = (status != "added").then_some(Side {
            mode: old_mode,
            id: old_id,
        });
        let new = (status != "deleted").then_some(Side {
            mode: new_mode,
            id: new_id,
        });
        entries.push((status, old_path, path, old, new));
    }
    // The files of both sides, read with one git process; gitlinks are not in this
    // repository's objects.
    let mut names = Vec::new();
    for (.., old, new) in &entries {
        for side in [old, new].into_iter().flatten() {
            if side.mode != GITLINK {
                names.push(side.id.to_vec());
            }
        }
    }
    let mut blobs = crate::git::blobs(dir, &names)?.into_iter();
    let mut read = |side: Option<Side>| side.and_then(|s| s.subproject().or_else(|| blobs.next()));
    let mut files = Vec::new();
    for (status, old_path, path, old, new) in entries {
        let (old, new) = (read(old), read(new));
        let shown = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
        files.push(FileChange {
            path: shown(path),
            raw_path: path.to_vec(),
            status,
            old_path: old_path.map(shown),
            content: content(old, new),
        });
    }
    Ok(files)
}

fn content(old: Option<Vec<u8>>, new: Option<Vec<u8>>) -> Content {
    let old = old.unwrap_or_default();
    let new = new.unwrap_or_default();
    if old.len() > MAX_SHOWN_BYTES || new.len() > MAX_SHOWN_BYTES {
        return Content::TooLarge;
    }
    let text = |b: Vec<u8>| {
        if b.iter().take(8000).any(|c| *c == 0) {
            None
        } else {
            String::from_utf8(b).ok()
        }
    };
    match (text(old), text(new)) {
        (Some(old), Some(new)) => Content::Text { old, new },
        _ => Content::Binary,
    }
}

/// The whole page.
pub fn render(run: &Run, changes: &BTreeMap<String, Vec<FileChange>>) -> String {
    // Every file any fork touched, with the forks (in run order) that touched it.
    // Keyed by the path's bytes: two names shown alike are still two files.
    let mut by_file: BTreeMap<&[u8], Vec<(&Fork, &FileChange)>> = BTreeMap::new();
    for fork in &run.forks {
        for change in changes.get(&fork.name).into_iter().flatten() {
            by_file
                .entry(&change.raw_path)
                .or_default()
                .push((fork, change));
        }
    }
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "ocfork run " (run.run) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { "Run " code { (run.run) } " " span class={"state " (run.state.as_str())} { (run.state.as_str()) } }
                    p class="meta" {
                        "base " code { (crate::git::short_id(&run.base)) } " · started " (run.created_at)
                        " · " (run.forks.len()) " fork" @if run.forks.len() != 1 { "s" }
                    }
                    @if let Some(task) = &run.task { pre class="task" { (task) } }
                }
                (verdict::section(run))
                (table(run))
                h2 { "Changes by file" }
                @if by_file.is_empty() { p class="none" { "No fork changed any file." } }
                @for (raw, touched) in &by_file {
                    @let path = String::from_utf8_lossy(raw);
                    section class="file" id={"file-" (path)} {
                        h3 {
                            code { (path) }
                            span class="who" {
                                " changed by " (touched.iter().map(|(f, _)| f.name.as_str()).collect::<Vec<_>>().join(", "))
                            }
                        }
                        div class="forks" {
                            @for (fork, change) in touched { (fork_diff(fork, change)) }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

fn table(run: &Run) -> Markup {
    html! {
        table class="runs" {
            thead { tr {
                th { "Fork" } th { "State" } th { "Model" } th { "Check" } th { "Time" }
                th { "Tokens in/out" } th { "Files" } th { "+/-" } th { "Error" }
            } }
            tbody {
                @for f in &run.forks {
                    tr class={"fork " (f.state.as_str())} {
                        td { code class="name" { (f.label()) } br; small { (f.branch) } }
                        td { span class={"state " (f.state.as_str())} { (f.state.as_str()) } }
                        td { (f.model.as_deref().unwrap_or("default")) br; small { (f.agent) } }
                        td { (check_cell(f)) }
                        td class="num" { (crate::text::duration(Duration::from_millis(f.duration_ms))) }
                        td class="num" {
                            @match &f.tokens {
                                Some(t) => { (t.input) " / " (t.output) }
                                None => { "-" }
                            }
                        }
                        td class="num" { (f.files_changed) }
                        td class="num" { span class="ins" { "+" (f.insertions) } " " span class="del" { "-" (f.deletions) } }
                        td class="error" { (f.error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

fn check_cell(f: &Fork) -> Markup {
    let cell = crate::state::check_cell(f.check.as_ref());
    match &f.check {
        None => html! { (cell) },
        Some(c) => {
            let class = if c.exit_code == Some(0) {
                "pass"
            } else {
                "fail"
            };
            html! { span class=(class) title=(c.command) { (cell) } }
        }
    }
}

fn fork_diff(fork: &Fork, change: &FileChange) -> Markup {
    html! {
        div class="fork-diff" data-fork=(fork.name) {
            h4 {
                code class="name" { (fork.name) } " "
                span class={"status " (change.status)} { (change.status) }
                @if let Some(old) = &change.old_path { " from " code { (old) } }
            }
            @match &change.content {
                Content::Binary => p class="none" { "Binary file." },
                Content::TooLarge => p class="none" { "Too large to show." },
                Content::Text { old, new } => (side_by_side(&change.path, old, new)),
            }
        }
    }
}

/// A two-column diff of `old` and `new`, hunks with a few lines of context.
fn side_by_side(path: &str, old: &str, new: &str) -> Markup {
    let old_lines = highlight::lines(path, old);
    let new_lines = highlight::lines(path, new);
    let diff = TextDiff::from_lines(old, new);
    let groups = diff.grouped_ops(CONTEXT);
    let cell = |lines: &[String], i: Option<usize>, kind: &str| -> Markup {
        match i {
            Some(i) => html! {
                td class={"ln " (kind)} { (i + 1) }
                td class={"code " (kind)} { (PreEscaped(lines.get(i).map(String::as_str).unwrap_or(""))) }
            },
            None => html! { td class="ln empty" {} td class="code empty" {} },
        }
    };
    html! {
        @if groups.is_empty() { p class="none" { "No line changes (mode or rename only)." } }
        @else {
            table class="diff" {
                colgroup { col class="ln"; col; col class="ln"; col; }
                @for (n, group) in groups.iter().enumerate() {
                    @if n > 0 { tr class="gap" { td colspan="4" { "⋯" } } }
                    @for op in group {
                        @let (tag, o, nw) = op.as_tag_tuple();
                        @let rows = o.len().max(nw.len());
                        @for k in 0..rows {
                            @let oi = (k < o.len()).then(|| o.start + k);
                            @let ni = (k < nw.len()).then(|| nw.start + k);
                            @let (ok, nk) = match tag { DiffTag::Equal => ("eq", "eq"), _ => ("del", "ins") };
                            tr { (cell(&old_lines, oi, ok)) (cell(&new_lines, ni, nk)) }
                        }
                    }
                }
            }
        }
    }
}

const CSS: &str = r#"
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:0 0 8px}h4{font-size:13px;margin:0 0 6px}
code,pre,.diff{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.meta{color:#59636e;margin:0 0 8px}
pre.task{background:#f6f8fa;border:1px solid #d1d9e0;border-radius:6px;padding:8px 12px;white-space:pre-wrap;margin:0 0 16px}
table.runs{border-collapse:collapse;width:100%}
table.runs th,table.runs td{border-bottom:1px solid #d1d9e0;padding:6px 10px;text-align:left;vertical-align:top}
table.runs th{background:#f6f8fa;font-weight:600}
td.num{text-align:right;white-space:nowrap}td.error{color:#b42318;max-width:360px;overflow-wrap:anywhere}
small{color:#59636e}
.state{border-radius:10px;padding:1px 8px;font-size:12px;background:#eaeef2}
.state.done{background:#dafbe1;color:#116329}.state.failed,.state.timeout,.state.cancelled,.state.interrupted{background:#ffebe9;color:#b42318}
.state.running,.state.setup,.state.checking,.state.pending{background:#fff8c5;color:#7d4e00}
.pass{color:#116329;font-weight:600}.fail{color:#b42318;font-weight:600}
.ins{color:#116329}.del{color:#b42318}
section.file{border:1px solid #d1d9e0;border-radius:8px;padding:12px;margin:0 0 16px}
.who{color:#59636e;font-weight:normal;font-size:13px}
.forks{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:12px}
.fork-diff{min-width:0;border:1px solid #eaeef2;border-radius:6px;padding:8px;overflow-x:auto}
.status{font-size:11px;border-radius:4px;padding:0 6px;background:#eaeef2;font-weight:normal}
.status.added{background:#dafbe1}.status.deleted{background:#ffebe9}
table.diff{border-collapse:collapse;width:100%;table-layout:fixed;font-size:12px}
table.diff col.ln{width:3.2em}
table.diff td{padding:0 6px;vertical-align:top}
td.code{white-space:pre-wrap;overflow-wrap:anywhere}
td.ln{color:#8c959f;text-align:right;user-select:none}
td.del{background:#ffebe9}td.ins{background:#dafbe1}td.empty{background:#f6f8fa}
tr.gap td{color:#8c959f;text-align:center;background:#f6f8fa}
.none{color:#59636e;font-style:italic}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_by_side_escapes_and_pairs_lines() {
        let html = side_by_side("notes.zzz", "a\n<b>\nc\n", "a\n<i>&\nc\nd\n").into_string();
        assert!(!html.contains("<b>") && !html.contains("<i>"), "{html}");
        assert!(html.contains("&lt;i&gt;&amp;"), "{html}");
        assert!(html.contains("class=\"code del\"") && html.contains("class=\"code ins\""));
    }
}
