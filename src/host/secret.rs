//! The OpenCode server's password kept out of what ocfork commits on a host, as
//! [`crate::git::hide_secret`] keeps it out here: agents' shell commands there see it too.
//! It goes to the host only on stdin, never in argv or a file.

use super::{Host, HostError};

/// Prints the worktree's new and changed files, NUL-separated, asking git through the fork's
/// own admin directory (found from the mirror, as `commit.sh` does). $1 mirror, $2 worktree.
const CHANGED: &str = r#"set -e
M=$1 W=$2
admin=
for a in "$M"/worktrees/*; do
  if [ "$(cat "$a/gitdir" 2>/dev/null)" = "$W/.git" ]; then admin=$a; break; fi
done
[ -n "$admin" ] || { echo "$W is not a worktree of $M" >&2; exit 1; }
cd "$W"
GIT_DIR="$admin" GIT_WORK_TREE="$W" GIT_OPTIONAL_LOCKS=0 \
  git ls-files -z --modified --others --exclude-standard
"#;

/// Of the files named after $1 (the worktree), those holding the pattern on stdin.
const HOLDING: &str = r#"cd "$1" && shift && grep -lZF -f - -- "$@"; [ $? -le 1 ]"#;

/// Files given at once to one `grep` (argv stays short).
const CHUNK: usize = 200;

impl Host {
    /// Replaces `secret` in the new and changed regular files of the fork's worktree at
    /// `path` with [`crate::git::SECRET_MARK`]. Returns the files changed, relative to it.
    pub async fn hide_secret(
        &self,
        mirror: &str,
        path: &str,
        secret: &str,
    ) -> Result<Vec<String>, HostError> {
        if secret.len() < 8 {
            return Ok(Vec::new());
        }
        let out = self
            .sh_ok("listing the fork's changes", CHANGED, &[mirror, path], None)
            .await?;
        let files: Vec<String> = out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).to_string())
            .collect();
        let pattern = format!("{secret}\n");
        let mut holding = Vec::new();
        for chunk in files.chunks(CHUNK) {
            let mut args = vec![path];
            args.extend(chunk.iter().map(String::as_str));
            let out = self
                .sh_ok(
                    "looking for the server's password",
                    HOLDING,
                    &args,
                    Some(pattern.as_bytes()),
                )
                .await?;
            holding.extend(
                out.stdout
                    .split(|b| *b == 0)
                    .filter(|p| !p.is_empty())
                    .map(|p| String::from_utf8_lossy(p).to_string()),
            );
        }
        let mut changed = Vec::new();
        for rel in holding {
            let file = format!("{path}/{rel}");
            // Only a regular file is rewritten (never what a symlink points to).
            let read = "[ -f \"$1\" ] && [ ! -L \"$1\" ] && cat -- \"$1\"";
            let Ok(out) = self.sh(read, &[&file], None).await else {
                continue;
            };
            if !out.status.success() {
                continue;
            }
            let Some(clean) = replaced(&out.stdout, secret.as_bytes()) else {
                continue;
            };
            self.sh_ok(
                "taking the server's password out of a file",
                "cat > \"$1\"",
                &[&file],
                Some(&clean),
            )
            .await?;
            changed.push(rel);
        }
        Ok(changed)
    }
}

/// `bytes` with every `needle` replaced by the mark; None when it holds none.
fn replaced(bytes: &[u8], needle: &[u8]) -> Option<Vec<u8>> {
    if needle.is_empty() || !bytes.windows(needle.len()).any(|w| w == needle) {
        return None;
    }
    let mark = crate::git::SECRET_MARK.as_bytes();
    let mut clean = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(i) = rest.windows(needle.len()).position(|w| w == needle) {
        clean.extend_from_slice(&rest[..i]);
        clean.extend_from_slice(mark);
        rest = &rest[i + needle.len()..];
    }
    clean.extend_from_slice(rest);
    Some(clean)
}

#[cfg(test)]
mod tests {
    use super::replaced;

    #[test]
    fn every_occurrence_is_replaced() {
        let mark = crate::git::SECRET_MARK;
        assert_eq!(
            replaced(b"a=pw12345678 b=pw12345678\n", b"pw12345678"),
            Some(format!("a={mark} b={mark}\n").into_bytes())
        );
        assert_eq!(replaced(b"nothing here", b"pw12345678"), None);
    }
}
