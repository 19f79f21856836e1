//! The table of every error kind and the exit code it gives, and which kind each library
//! error is.

use std::path::PathBuf;

use super::*;

#[test]
fn every_kind_has_its_exit_code() {
    let table = [
        (ErrorKind::User, 2),
        (ErrorKind::Config, 2),
        (ErrorKind::Failure, 1),
        (ErrorKind::Internal, 1),
        (ErrorKind::BrokenPipe, 0),
        (ErrorKind::Interrupted, 130),
    ];
    for (kind, code) in table {
        // An exhaustive match: a new kind must be added to the table above.
        match kind {
            ErrorKind::User
            | ErrorKind::Config
            | ErrorKind::Failure
            | ErrorKind::Internal
            | ErrorKind::BrokenPipe
            | ErrorKind::Interrupted => {}
        }
        assert_eq!(kind.exit_code(), code, "{kind:?}");
    }
}

fn io(kind: std::io::ErrorKind) -> std::io::Error {
    std::io::Error::new(kind, "x")
}

#[test]
fn library_errors_map_to_kinds() {
    let p = || PathBuf::from("/x");
    let cases: Vec<(CommandError, ErrorKind)> = vec![
        (GitError::NotARepo(p()).into(), ErrorKind::User),
        (GitError::Bare(p()).into(), ErrorKind::User),
        (GitError::UnbornHead.into(), ErrorKind::User),
        (
            GitError::BadRevision { rev: "x".into() }.into(),
            ErrorKind::User,
        ),
        (
            GitError::Spawn(io(std::io::ErrorKind::NotFound)).into(),
            ErrorKind::Failure,
        ),
        (
            GitError::Failed {
                args: "x".into(),
                dir: p(),
                stderr: "x".into(),
            }
            .into(),
            ErrorKind::Failure,
        ),
        (
            GitError::CommitRefused { stderr: "x".into() }.into(),
            ErrorKind::Failure,
        ),
        (GitError::Lost("x".into()).into(), ErrorKind::Internal),
        (StateError::Taken("r".into()).into(), ErrorKind::User),
        (StateError::NoRuns.into(), ErrorKind::User),
        (
            crate::judge::JudgeError::UnknownAgent {
                agent: "x".into(),
                known: "build".into(),
            }
            .into(),
            ErrorKind::User,
        ),
        (
            StateError::BadReference("a/b/c".into()).into(),
            ErrorKind::User,
        ),
        (
            StateError::Busy {
                run: "r".into(),
                pid: None,
            }
            .into(),
            ErrorKind::User,
        ),
        (
            StateError::Write {
                path: p(),
                source: io(std::io::ErrorKind::StorageFull),
            }
            .into(),
            ErrorKind::Failure,
        ),
        (
            StateError::Invalid {
                path: p(),
                run: "r".into(),
                problem: "x".into(),
            }
            .into(),
            ErrorKind::Internal,
        ),
        (
            ConfigError::Invalid {
                path: p(),
                line: 1,
                message: "x".into(),
            }
            .into(),
            ErrorKind::Config,
        ),
        (
            ServerError::NotFound(String::new()).into(),
            ErrorKind::Config,
        ),
        (ServerError::Start("x".into()).into(), ErrorKind::Failure),
        (ApiError::BadUrl("x".into()).into(), ErrorKind::User),
        (
            ApiError::Decode {
                route: "/x".into(),
                message: "x".into(),
            }
            .into(),
            ErrorKind::Internal,
        ),
        (RelayError::EmptyText.into(), ErrorKind::User),
        (
            RelayError::UnknownSession {
                session: "s".into(),
                server: "u".into(),
            }
            .into(),
            ErrorKind::User,
        ),
        (RelayError::Git(GitError::Bare(p())).into(), ErrorKind::User),
        (
            RelayError::NoDirectory("s".into()).into(),
            ErrorKind::Failure,
        ),
        (
            io(std::io::ErrorKind::BrokenPipe).into(),
            ErrorKind::BrokenPipe,
        ),
        (
            io(std::io::ErrorKind::PermissionDenied).into(),
            ErrorKind::Failure,
        ),
        // Through anyhow, with context on top: the typed error inside decides.
        (
            anyhow::Error::new(StateError::NoRuns)
                .context("while looking")
                .into(),
            ErrorKind::User,
        ),
        (
            anyhow::Error::new(ServerError::NotFound(String::new())).into(),
            ErrorKind::Config,
        ),
        (anyhow::anyhow!("plain").into(), ErrorKind::Failure),
    ];
    for (err, kind) in cases {
        assert_eq!(err.kind, kind, "{:#}", err.error);
    }
}

#[test]
fn context_survives_the_mapping() {
    let err: CommandError = anyhow::Error::new(StateError::NoRuns)
        .context("while looking")
        .into();
    assert_eq!(err.error.to_string(), "while looking");
}

/// Two failures found at once (here and on a host) are both told, each with its hints.
#[test]
fn two_failures_at_once_are_both_told() {
    let here = CommandError::usage("opencode is missing").with_hint("install it");
    let there = CommandError::failure("host `box`: git 2.30 is too old").with_hint("upgrade git");
    let both = here.and(there);
    assert_eq!(both.exit_code(), 2);
    assert_eq!(
        crate::fault::told(&*both.error, &both.hints),
        "error: opencode is missing\nerror: host `box`: git 2.30 is too old\nhint: install it\nhint: upgrade git"
    );
}
