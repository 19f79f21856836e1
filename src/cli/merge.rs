//! `ocfork merge`: bring a finished fork into the current branch of the tree the user is in,
//! as one squashed commit or a merge commit, after checking, without touching anything, that
//! it neither conflicts nor overwrites uncommitted work.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{CmdResult, CommandError};
use crate::compare::fork_tip;
use crate::git::{MergeTree, Repo};
use crate::state::{ForkRef, ForkState, Store};

/// Bring a fork into the current branch: one squashed commit (default) or a merge commit.
///
/// Refuses, changing nothing, when the fork has not finished, when the merge would conflict
/// (the conflicting files are listed), or when the files it would write hold uncommitted
/// changes. Uncommitted changes in other files are left as they are.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  ocfork merge redux                      one commit with the changes of fork `redux`
  ocfork merge todo-store/redux --merge   a merge commit keeping the fork's commit
  ocfork merge redux --dry-run
  ocfork merge --best                     the fork `ocfork judge` ranked first")]
pub struct MergeArgs {
    /// The fork: FORK (latest run) or RUN/FORK; with --best, the run (default: the latest)
    #[arg(value_name = "REF", required_unless_present = "best", add = super::completions::forks())]
    reference: Option<String>,
    /// Merge the fork the run's verdict (`ocfork judge`) ranks first
    #[arg(long)]
    best: bool,
    /// One new commit on the current branch holding the fork's changes (the default)
    #[arg(long, conflicts_with = "merge")]
    squash: bool,
    /// A merge commit whose second parent is the fork's commit
    #[arg(long)]
    merge: bool,
    /// The commit message (default: names the run, the fork and its prompt)
    #[arg(short = 'm', long, value_name = "TEXT")]
    message: Option<String>,
    /// Say what would happen and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Skip your pre-commit and commit-msg hooks for the commit, as `git commit --no-verify`
    #[arg(long)]
    no_verify: bool,
}

pub async fn cmd_merge(args: MergeArgs) -> CmdResult {
    let (repo, store) = super::repo_and_store()?;
    let reference = match (args.best, &args.reference) {
        (true, run) => super::judge::best_ref(&store, run.as_deref())?,
        (false, Some(r)) => r.clone(),
        (false, None) => return Err(CommandError::usage("name the fork to merge, or use --best")),
    };
    let fork = store.resolve_fork(&reference)?;
    let name = fork.qualified();
    let f = fork.fork();
    if !f.state.is_finished() {
        return Err(CommandError::failure(format!(
            "fork {name} is still {}; only a finished fork can be merged",
            f.state.as_str()
        ))
        .with_hint(format!("wait for it with `ocfork wait {}`", fork.run.run)));
    }
    if f.state != ForkState::Done {
        eprintln!(
            "ocfork: note: fork {name} ended {}; merging what it committed",
            f.state.as_str()
        );
    }
    if let Some(c) = f.check.as_ref().filter(|c| c.exit_code != Some(0)) {
        let how = match c.exit_code {
            Some(code) => format!("exited {code}"),
            None => "did not finish".into(),
        };
        eprintln!(
            "ocfork: warning: the check `{}` of fork {name} failed ({how}); merging it anyway",
            c.command
        );
    }
    if let Some(e) = fork.run.judge.as_ref().and_then(|v| v.evidence_of(&f.name))
        && e.tests_weakened
    {
        let which = match e.weakened_files.is_empty() {
            true => String::new(),
            false => format!(" ({})", e.weakened_files.join(", ")),
        };
        eprintln!(
            "ocfork: warning: the judge found that fork {name} weakened its tests{which}; merging it anyway"
        );
    }
    let theirs = fork_tip(&repo, f).ok_or_else(|| {
        CommandError::failure(format!(
            "fork {name} has no commit to merge: its branch {} is gone and git has no commit recorded for it",
            f.branch
        ))
    })?;
    super::diff::warn_lost_start(&repo, &fork.run, &f.name, &theirs);
    let uncommitted = crate::git::uncommitted_work(&repo.common_dir, &f.worktree)?;
    if !uncommitted.is_empty() {
        return Err(CommandError::failure(format!(
            "fork {name} has uncommitted work in its worktree {}:\n  {}\nocfork merges only what a fork committed; nothing was changed",
            f.worktree.display(),
            uncommitted.join("\n  ")
        ))
        .with_hint(format!(
            "commit it there (`git -C {} add -A && git -C {} commit`), then merge again",
            super::attach::shell_quote(&f.worktree.to_string_lossy()),
            super::attach::shell_quote(&f.worktree.to_string_lossy())
        )));
    }
    if super::same_dir(&repo.workdir, &f.worktree) {
        return Err(CommandError::usage(format!(
            "{} is the fork's own worktree; run `ocfork merge` in the tree to merge into",
            f.worktree.display()
        )));
    }
    if let Some(op) = repo.operation_in_progress()? {
        return Err(CommandError::failure(format!(
            "{op} is in progress in {}",
            repo.workdir.display()
        ))
        .with_hint("finish or abort it first"));
    }
    let head = repo.head()?;
    let into = repo
        .current_branch()
        .unwrap_or_else(|| "the detached HEAD".into());
    let how = if args.merge { "merge" } else { "squash" };
    if args.merge && fork.run.start != fork.run.base {
        // The fork's history holds a commit of the main tree's uncommitted changes; as a
        // parent it would tell git those changes are merged while the tree leaves them out.
        return Err(CommandError::usage(format!(
            "run {} carried uncommitted changes into its forks (--include-dirty); --merge would record them as merged",
            fork.run.run
        ))
        .with_hint("merge with --squash (the default)"));
    }

    let compared = repo.merge_tree(&fork.run.start, &head, &theirs);
    let compared = compared.map_err(|e| {
        super::git_failed(format!("could not compare the fork {name} with {into}"), e)
    })?;
    let merged_tree = match compared {
        MergeTree::Clean(tree) => tree,
        MergeTree::Conflicts(paths) => {
            return Err(CommandError::failure(format!(
                "merging {name} into {into} would conflict in:\n  {}\nnothing was changed",
                paths.join("\n  ")
            ))
            .with_hint(format!(
                "these files changed on {into} since the run started too; merge by hand with `git merge {}`",
                f.branch
            )));
        }
    };
    if repo.has_every_change(&fork.run.start, &head, &theirs)? {
        // A fork that changed nothing is not merged: there was nothing of it to bring in.
        if repo.tree_of(&theirs)? == repo.tree_of(&fork.run.start)? {
            super::output::println_during_change(format!(
                "{name} changed nothing; nothing to merge"
            ));
            return Ok(0);
        }
        if !args.dry_run {
            mark_merged(&repo, &store, &fork, &theirs)?;
        }
        super::output::println_during_change(format!(
            "{into} already has every change of {name}; nothing to merge"
        ));
        return Ok(0);
    }

    let writes = repo.changed_paths(&head, &merged_tree)?;
    let blocked = blocked_paths(&repo, &head, &writes)?;
    if !blocked.is_empty() {
        let lines: Vec<String> = blocked
            .iter()
            .map(|(path, why)| format!("{path} ({why})"))
            .collect();
        return Err(CommandError::failure(format!(
            "the main tree has files in the way of merging {name}:\n  {}\nnothing was changed",
            lines.join("\n  ")
        ))
        .with_hint(
            "commit or stash them (`git stash -u` takes untracked files too), then merge again",
        ));
    }
    if args.dry_run {
        super::output::println(format!(
            "would {how} {name} ({}) into {into}: no conflicts; it writes {} file{}:",
            crate::git::short_id(&theirs),
            writes.len(),
            if writes.len() == 1 { "" } else { "s" }
        ))?;
        for p in &writes {
            super::output::println(format!("  {}", p.display()))?;
        }
        return Ok(0);
    }

    let message = args
        .message
        .clone()
        .unwrap_or_else(|| default_message(&fork, &theirs, args.merge));
    if !repo.knows_identity() {
        return Err(CommandError::failure(
            "git does not know who you are (user.name and user.email), so it cannot make the commit; nothing was changed",
        )
        .with_hint(
            "git config user.name \"Your Name\" && git config user.email you@example.com (add --global for every repository)",
        ));
    }
    let reflog = format!("ocfork merge ({how}) {name}");
    let commit = crate::git::with_repo_lock(&repo.common_dir, || {
        repo.commit_on_head(&crate::git::HeadCommit {
            tree: &merged_tree,
            head: &head,
            merged: args.merge.then_some(theirs.as_str()),
            message: &message,
            no_verify: args.no_verify,
            reflog: &reflog,
        })
    })
    .map_err(|e| {
        // The hint for hooks only where a hook could be what refused.
        let hint = match &e {
            crate::git::GitError::HeadMoved { .. } => {
                "nothing was changed; merge again to merge onto the new HEAD"
            }
            _ if !args.no_verify && repo.has_commit_hooks() => {
                "nothing was changed; `--no-verify` skips your commit hooks"
            }
            _ => "nothing was changed",
        };
        CommandError::failure(format!(
            "could not commit the merge of {name} into {into}: {e}"
        ))
        .with_hint(hint)
    })?;
    mark_merged(&repo, &store, &fork, &theirs)?;
    let stats = repo.numstat(&head, &commit)?;
    let (files, ins, del) = crate::git::totals(&stats);
    super::output::println_during_change(format!(
        "merged {name} into {into} ({how}) as {}: {files} file{}, +{ins} -{del}",
        crate::git::short_id(&commit),
        if files == 1 { "" } else { "s" }
    ));
    Ok(0)
}

/// Paths the merge would write that hold the user's uncommitted work: modified, staged or
/// untracked files, and files on disk git ignores but the merge would create; each with what
/// it is, in the user's words. Paths are git's bytes, so a name that is not UTF-8 is checked
/// as it is on disk.
fn blocked_paths(
    repo: &Repo,
    head: &str,
    writes: &[PathBuf],
) -> Result<Vec<(String, &'static str)>, CommandError> {
    let dirty = repo.dirty_paths()?;
    // Path::starts_with compares whole components: `a/b` is inside `a`, `ab` is not.
    let overlaps = |w: &Path, d: &Path| d.starts_with(w) || w.starts_with(d);
    let on_disk: Vec<&Path> = writes
        .iter()
        .map(PathBuf::as_path)
        .filter(|w| repo.workdir.join(w).symlink_metadata().is_ok())
        .collect();
    let tracked = repo.tracked_in(head, &on_disk)?;
    let untracked: std::collections::HashSet<&Path> = on_disk
        .iter()
        .zip(tracked)
        .filter_map(|(w, t)| (!t).then_some(*w))
        .collect();
    let mut blocked = Vec::new();
    for w in writes {
        if untracked.contains(&w.as_path()) {
            blocked.push((w.display().to_string(), "untracked file in the way"));
        } else if dirty.iter().any(|d| overlaps(w, d)) {
            blocked.push((w.display().to_string(), "uncommitted changes"));
        }
    }
    Ok(blocked)
}

fn default_message(fork: &ForkRef, commit: &str, merge: bool) -> String {
    let f = fork.fork();
    // Any text can be a prompt; git refuses a NUL in a message (see `text::commit_text`).
    let prompt = crate::text::commit_text(&f.prompt);
    let first = crate::text::subject(&prompt, 60);
    let name = fork.qualified();
    if merge {
        format!(
            "Merge ocfork {name}: {first}\n\nBranch {}.\n\nPrompt:\n{prompt}\n",
            f.branch
        )
    } else {
        format!(
            "ocfork {name}: {first}\n\nSquashed from branch {} ({commit}).\n\nPrompt:\n{prompt}\n",
            f.branch
        )
    }
}

/// Records in the run that the fork was merged, and the commit that was.
fn mark_merged(
    repo: &Repo,
    store: &Store,
    fork: &ForkRef,
    commit: &str,
) -> Result<(), CommandError> {
    let name = fork.fork().name.clone();
    let stats = if fork.fork().commit.as_deref() == Some(commit) {
        None
    } else {
        Some(crate::git::totals(&repo.numstat(&fork.run.start, commit)?))
    };
    store.update(
        &fork.run.run,
        || None,
        |run| {
            let Some(f) = run.fork_mut(&name) else { return };
            f.merged = true;
            if let Some((files, ins, del)) = stats {
                f.commit = Some(commit.to_string());
                f.files_changed = files;
                f.insertions = ins;
                f.deletions = del;
            }
        },
    )?;
    Ok(())
}
