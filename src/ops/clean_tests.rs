//! Clean's plan and apply on real git repositories, without the binary.

use super::super::fixture::{Fixture, git, write};
use super::*;

/// Plans and applies clean on run `name`; what it said, and its outcome.
async fn cleaned(fx: &Fixture, name: &str, force: bool) -> (Vec<CleanEvent>, CleanOutcome) {
    let mut said = Vec::new();
    let mut say = |e| said.push(e);
    let runs = runs(&fx.store, Which::One(Some(name)), &mut say).expect("the run");
    let mut plans = plan(&fx.repo, &runs, force).expect("a plan");
    let outcome = apply(&fx.repo, &fx.store, &mut plans, force, &mut say)
        .await
        .expect("cleaned");
    (said, outcome)
}

fn branch_exists(fx: &Fixture, branch: &str) -> bool {
    !git(&fx.main, &["branch", "--list", branch]).is_empty()
}

#[tokio::test]
async fn an_unmerged_fork_keeps_its_branch_and_the_run_while_one_with_nothing_goes() {
    let fx = Fixture::new();
    let run = fx.finished_run("r", &[("a", &[("b.txt", "b\n")]), ("e", &[])]);

    let plans = plan(&fx.repo, std::slice::from_ref(&run), false).expect("a plan");
    let forks = &plans[0].forks;
    assert_eq!(forks[0].merged, None, "fork a counted as merged");
    assert_eq!(forks[1].merged.as_deref(), Some("no commits of its own"));
    assert!(forks.iter().all(|p| p.kept.is_none()));
    drop(plans);

    let (said, outcome) = cleaned(&fx, "r", false).await;
    assert!(!outcome.failed && outcome.removed.is_empty(), "{outcome:?}");
    let wt = |f: &str| fx.tmp.path().join("app.ocfork/r").join(f);
    let tip_e = run.fork("e").and_then(|f| f.commit.clone()).expect("tip");
    assert_eq!(
        said,
        [
            CleanEvent::Done(format!("removed worktree {}", wt("a").display())),
            CleanEvent::Done(format!("removed worktree {}", wt("e").display())),
            CleanEvent::Done(
                "kept branch ocfork/r/a (not merged): `ocfork merge r/a` to merge it, `ocfork clean r --force` to drop it".into()
            ),
            CleanEvent::Done(format!(
                "deleted branch ocfork/r/e (no commits of its own; was {tip_e})"
            )),
            CleanEvent::Done("kept the record of run r while 1 branch remains".into()),
        ]
    );
    assert!(branch_exists(&fx, "ocfork/r/a"));
    assert!(!branch_exists(&fx, "ocfork/r/e"));
    assert!(!wt("a").exists() && !wt("e").exists());
    assert!(fx.store.load_checked("r").is_ok(), "the run's record went");
}

#[tokio::test]
async fn uncommitted_work_keeps_its_fork_whole_and_the_others_are_cleaned() {
    let fx = Fixture::new();
    fx.finished_run("r", &[("a", &[("b.txt", "b\n")]), ("e", &[])]);
    let wt = fx.tmp.path().join("app.ocfork/r/a");
    write(&wt, &[("later.txt", "not committed\n")]);

    let (said, outcome) = cleaned(&fx, "r", false).await;
    assert!(outcome.failed, "{outcome:?}");
    let CleanEvent::Problem(kept) = &said[0] else {
        panic!("fork a not said kept first: {said:?}");
    };
    assert!(
        kept.starts_with("kept fork r/a (its worktree and branch): uncommitted changes")
            && kept.contains("later.txt"),
        "{kept}"
    );
    assert!(wt.join("later.txt").exists(), "the uncommitted work went");
    assert!(branch_exists(&fx, "ocfork/r/a"));
    assert!(!branch_exists(&fx, "ocfork/r/e"));
}

#[tokio::test]
async fn force_drops_an_unmerged_branch_saying_its_commit_and_forgets_the_run() {
    let fx = Fixture::new();
    let run = fx.finished_run("r", &[("a", &[("b.txt", "b\n")])]);
    let tip = run.fork("a").and_then(|f| f.commit.clone()).expect("tip");

    let (said, outcome) = cleaned(&fx, "r", true).await;
    assert!(!outcome.failed, "{said:?}");
    assert_eq!(outcome.removed, ["r"]);
    assert!(said.contains(&CleanEvent::Done(format!(
        "dropped branch ocfork/r/a at {tip}; bring it back with `git branch ocfork/r/a {tip}`"
    ))));
    assert!(!branch_exists(&fx, "ocfork/r/a"));
    assert!(
        fx.store.load_checked("r").is_err(),
        "the run is still recorded"
    );
}

#[test]
fn a_running_run_is_refused_and_nothing_is_planned() {
    let fx = Fixture::new();
    fx.running("r", "a");
    let e = runs(&fx.store, Which::One(Some("r")), &mut |_| {}).expect_err("refused");
    assert!(matches!(e, CleanError::Running { .. }), "{e:?}");
    let pid = std::process::id();
    assert_eq!(
        e.to_string(),
        format!("run r is still running (pid {pid}); nothing was removed")
    );
    assert!(branch_exists(&fx, "ocfork/r/a"));
}
