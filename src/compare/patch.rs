//! Reads one `git diff --raw -p -U0 -z` between two commits: the raw entries (statuses, modes,
//! blobs, paths) and, from the patch that follows them, each file's changed lines and counts.
//!
//! One git process per fork gives everything `ocfork diff` shows: the counts are those
//! `git diff --numstat` prints (both count the `+` and `-` lines of the same line diff), and
//! the changed lines feed the similarity of two forks without reading any blob.

/// One file git lists as changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The status letter: A, M, D, R, T, ...
    pub letter: u8,
    /// The path's bytes as git has them (not always UTF-8).
    pub path: Vec<u8>,
    /// The source of a rename or copy.
    pub from: Option<Vec<u8>>,
    pub new_mode: String,
    pub old_blob: String,
    pub new_blob: String,
}

/// What the patch of one entry holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hunks {
    pub insertions: u64,
    pub deletions: u64,
    pub binary: bool,
    /// The changed lines in order, each with its sign: `+line` / `-line`, line ends trimmed.
    pub lines: Vec<String>,
}

/// The raw entries and the patch bytes after them.
pub fn split(out: &[u8]) -> (Vec<Entry>, &[u8]) {
    let mut entries = Vec::new();
    let mut rest = out;
    while let Some(head) = field(rest)
        && head.starts_with(b":")
    {
        rest = &rest[head.len() + 1..];
        let head = String::from_utf8_lossy(&head[1..]).to_string();
        let parts: Vec<&str> = head.split(' ').collect();
        let [_, new_mode, old_blob, new_blob, status] = parts[..] else {
            break;
        };
        let letter = status.as_bytes().first().copied().unwrap_or(b'M');
        let paths = if matches!(letter, b'R' | b'C') { 2 } else { 1 };
        let mut names = Vec::new();
        for _ in 0..paths {
            let Some(p) = field(rest) else { break };
            rest = &rest[p.len() + 1..];
            names.push(p.to_vec());
        }
        let path = names.pop().unwrap_or_default();
        entries.push(Entry {
            letter,
            path,
            from: names.pop(),
            new_mode: new_mode.to_string(),
            old_blob: old_blob.to_string(),
            new_blob: new_blob.to_string(),
        });
    }
    // The raw part ends with an empty field before the patch.
    let patch = rest.strip_prefix(b"\0").unwrap_or(rest);
    (entries, patch)
}

/// A path as it is shown (in JSON, tables, pages): its bytes when they are UTF-8, else with
/// the others replaced by U+FFFD.
pub fn shown(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// A path as text that tells apart every two names, for the changed lines compared: its
/// bytes when they are UTF-8, else escaped (`caf\xe9.txt`).
pub fn distinct(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => raw.escape_ascii().to_string(),
    }
}

/// The NUL-terminated field at the start of `bytes`, without its NUL; None at the end.
fn field(bytes: &[u8]) -> Option<&[u8]> {
    let end = bytes.iter().position(|b| *b == 0)?;
    Some(&bytes[..end])
}

/// The patch cut at each `diff --git` header, one [`Hunks`] per cut, in git's order.
pub fn hunks(patch: &[u8]) -> Vec<Hunks> {
    let mut out: Vec<Hunks> = Vec::new();
    let mut in_hunk = false;
    for line in patch.split(|b| *b == b'\n') {
        if line.starts_with(b"diff --git ") {
            out.push(Hunks::default());
            in_hunk = false;
            continue;
        }
        let Some(file) = out.last_mut() else { continue };
        if line.starts_with(b"@@ ") {
            in_hunk = true;
            continue;
        }
        if !in_hunk {
            // Header lines: modes, renames, index, ---/+++, or a binary file's one line.
            if (line.starts_with(b"Binary files ") && line.ends_with(b" differ"))
                || line == b"GIT binary patch"
            {
                file.binary = true;
            }
            continue;
        }
        let sign = match line.first() {
            Some(b'+') => {
                file.insertions += 1;
                '+'
            }
            Some(b'-') => {
                file.deletions += 1;
                '-'
            }
            _ => continue,
        };
        let text = String::from_utf8_lossy(&line[1..]);
        file.lines
            .push(format!("{sign}{}", text.trim_end_matches('\r')));
    }
    out
}

/// Pairs each entry with its patch. A type change (file to symlink, say) is two patches, a
/// deletion and an addition, which are summed. None when the patch does not have the shape
/// the entries call for.
pub fn assign(entries: &[Entry], mut patches: Vec<Hunks>) -> Option<Vec<Hunks>> {
    let wanted: usize = entries
        .iter()
        .map(|e| if e.letter == b'T' { 2 } else { 1 })
        .sum();
    if patches.len() != wanted {
        return None;
    }
    let mut out = Vec::with_capacity(entries.len());
    let mut it = patches.drain(..);
    for e in entries {
        let mut h = it.next()?;
        if e.letter == b'T' {
            let second = it.next()?;
            h.insertions += second.insertions;
            h.deletions += second.deletions;
            h.binary |= second.binary;
            h.lines.extend(second.lines);
        }
        out.push(h);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z40: &str = "0000000000000000000000000000000000000000";

    fn raw(mode: &str, new_mode: &str, status: &str, paths: &[&str]) -> Vec<u8> {
        let mut out = format!(":{mode} {new_mode} {Z40} {Z40} {status}").into_bytes();
        for p in paths {
            out.push(0);
            out.extend_from_slice(p.as_bytes());
        }
        out.push(0);
        out
    }

    #[test]
    fn splits_entries_from_patch() {
        let mut out = raw("000000", "100644", "A", &["sp ace"]);
        out.extend(raw("100644", "100755", "R100", &["x", "z"]));
        out.extend(raw("100644", "120000", "T", &["t"]));
        out.push(0);
        out.extend_from_slice(
            b"diff --git a/sp ace b/sp ace\nnew file mode 100644\n--- /dev/null\n+++ b/sp ace\n\
              @@ -0,0 +1,2 @@\n+new\n+--- not a header\r\n\
              diff --git a/x b/z\nold mode 100644\nnew mode 100755\nsimilarity index 100%\n\
              rename from x\nrename to z\n\
              diff --git a/t b/t\ndeleted file mode 100644\n--- a/t\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n\
              diff --git a/t b/t\nnew file mode 120000\n--- /dev/null\n+++ b/t\n@@ -0,0 +1 @@\n+target\n\\ No newline at end of file\n",
        );
        let (entries, patch) = split(&out);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].path, b"sp ace");
        assert_eq!(entries[1].path, b"z");
        assert_eq!(entries[1].from.as_deref(), Some(&b"x"[..]));
        assert_eq!(entries[2].letter, b'T');
        let files = assign(&entries, hunks(patch)).expect("the patch fits the entries");
        assert_eq!(files[0].lines, ["+new", "+--- not a header"]);
        assert_eq!((files[0].insertions, files[0].deletions), (2, 0));
        assert_eq!((files[1].insertions, files[1].deletions), (0, 0));
        assert_eq!((files[2].insertions, files[2].deletions), (1, 2));
        assert_eq!(files[2].lines, ["-a", "-b", "+target"]);
    }

    #[test]
    fn notes_binary_files_and_refuses_a_mismatch() {
        let mut out = raw("100644", "100644", "M", &["logo.png"]);
        out.push(0);
        out.extend_from_slice(
            b"diff --git a/logo.png b/logo.png\nindex 1..2 100644\nBinary files a/logo.png and b/logo.png differ\n",
        );
        let (entries, patch) = split(&out);
        let files = assign(&entries, hunks(patch)).expect("fits");
        assert!(files[0].binary);
        assert!(files[0].lines.is_empty());
        assert!(assign(&entries, Vec::new()).is_none());
    }

    #[test]
    fn empty_output_has_no_entries() {
        let (entries, patch) = split(b"");
        assert!(entries.is_empty());
        assert!(hunks(patch).is_empty());
    }
}
