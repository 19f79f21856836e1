//! Ignored files a fork needs (`.worktreeinclude`, `--copy`) carried into its new worktree on
//! a host: the files git would ignore there too, as a tar over the host's connection, listed
//! in the fork's admin directory there so that its commits leave them out, as here.

use std::path::Path;

use super::{Host, HostError};

impl Host {
    /// Copies the ignored files of `main` that `.worktreeinclude` or `globs` select into the
    /// same place in the host's `worktree`, warning on stderr about those git would not ignore
    /// there.
    pub async fn copy_in(
        &self,
        main: &Path,
        worktree: &str,
        globs: &[String],
    ) -> Result<(), HostError> {
        let (from, patterns) = (main.to_path_buf(), globs.to_vec());
        let wanted = tokio::task::spawn_blocking(move || {
            crate::git::include::wanted(&from, &patterns).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
        .map_err(|e| self.error(format!("cannot list the files to copy: {e}")))?;
        if wanted.is_empty() {
            return Ok(());
        }
        // Only what git ignores in the worktree too, so the fork's commits cannot take it.
        let script = "cd \"$1\" || exit 2; git check-ignore -z --stdin; [ $? -le 1 ]";
        let out = self
            .sh_ok(
                "checking the files to copy",
                script,
                &[worktree],
                Some(&nul_list(&wanted)),
            )
            .await?;
        let ignored: Vec<&[u8]> = out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .collect();
        let (copied, skipped): (Vec<String>, Vec<String>) = wanted
            .into_iter()
            .partition(|p| ignored.contains(&p.as_bytes()));
        if !skipped.is_empty() {
            crate::text::eprint_line(format!(
                "ocfork: warning: not copied into {}:{worktree} because git would not ignore them there: {}",
                self.name(),
                skipped.join(", ")
            ));
        }
        if copied.is_empty() {
            return Ok(());
        }
        let list = nul_list(&copied);
        let archive = tar(main, &list)
            .await
            .map_err(|e| self.error(format!("cannot pack the files to copy: {e}")))?;
        self.sh_ok(
            "copying the files",
            "cd \"$1\" && tar -x -f -",
            &[worktree],
            Some(&archive),
        )
        .await?;
        let script = "cd \"$1\" && d=$(git rev-parse --path-format=absolute --git-dir) && \
                      umask 077 && cat > \"$d/ocfork-copied\"";
        self.sh_ok("listing the copied files", script, &[worktree], Some(&list))
            .await
            .map(|_| ())
    }
}

fn nul_list(paths: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in paths {
        out.extend_from_slice(p.as_bytes());
        out.push(0);
    }
    out
}

/// A tar of the NUL-separated `list` of paths under `dir`, by the local `tar`.
async fn tar(dir: &Path, list: &[u8]) -> Result<Vec<u8>, String> {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new("tar")
        .arg("-c")
        .arg("-f")
        .arg("-")
        .arg("-C")
        .arg(dir)
        .args(["--null", "--no-recursion", "-T", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin for tar")?;
    let input = list.to_vec();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
    });
    let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
    let _ = writer.await;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}
