//! Following a relayed turn to its end, and notices put in a session's history.

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{Job, RelayError, State};
use crate::opencode::types::PromptBody;
use crate::opencode::{ApiError, Client};
use crate::opencode::{TurnEnd, TurnWatch, follow_turn};

pub(super) async fn follow_to_end(
    client: &Client,
    events: tokio::sync::broadcast::Receiver<crate::opencode::Event>,
    job: &mut Job,
    before: usize,
    deadline: tokio::time::Instant,
) -> Result<(), RelayError> {
    let session = job.outcome.session.clone();
    let watch = TurnWatch {
        client,
        events,
        session: &session,
        directory: &job.directory,
        before,
        deadline,
        cancel: CancellationToken::new(),
        server_exit: None,
    };
    match follow_turn(watch, |_| {}).await {
        TurnEnd::Done => {
            job.outcome.state = State::Done;
            job.outcome.message = format!("{} answered in session {session}.", job.outcome.agent);
            Ok(())
        }
        other => Err(RelayError::TurnFailed {
            session,
            agent: job.outcome.agent.clone(),
            reason: match other {
                TurnEnd::Failed(e) => e,
                TurnEnd::Timeout => "timed out".into(),
                TurnEnd::Cancelled => "cancelled".into(),
                TurnEnd::ServerExited(s) => format!("the server exited ({s})"),
                TurnEnd::Done => String::new(),
            },
        }),
    }
}

/// Adds a message to the history without starting a turn.
pub async fn post_notice(
    client: &Client,
    session: &str,
    dir: &std::path::Path,
    text: &str,
) -> Result<(), ApiError> {
    let mut body =
        PromptBody::text(None, None, text).with_metadata(Some(json!({"ocfork": {"notice": true}})));
    body.no_reply = true;
    client.prompt_async(session, dir, &body).await
}
