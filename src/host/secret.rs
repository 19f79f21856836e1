//! The OpenCode server's password kept out of what ocfork commits on a host, as
//! [`crate::git::hide_secret`] keeps it out here: agents' shell commands there see it too.
//! It goes to the host only on stdin, never in argv or a file.

use super::{Host, HostError};

/// Prints those of the worktree's new and changed regular files (not symlinks, not deleted
/// ones) that hold the password, read from stdin, NUL-separated: git is asked through the
/// fork's own admin directory (found from the mirror, as `commit.sh` does). The password
/// reaches `grep` through a pipe from the shell's own `printf`, never argv. $1 mirror,
/// $2 worktree.
const HOLDING: &str = r#"set -e
M=$1 W=$2
IFS= read -r OCFORK_HIDE || [ -n "$OCFORK_HIDE" ]
export OCFORK_HIDE
admin=
for a in "$M"/worktrees/*; do
  if [ "$(cat "$a/gitdir" 2>/dev/null)" = "$W/.git" ]; then admin=$a; break; fi
done
[ -n "$admin" ] || { echo "$W is not a worktree of $M" >&2; exit 1; }
cd "$W"
list="$admin/ocfork-changed"
GIT_DIR="$admin" GIT_WORK_TREE="$W" GIT_OPTIONAL_LOCKS=0 \
  git ls-files -z --modified --others --exclude-standard > "$list"
status=0
xargs -0 -r sh -c '
    for f do
      shift
      if [ -f "$f" ] && [ ! -h "$f" ]; then set -- "$@" "$f"; fi
    done
    [ $# -gt 0 ] || exit 0
    printf "%s\n" "$OCFORK_HIDE" | grep -lZF -f - -- "$@"
    [ $? -le 1 ]' sh < "$list" || status=$?
rm -f "$list"
exit $status
"#;

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
        let pattern = format!("{secret}\n");
        let what = "looking for the server's password";
        let out = self
            .sh_ok(what, HOLDING, &[mirror, path], Some(pattern.as_bytes()))
            .await?;
        let holding: Vec<String> = (out.stdout.split(|b| *b == 0))
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).to_string())
            .collect();
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
