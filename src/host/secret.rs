//! The OpenCode server's password kept out of what ocfork commits on a host, as
//! [`crate::git::hide_secret`] keeps it out here: agents' shell commands there see it too.
//! It goes to the host only on stdin, never in argv or a file.

use super::{Host, HostError};

/// The host said files held the password when it was not asked to look.
const UNASKED: &str =
    "committing the fork's work: the host found files holding a password it was not given";

impl Host {
    /// Commits everything in a fork's worktree to its branch on the host, as
    /// [`Host::commit_unless_held`], after replacing `secret` in the new and changed regular
    /// files that hold it with [`crate::git::SECRET_MARK`]. Returns the branch's tip and the
    /// files changed, relative to the worktree: one command on the host when none holds it.
    pub async fn commit(
        &self,
        mirror: &str,
        path: &str,
        fork: (&str, &str),
        message: &str,
        secret: Option<&str>,
    ) -> Result<(String, Vec<String>), HostError> {
        let (branch, start) = fork;
        // A password too short to look for, or on more than one line, is not looked for.
        let secret = secret.filter(|s| s.len() >= 8 && !s.contains('\n'));
        let first = self.commit_unless_held(mirror, path, branch, start, message, secret);
        let holding = match (first.await?, secret) {
            (Ok(tip), _) => return Ok((tip, Vec::new())),
            (Err(holding), Some(secret)) => (holding, secret),
            (Err(_), None) => return Err(self.error(UNASKED.into())),
        };
        let changed = self.hide_in(path, holding.0, holding.1).await?;
        let again = self.commit_unless_held(mirror, path, branch, start, message, None);
        match again.await? {
            Ok(tip) => Ok((tip, changed)),
            Err(_) => Err(self.error(UNASKED.into())),
        }
    }

    /// Replaces `secret` in the files `holding` of the worktree at `path`; those changed.
    async fn hide_in(
        &self,
        path: &str,
        holding: Vec<String>,
        secret: &str,
    ) -> Result<Vec<String>, HostError> {
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
