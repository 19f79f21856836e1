//! Files a fork needs that git does not bring, carried into its new worktree on a host as
//! here: the ignored files `.worktreeinclude` and `--copy` name (those git would ignore there
//! too) and OpenCode's untracked or ignored project config (`opencode.json`, `.opencode/`,
//! where the checkout brought none), as a tar over the host's connection, listed in the fork's
//! admin directory there so that its commits leave them out.

use std::path::Path;

use super::{Host, HostError};

impl Host {
    /// Copies into the host's `worktree` the ignored files of `main` that `.worktreeinclude`
    /// or `globs` select (warning on stderr about those git would not ignore there) and
    /// OpenCode's project config that git does not hold, each to the same place.
    pub async fn copy_in(
        &self,
        main: &Path,
        worktree: &str,
        globs: &[String],
    ) -> Result<(), HostError> {
        let (from, patterns) = (main.to_path_buf(), globs.to_vec());
        let listed = tokio::task::spawn_blocking(move || {
            use crate::git::include::{opencode_config_not_held, wanted};
            let wanted = wanted(&from, &patterns).map_err(|e| e.to_string())?;
            let config: Vec<String> = (opencode_config_not_held(&from).into_iter())
                .filter(|p| !wanted.contains(p) && !p.contains('\n'))
                .collect();
            Ok::<_, String>((wanted, config))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
        .map_err(|e| self.error(format!("cannot list the files to copy: {e}")))?;
        let (wanted, config) = listed;
        let mut copied = self.ignored_there(worktree, wanted).await?;
        copied.extend(self.missing_there(worktree, config).await?);
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

    /// Which of `wanted` git ignores in the host's `worktree` too (so the fork's commits
    /// cannot take them); a warning names the others, which are not copied.
    async fn ignored_there(
        &self,
        worktree: &str,
        wanted: Vec<String>,
    ) -> Result<Vec<String>, HostError> {
        let script = "cd \"$1\" || exit 2; git check-ignore -z --stdin; [ $? -le 1 ]";
        let what = "checking the files to copy";
        let (copied, skipped) = self.sort_out(what, script, worktree, wanted).await?;
        if !skipped.is_empty() {
            crate::text::eprint_line(format!(
                "ocfork: warning: not copied into {}:{worktree} because git would not ignore them there: {}",
                self.name(),
                skipped.join(", ")
            ));
        }
        Ok(copied)
    }

    /// Which of `paths` the host's `worktree` has nothing at (its checkout brought no such
    /// file): OpenCode's config is carried only there, as here.
    async fn missing_there(
        &self,
        worktree: &str,
        paths: Vec<String>,
    ) -> Result<Vec<String>, HostError> {
        let script = "cd \"$1\" || exit 2; tr '\\0' '\\n' | while IFS= read -r p; do \
                      [ -e \"$p\" ] || [ -h \"$p\" ] || printf '%s\\0' \"$p\"; done";
        let what = "checking OpenCode's config to copy";
        Ok(self.sort_out(what, script, worktree, paths).await?.0)
    }

    /// `paths` split into those `script` (run in `worktree`, the paths NUL-separated on its
    /// stdin) prints back NUL-separated, and the others.
    async fn sort_out(
        &self,
        what: &str,
        script: &str,
        worktree: &str,
        paths: Vec<String>,
    ) -> Result<(Vec<String>, Vec<String>), HostError> {
        if paths.is_empty() {
            return Ok((paths, Vec::new()));
        }
        let out = (self.sh_ok(what, script, &[worktree], Some(&nul_list(&paths)))).await?;
        let printed: Vec<&[u8]> = (out.stdout.split(|b| *b == 0))
            .filter(|p| !p.is_empty())
            .collect();
        Ok(paths
            .into_iter()
            .partition(|p| printed.contains(&p.as_bytes())))
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
