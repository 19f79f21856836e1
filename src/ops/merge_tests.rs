//! Merge's plan and apply on real git repositories, without the binary.

use super::super::fixture::{Fixture, git, write};
use super::*;
use crate::fault::Fault;
use crate::state::ForkState;

fn planned(fx: &Fixture, reference: &str) -> (Result<MergePlan, MergeError>, Vec<MergeWarning>) {
    let fork = fx.store.resolve_fork(reference).expect("fork found");
    let mut warnings = Vec::new();
    let plan = plan(&fx.repo, fork, How::Squash, &mut |w| warnings.push(w));
    (plan, warnings)
}

#[test]
fn a_clean_merge_is_planned_without_changing_anything_then_applied_as_one_commit() {
    let fx = Fixture::new();
    fx.finished_run("r", &[("a", &[("b.txt", "from a\n")])]);
    let head = git(&fx.main, &["rev-parse", "HEAD"]);

    let (plan, warnings) = planned(&fx, "r/a");
    let plan = plan.expect("a clean merge");
    assert!(warnings.is_empty(), "{warnings:?}");
    match &plan.action {
        Action::Commit { writes, .. } => assert_eq!(writes, &[PathBuf::from("b.txt")]),
        other => panic!("not a commit: {other:?}"),
    }
    let lines = plan.lines();
    assert!(
        lines[0].starts_with("would squash r/a (")
            && lines[0].ends_with(") into main: no conflicts; it writes 1 file:"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "  b.txt");
    assert_eq!(
        git(&fx.main, &["rev-parse", "HEAD"]),
        head,
        "the plan moved HEAD"
    );
    assert!(!fx.main.join("b.txt").exists(), "the plan wrote the file");

    let outcome = apply(&fx.repo, &fx.store, &plan, &CommitOptions::default()).expect("merged");
    let MergeOutcome::Merged {
        commit,
        files,
        insertions,
        deletions,
    } = &outcome
    else {
        panic!("not merged: {outcome:?}");
    };
    assert_eq!((*files, *insertions, *deletions), (1, 1, 0));
    assert_eq!(&git(&fx.main, &["rev-parse", "HEAD"]), commit);
    assert_eq!(
        git(&fx.main, &["rev-parse", "HEAD^"]),
        head,
        "not one commit on HEAD"
    );
    assert_eq!(
        std::fs::read_to_string(fx.main.join("b.txt")).expect("merged file"),
        "from a\n"
    );
    assert!(
        plan.outcome_line(&outcome)
            .starts_with("merged r/a into main (squash) as "),
        "{}",
        plan.outcome_line(&outcome)
    );
    let run = fx.store.load_checked("r").expect("run");
    assert!(
        run.fork("a").is_some_and(|f| f.merged),
        "not recorded as merged"
    );
}

#[test]
fn a_conflicting_merge_is_refused_naming_the_files() {
    let fx = Fixture::new();
    fx.finished_run("r", &[("a", &[("a.txt", "from the fork\n")])]);
    fx.commit(&[("a.txt", "from main\n")], "main changed a too");
    let head = git(&fx.main, &["rev-parse", "HEAD"]);

    let (plan, _) = planned(&fx, "r/a");
    match plan {
        Err(e @ MergeError::Conflicts { .. }) => {
            let MergeError::Conflicts { paths, .. } = &e else {
                unreachable!()
            };
            assert_eq!(paths, &["a.txt"]);
            assert!(
                e.to_string()
                    .starts_with("merging r/a into main would conflict in:\n  a.txt")
            );
            assert!(e.hints().iter().any(|h| h.contains("git merge ocfork/r/a")));
        }
        other => panic!("not refused for conflicts: {other:?}"),
    }
    assert_eq!(git(&fx.main, &["rev-parse", "HEAD"]), head);
}

#[test]
fn uncommitted_changes_in_the_users_tree_where_the_merge_writes_are_refused() {
    let fx = Fixture::new();
    fx.finished_run(
        "r",
        &[("a", &[("a.txt", "from the fork\n"), ("b.txt", "b\n")])],
    );
    write(&fx.main, &[("a.txt", "my own edit\n"), ("b.txt", "mine\n")]);

    let (plan, _) = planned(&fx, "r/a");
    match plan {
        Err(MergeError::Blocked { blocked, .. }) => assert_eq!(
            blocked,
            [
                ("a.txt".to_string(), "uncommitted changes"),
                ("b.txt".to_string(), "untracked file in the way"),
            ]
        ),
        other => panic!("not refused for the user's work: {other:?}"),
    }
    let kept = std::fs::read_to_string(fx.main.join("a.txt")).expect("a.txt");
    assert_eq!(kept, "my own edit\n");
}

#[test]
fn a_fork_that_failed_and_changed_nothing_is_said_so_with_nothing_to_merge() {
    let fx = Fixture::new();
    fx.finished_run("r", &[("a", &[])]);
    fx.update("r", |run| {
        if let Some(f) = run.fork_mut("a") {
            f.state = ForkState::Failed;
        }
    });
    let (plan, warnings) = planned(&fx, "r/a");
    let plan = plan.expect("a plan");
    assert!(matches!(plan.action, Action::NothingChanged), "{plan:?}");
    assert_eq!(plan.lines(), ["r/a changed nothing; nothing to merge"]);
    assert_eq!(
        warnings,
        [MergeWarning::Ended {
            name: "r/a".into(),
            state: ForkState::Failed
        }]
    );
    assert_eq!(
        warnings[0].to_string(),
        "note: fork r/a ended failed; merging what it committed"
    );
}

#[test]
fn a_fork_still_running_is_not_merged() {
    let fx = Fixture::new();
    fx.running("r", "a");
    let (plan, warnings) = planned(&fx, "r/a");
    let e = plan.expect_err("refused");
    assert!(matches!(e, MergeError::NotFinished { .. }), "{e:?}");
    assert_eq!(e.hints(), ["wait for it with `ocfork wait r`"]);
    assert!(warnings.is_empty());
}
