//! The fork's typed end in the manifest: written as snake_case, absent in old manifests.

use std::path::Path;

use super::*;

#[test]
fn a_manifest_without_end_still_reads_and_end_round_trips() {
    let mut fork = Fork::pending(
        "r",
        "a".into(),
        Path::new("/w"),
        "Go".into(),
        "build".into(),
    );
    let mut old = serde_json::to_value(&fork).expect("serializes");
    assert!(old.get("end").is_none(), "{old:#}");
    old.as_object_mut().expect("object").remove("end");
    let read: Fork = serde_json::from_value(old).expect("an old manifest's fork reads");
    assert_eq!(read.end, None);

    fork.end = Some(EndReason::ServerExited);
    let new = serde_json::to_value(&fork).expect("serializes");
    assert_eq!(new["end"], "server_exited");
    let read: Fork = serde_json::from_value(new).expect("reads");
    assert_eq!(read.end, Some(EndReason::ServerExited));
}

#[test]
fn each_end_gives_its_state() {
    let table = [
        (EndReason::Done, ForkState::Done),
        (EndReason::AgentError, ForkState::Failed),
        (EndReason::Timeout, ForkState::Timeout),
        (EndReason::Cancelled, ForkState::Cancelled),
        (EndReason::ServerExited, ForkState::Failed),
        (EndReason::NoServer, ForkState::Failed),
        (EndReason::SetupFailed, ForkState::Failed),
        (EndReason::WorktreeFailed, ForkState::Failed),
        (EndReason::CommitFailed, ForkState::Failed),
        (EndReason::HostGone, ForkState::Interrupted),
        (EndReason::DriverGone, ForkState::Interrupted),
    ];
    for (end, state) in table {
        assert_eq!(end.state(), state, "{end:?}");
    }
}
