//! Reading many objects with one git process: `git cat-file --batch-check` (which exist) and
//! `git cat-file --batch` (their contents). Object names are `REV:PATH` in git's bytes; the
//! batch protocol is one name a line, so the rare name holding a newline is asked alone.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{GitError, Result, checked, command, git, run};

/// Whether each named object exists, in the order given.
pub fn objects_exist(dir: &Path, names: &[Vec<u8>]) -> Result<Vec<bool>> {
    let found = batch(dir, names, false)?;
    let alone = |name: &[u8]| {
        git(
            dir,
            [
                OsStr::new("cat-file"),
                OsStr::new("-e"),
                OsStr::from_bytes(name),
            ],
        )
        .is_ok()
    };
    Ok(names
        .iter()
        .zip(found)
        .map(|(name, f)| f.map_or_else(|| alone(name), |o| o.is_some()))
        .collect())
}

/// The contents of each named blob, in the order given; an error names the first that is not
/// a blob in the repository.
pub fn blobs(dir: &Path, names: &[Vec<u8>]) -> Result<Vec<Vec<u8>>> {
    let found = batch(dir, names, true)?;
    names
        .iter()
        .zip(found)
        .map(|(name, f)| match f {
            Some(Some(o)) if o.kind == "blob" => Ok(o.data),
            Some(_) => Err(GitError::NotABlob(
                String::from_utf8_lossy(name).into_owned(),
            )),
            None => {
                let args = [
                    OsStr::new("cat-file"),
                    OsStr::new("blob"),
                    OsStr::from_bytes(name),
                ];
                Ok(git(dir, args)?.stdout)
            }
        })
        .collect()
}

/// One object as `cat-file --batch` shows it (no data with `--batch-check`).
struct Object {
    kind: String,
    data: Vec<u8>,
}

/// What one `cat-file --batch` (or `--batch-check`) says of each name: Some(None) when the
/// object is missing, None for the names it was not asked (they hold a newline).
fn batch(dir: &Path, names: &[Vec<u8>], contents: bool) -> Result<Vec<Option<Option<Object>>>> {
    let asked: Vec<usize> = (0..names.len())
        .filter(|&i| !names[i].contains(&b'\n'))
        .collect();
    let mut out: Vec<Option<Option<Object>>> = names.iter().map(|_| None).collect();
    if asked.is_empty() {
        return Ok(out);
    }
    let mut input = Vec::new();
    for &i in &asked {
        input.extend_from_slice(&names[i]);
        input.push(b'\n');
    }
    let mode = if contents { "--batch" } else { "--batch-check" };
    let mut cmd = command(dir);
    cmd.args(["cat-file", mode]);
    let res = checked(
        run(cmd, Some(&input))?,
        &["cat-file".into(), mode.into()],
        dir,
    )?;
    let mut rest = res.stdout.as_slice();
    for &i in &asked {
        let (object, after) = parse_one(rest, contents).ok_or(GitError::ShortBatch { mode })?;
        out[i] = Some(object);
        rest = after;
    }
    Ok(out)
}

/// The first answer in `raw` and what follows it; None when `raw` does not hold a whole one.
fn parse_one(raw: &[u8], contents: bool) -> Option<(Option<Object>, &[u8])> {
    let end = raw.iter().position(|b| *b == b'\n')?;
    let header = String::from_utf8_lossy(&raw[..end]);
    let rest = &raw[end + 1..];
    let mut fields = header.rsplit(' ');
    let last = fields.next()?;
    if last == "missing" || last == "ambiguous" {
        return Some((None, rest));
    }
    let size: usize = last.parse().ok()?;
    let kind = fields.next()?.to_string();
    if !contents {
        return Some((
            Some(Object {
                kind,
                data: Vec::new(),
            }),
            rest,
        ));
    }
    // The contents, then a newline.
    let data = rest.get(..size)?.to_vec();
    let rest = rest.get(size + 1..)?;
    Some((Some(Object { kind, data }), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_answers_one_after_another() {
        let raw = b"aa blob 3\nab\n\nx:y missing\nbb tree 0\n\n";
        let (first, rest) = parse_one(raw, true).expect("first");
        let first = first.expect("found");
        assert_eq!(
            (first.kind.as_str(), first.data.as_slice()),
            ("blob", &b"ab\n"[..])
        );
        let (second, rest) = parse_one(rest, true).expect("second");
        assert!(second.is_none());
        let (third, rest) = parse_one(rest, true).expect("third");
        assert_eq!(third.expect("found").kind, "tree");
        assert!(rest.is_empty());
        // Cut short: not a whole answer.
        assert!(parse_one(b"aa blob 3\nab", true).is_none());
    }
}
