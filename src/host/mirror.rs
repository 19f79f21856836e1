//! git on a host: one bare mirror per repository under the host's `dir`, the run's start
//! pushed there over the host's connection, the forks' worktrees made there, their work
//! committed there (pinned as here) and their branches fetched home.

use std::path::Path;

use super::{Host, HostError, quote};

const COMMIT_SCRIPT: &str = include_str!("commit.sh");

/// The mirror's name on a host for the repository whose common git dir is `common`: its
/// folder's name and a hash of its path, so two repositories never share one.
fn mirror_name(workdir: &Path, common: &Path) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in common.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x100000001b3);
    }
    let name: String = workdir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("{name}-{:08x}.git", hash as u32)
}

/// What a command printed, trimmed.
fn stdout_text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Host {
    /// The mirror of the repository on this host.
    pub fn mirror(&self, workdir: &Path, common: &Path) -> String {
        format!("{}/{}", self.dir, mirror_name(workdir, common))
    }

    /// Where a fork's worktree goes on this host.
    pub fn worktree_path(&self, workdir: &Path, common: &Path, run: &str, fork: &str) -> String {
        let mirror = self.mirror(workdir, common);
        let stem = mirror.trim_end_matches(".git");
        format!("{stem}.worktrees/{run}/{fork}")
    }

    /// `git` here, talking to this host over its master connection.
    fn local_git(&self, workdir: &Path) -> tokio::process::Command {
        let socket = self.control_socket();
        let ssh = format!(
            "ssh -S {} -o BatchMode=yes -o ControlMaster=no",
            quote(&socket.to_string_lossy())
        );
        let mut cmd = tokio::process::Command::new("git");
        cmd.current_dir(workdir)
            .env("GIT_SSH_COMMAND", ssh)
            .env("GIT_SSH_VARIANT", "ssh")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// `git VERB -q <the host's mirror> REFSPECS...` here, over the host's connection.
    async fn mirror_git(
        &self,
        workdir: &Path,
        verb: &str,
        mirror: &str,
        refspecs: &[String],
        what: &str,
    ) -> Result<(), HostError> {
        let url = format!("ssh://ocfork-host{mirror}");
        let out = self
            .local_git(workdir)
            .args([verb, "-q", &url])
            .args(refspecs)
            .output()
            .await
            .map_err(|e| self.error(format!("{what}: cannot run git: {e}")))?;
        self.succeeded(what, out).map(|_| ())
    }

    /// Makes the mirror (private to the host's user) and pushes the run's start to it.
    pub async fn push_start(
        &self,
        workdir: &Path,
        common: &Path,
        run: &str,
        start: &str,
    ) -> Result<String, HostError> {
        let mirror = self.mirror(workdir, common);
        let script =
            "umask 077; mkdir -p \"$1\" && { [ -d \"$2\" ] || git init -q --bare \"$2\"; }";
        self.sh_ok("making the mirror", script, &[&self.dir, &mirror], None)
            .await?;
        let refspec = format!("{start}:refs/ocfork/start/{run}");
        self.mirror_git(
            workdir,
            "push",
            &mirror,
            &[refspec],
            "pushing the run's start",
        )
        .await?;
        Ok(mirror)
    }

    /// Makes a fork's worktree on its branch: the branch there when the mirror has it, else a
    /// new one at the run's start. A worktree already at `path` is left as it is; true when
    /// one was made now.
    pub async fn add_worktree(
        &self,
        mirror: &str,
        path: &str,
        branch: &str,
        start: &str,
    ) -> Result<bool, HostError> {
        let script = "umask 077; [ -e \"$2\" ] && exit 0; \
                      mkdir -p \"$(dirname \"$2\")\" && git --git-dir=\"$1\" worktree prune || exit 1; \
                      if git --git-dir=\"$1\" rev-parse --verify --quiet \"refs/heads/$3\" >/dev/null; then \
                      git --git-dir=\"$1\" worktree add -q \"$2\" \"$3\" || exit 1; \
                      else git --git-dir=\"$1\" worktree add -q -b \"$3\" \"$2\" \"$4\" || exit 1; fi; \
                      echo made";
        let out = self
            .sh_ok(
                "making the worktree",
                script,
                &[mirror, path, branch, start],
                None,
            )
            .await?;
        Ok(String::from_utf8_lossy(&out.stdout).trim() == "made")
    }

    /// Commits everything in a fork's worktree to its branch on the host; the branch's tip.
    pub async fn commit(
        &self,
        mirror: &str,
        path: &str,
        branch: &str,
        start: &str,
        message: &str,
    ) -> Result<String, HostError> {
        let args = [mirror, path, branch, start];
        let what = "committing the fork's work";
        let out = self.sh_ok(what, COMMIT_SCRIPT, &args, Some(message.as_bytes()));
        out.await.map(|o| stdout_text(&o))
    }

    /// Pushes the local `branch` to the host's mirror (a fork the host lost goes on from
    /// the work that came home).
    pub async fn push_branch(
        &self,
        workdir: &Path,
        mirror: &str,
        branch: &str,
    ) -> Result<(), HostError> {
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        self.mirror_git(
            workdir,
            "push",
            mirror,
            &[refspec],
            "pushing the fork's branch",
        )
        .await
    }

    /// Fetches `branches` from the host's mirror into the local repository.
    pub async fn fetch(
        &self,
        workdir: &Path,
        mirror: &str,
        branches: &[&str],
    ) -> Result<(), HostError> {
        let refspecs: Vec<String> = branches
            .iter()
            .map(|b| format!("+refs/heads/{b}:refs/heads/{b}"))
            .collect();
        let what = "fetching the fork's branch";
        self.mirror_git(workdir, "fetch", mirror, &refspecs, what)
            .await
    }

    /// The commit `branch` names in the host's mirror, if any.
    pub async fn branch_tip(
        &self,
        mirror: &str,
        branch: &str,
    ) -> Result<Option<String>, HostError> {
        let out = self
            .sh(
                "git --git-dir=\"$1\" rev-parse --verify --quiet \"refs/heads/$2^{commit}\"",
                &[mirror, branch],
                None,
            )
            .await?;
        let tip = stdout_text(&out);
        Ok((!tip.is_empty()).then_some(tip))
    }

    /// The paths a fork's worktree on the host holds that its branch does not (git's
    /// `status --porcelain`, pinned to the fork's admin directory as the commit is); empty
    /// when there is no such worktree.
    pub async fn uncommitted(&self, mirror: &str, path: &str) -> Result<String, HostError> {
        let script = "[ -e \"$2\" ] || exit 0; \
                      for a in \"$1\"/worktrees/*; do \
                      if [ \"$(cat \"$a/gitdir\" 2>/dev/null)\" = \"$2/.git\" ]; then \
                      GIT_DIR=$a GIT_WORK_TREE=$2 exec git -C \"$2\" status --porcelain \
                      --untracked-files=all; fi; done";
        self.sh_ok("reading the fork's worktree", script, &[mirror, path], None)
            .await
            .map(|o| stdout_text(&o))
    }

    /// Removes a fork's worktree and branch from the host.
    pub async fn remove_fork(
        &self,
        mirror: &str,
        path: &str,
        branch: &str,
    ) -> Result<(), HostError> {
        let script = "if [ -e \"$2\" ]; then git --git-dir=\"$1\" worktree remove --force --force \"$2\" || exit 1; fi; \
                      git --git-dir=\"$1\" worktree prune; \
                      if git --git-dir=\"$1\" rev-parse --verify --quiet \"refs/heads/$3\" >/dev/null; then \
                      git --git-dir=\"$1\" branch -q -D \"$3\"; fi";
        self.sh_ok("removing the fork", script, &[mirror, path, branch], None)
            .await
            .map(|_| ())
    }
}
