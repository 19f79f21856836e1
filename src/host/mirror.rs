//! git on a host: one bare mirror per repository under the host's `dir`, the run's start
//! pushed there over the host's connection, the forks' worktrees made there, their work
//! committed there (pinned as here) and their branches fetched home.

use std::path::Path;

use super::{Host, HostError, quote};

const COMMIT_SCRIPT: &str = include_str!("commit.sh");
const ADD_WORKTREES_SCRIPT: &str =
    concat!(include_str!("prune.sh"), include_str!("add_worktrees.sh"));
const REMOVE_FORK_SCRIPT: &str = concat!(
    include_str!("prune.sh"),
    r#"
# $1 the mirror, $2 the fork's worktree, $3 its branch. The worktree's link is put back first
# (git refuses to remove a worktree without one), then the worktree and branch go (a worktree
# whose folder is already gone is forgotten by the prune).
prune_worktrees "$1" || exit 1
if [ -e "$2" ]; then git --git-dir="$1" worktree remove --force --force "$2" || exit 1; fi
if git --git-dir="$1" rev-parse --verify --quiet "refs/heads/$3" >/dev/null; then
  git --git-dir="$1" branch -q -D "$3"
fi
"#
);

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

/// Where [`Host::uncommitted`]'s script ends the copied list.
const COPIED_END: &str = "--ocfork-copied-end--";

/// The entries of `status --porcelain -z` after the copied list in `out` (see
/// [`Host::uncommitted`]) that are not copied files, a line each.
fn not_copied(out: &[u8]) -> String {
    let mut items = out.split(|b| *b == 0);
    let copied: Vec<&[u8]> = items
        .by_ref()
        .take_while(|p| *p != COPIED_END.as_bytes())
        .filter(|p| !p.is_empty())
        .collect();
    let lines: Vec<String> = items
        .filter(|e| e.len() > 3)
        .filter(|e| !(e.starts_with(b"?? ") && copied.contains(&&e[3..])))
        .map(|e| String::from_utf8_lossy(e).to_string())
        .collect();
    lines.join("\n")
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

    /// `git VERB -q OPTIONS... <the host's mirror> REFSPECS...` here, over the host's
    /// connection.
    async fn mirror_git(
        &self,
        workdir: &Path,
        (verb, options): (&str, &[String]),
        mirror: &str,
        refspecs: &[String],
        what: &str,
    ) -> Result<(), HostError> {
        let url = format!("ssh://ocfork-host{mirror}");
        let out = self
            .local_git(workdir)
            .args([verb, "-q"])
            .args(options)
            .arg(&url)
            .args(refspecs)
            .output()
            .await
            .map_err(|e| self.error(format!("{what}: cannot run git: {e}")))?;
        self.succeeded(what, out).map(|_| ())
    }

    /// Makes the mirror (private to the host's user) and pushes the run's start to it, in one
    /// command on the host: its receiving end makes the mirror first when there is none.
    pub async fn push_start(
        &self,
        workdir: &Path,
        common: &Path,
        run: &str,
        start: &str,
    ) -> Result<String, HostError> {
        let mirror = self.mirror(workdir, common);
        // git adds the mirror's path, quoted, as the last word ($2). The forks' work comes
        // home by the commits it was committed as (see `fetch_home`), which git's protocol
        // over ssh (v0, unless the host's sshd accepts GIT_PROTOCOL) serves only when allowed.
        // The setting is written only when missing: two runs pushing at once would race on
        // the mirror's config lock (the loser reads the winner's setting).
        let script = "umask 077; mkdir -p \"$1\" && { [ -d \"$2\" ] || git init -q --bare \"$2\"; } >&2 && \
                      { a() { git --git-dir=\"$2\" config --get uploadpack.allowAnySHA1InWant >/dev/null; }; \
                      a || git --git-dir=\"$2\" config uploadpack.allowAnySHA1InWant true || { sleep 1; a; }; } && \
                      exec git-receive-pack \"$2\"";
        let receive = format!(
            "--receive-pack=sh -c {} sh {}",
            quote(script),
            quote(&self.dir)
        );
        let refspec = format!("{start}:refs/ocfork/start/{run}");
        let what = "pushing the run's start";
        self.mirror_git(workdir, ("push", &[receive]), &mirror, &[refspec], what)
            .await?;
        Ok(mirror)
    }

    /// Makes the forks' worktrees (`(path, branch)` pairs) in one command on the host, each
    /// on its branch when the mirror has it, else on a new one at the run's start. A worktree
    /// already at its path is left as it is. For each fork in order: true when its worktree
    /// was made now, or what went wrong making it.
    pub async fn add_worktrees(
        &self,
        mirror: &str,
        start: &str,
        forks: &[(String, String)],
    ) -> Result<Vec<Result<bool, HostError>>, HostError> {
        if forks.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Vec<&str> = vec![mirror, start];
        for (path, branch) in forks {
            args.extend([path.as_str(), branch.as_str()]);
        }
        let out = self
            .sh_ok("making the worktrees", ADD_WORKTREES_SCRIPT, &args, None)
            .await?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        let results = forks
            .iter()
            .map(|_| match lines.next() {
                Some("made") => Ok(true),
                Some("kept") => Ok(false),
                Some(line) => Err(self.error(line.trim_start_matches("failed ").to_string())),
                None => Err(self.error("making the worktree: no answer from the host".into())),
            })
            .collect();
        Ok(results)
    }

    /// Commits everything in a fork's worktree to its branch on the host, unless some of its
    /// files hold `hide` (the server's password; see `commit.sh`): the branch's tip, or those
    /// files (relative to the worktree), nothing committed.
    pub(super) async fn commit_unless_held(
        &self,
        mirror: &str,
        path: &str,
        branch: &str,
        start: &str,
        message: &str,
        hide: Option<&str>,
    ) -> Result<Result<String, Vec<String>>, HostError> {
        let args = [mirror, path, branch, start];
        let input = format!("{}\n{message}", hide.unwrap_or(""));
        let what = "committing the fork's work";
        let out = self
            .sh_ok(what, COMMIT_SCRIPT, &args, Some(input.as_bytes()))
            .await?;
        match out.stdout.strip_prefix(b"held\0") {
            Some(held) => Ok(Err((held.split(|b| *b == 0))
                .filter(|p| !p.is_empty())
                .map(|p| String::from_utf8_lossy(p).to_string())
                .collect())),
            None => Ok(Ok(stdout_text(&out))),
        }
    }

    /// Pushes `branches` to the host's mirror, fast-forward only, in one git command (none
    /// when there are none): forks the host lost go on from the work that came home.
    pub async fn push_branches(
        &self,
        workdir: &Path,
        mirror: &str,
        branches: &[&str],
    ) -> Result<(), HostError> {
        if branches.is_empty() {
            return Ok(());
        }
        let refspecs: Vec<String> = (branches.iter())
            .map(|b| format!("refs/heads/{b}:refs/heads/{b}"))
            .collect();
        let (what, verb) = ("pushing the forks' branches", ("push", &[][..]));
        self.mirror_git(workdir, verb, mirror, &refspecs, what)
            .await
    }

    /// Brings forks' branches home from the host's mirror in one git command (none when there
    /// are none), each `(branch, tip)` set here to the commit its fork's work was committed
    /// as there, whatever the branch there names by now (an agent of another fork can move
    /// it), replacing the branch here.
    pub async fn fetch_home(
        &self,
        workdir: &Path,
        mirror: &str,
        forks: &[(&str, &str)],
    ) -> Result<(), HostError> {
        if forks.is_empty() {
            return Ok(());
        }
        let refspecs: Vec<String> = (forks.iter())
            .map(|(branch, tip)| format!("+{tip}:refs/heads/{branch}"))
            .collect();
        // No FETCH_HEAD to write and no maintenance to start after each fetch: the branches
        // are what is wanted.
        let options = [
            "--no-write-fetch-head",
            "--no-auto-maintenance",
            "--no-tags",
        ];
        let options = options.map(String::from);
        let what = "fetching the fork's branch";
        self.mirror_git(workdir, ("fetch", &options), mirror, &refspecs, what)
            .await
    }

    /// The commit `branch` names in the host's mirror, if any.
    pub async fn branch_tip(
        &self,
        mirror: &str,
        branch: &str,
    ) -> Result<Option<String>, HostError> {
        let tips = self.branch_tips(mirror, &[branch.to_string()]).await?;
        Ok(tips.into_iter().next().flatten())
    }

    /// The commits `branches` name in the host's mirror, in order; None for a branch it does
    /// not have. One command on the host for all of them.
    pub async fn branch_tips(
        &self,
        mirror: &str,
        branches: &[String],
    ) -> Result<Vec<Option<String>>, HostError> {
        let script = "m=$1; shift; for b in \"$@\"; do \
                      t=$(git --git-dir=\"$m\" rev-parse --verify --quiet \"refs/heads/$b^{commit}\"); \
                      echo \"${t:--}\"; done";
        let mut args: Vec<&str> = vec![mirror];
        args.extend(branches.iter().map(String::as_str));
        let out = self.sh(script, &args, None).await?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        Ok(branches
            .iter()
            .map(|_| match lines.next().map(str::trim) {
                Some("-") | Some("") | None => None,
                Some(tip) => Some(tip.to_string()),
            })
            .collect())
    }

    /// The paths a fork's worktree on the host holds that its branch does not (git's
    /// `status --porcelain`, pinned to the fork's admin directory as the commit is), but for
    /// the files ocfork copied in (listed in the admin directory, as here, and kept out of the
    /// fork's commits); empty when there is no such worktree.
    pub async fn uncommitted(&self, mirror: &str, path: &str) -> Result<String, HostError> {
        // The copied list (NUL-separated), a marker, then git's entries (NUL-separated).
        let script = "[ -e \"$2\" ] || exit 0; \
                      for a in \"$1\"/worktrees/*; do \
                      if [ \"$(cat \"$a/gitdir\" 2>/dev/null)\" = \"$2/.git\" ]; then \
                      cat \"$a/ocfork-copied\" 2>/dev/null; printf '\\0%s\\0' \"$3\"; \
                      GIT_DIR=$a GIT_WORK_TREE=$2 exec git -C \"$2\" status --porcelain -z \
                      --untracked-files=all; fi; done";
        let args = [mirror, path, COPIED_END];
        let out = self.sh_ok("reading the fork's worktree", script, &args, None);
        Ok(not_copied(&out.await?.stdout))
    }

    /// Removes a fork's worktree and branch from the host.
    pub async fn remove_fork(
        &self,
        mirror: &str,
        path: &str,
        branch: &str,
    ) -> Result<(), HostError> {
        self.sh_ok(
            "removing the fork",
            REMOVE_FORK_SCRIPT,
            &[mirror, path, branch],
            None,
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn copied_files_are_not_uncommitted_work() {
        let out = b"opencode.json\0.env\0\0--ocfork-copied-end--\0?? opencode.json\0?? notes.txt\0 M src/a.js\0";
        assert_eq!(super::not_copied(out), "?? notes.txt\n M src/a.js");
        assert_eq!(super::not_copied(b"\0--ocfork-copied-end--\0"), "");
        assert_eq!(super::not_copied(b""), "");
    }

    /// `prune_worktrees` reads a worktree's `gitdir` written relative to its admin folder
    /// (git's `worktree.useRelativePaths`) as git does: its deleted `.git` link goes back, and
    /// it is forgotten only once its folder is gone.
    #[test]
    fn the_prune_reads_relative_worktree_paths() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let t = tmp.path();
        let sh = |script: &str| {
            let out = std::process::Command::new("sh")
                .args(["-c", script, "sh"])
                .arg(t)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .output()
                .expect("sh runs");
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(out.status.success(), "{script}: {err}");
        };
        let prune = format!("{}\nprune_worktrees \"$1/m.git\"", include_str!("prune.sh"));
        sh("cd \"$1\" && git init -q -b main src \
            && git -C src -c user.name=t -c user.email=t@t commit -q --allow-empty -m x \
            && git clone -q --bare src m.git && git --git-dir=m.git worktree add -q \"$1/wt\" main \
            && echo ../../../wt/.git > m.git/worktrees/wt/gitdir && rm wt/.git");
        sh(&prune);
        let link = std::fs::read_to_string(t.join("wt/.git")).expect("the link is back");
        assert_eq!(
            link.trim(),
            format!("gitdir: {}", t.join("m.git/worktrees/wt").display())
        );
        assert!(
            t.join("m.git/worktrees/wt").is_dir(),
            "kept while its folder is there"
        );
        std::fs::remove_dir_all(t.join("wt")).expect("rm wt");
        sh(&prune);
        assert!(
            !t.join("m.git/worktrees/wt").exists(),
            "forgotten once its folder is gone"
        );
    }
}
