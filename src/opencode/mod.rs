//! The OpenCode side: spawning `opencode serve`, a typed HTTP client for its API, the
//! global event stream every fork listens to, and following one prompted turn to its end.

pub mod client;
pub mod events;
pub mod liveness;
pub mod main_thread;
pub mod offer;
pub mod server;
pub mod turn;
pub mod types;
pub mod version;
mod version_cache;

pub use client::{ApiError, Client};
pub use events::{Event, EventHub, Kind};
pub use main_thread::MainThread;
pub use server::{Server, ServerError, find_binary};
pub use turn::{TurnEnd, TurnWatch, follow_turn};
pub use version::VersionError;

crate::fault::error_enum! {
    /// Why no OpenCode could be had: the server did not answer, could not be started, or is of a
    /// version ocfork does not work with.
    #[derive(Debug, thiserror::Error)]
    pub enum ConnectError {}
    wraps transparent {
        Api(ApiError),
        Server(ServerError),
        Version(VersionError),
    }
    meaning(self) {}
}

/// A client for the server at `url` (password from `OPENCODE_SERVER_PASSWORD`), or, without a
/// URL, for a new `opencode serve` started in `cwd` from `bin` (else found as
/// [`find_binary`] does), returned too so the caller stops it (started from the main thread:
/// see [`MainThread`]). Either way, an OpenCode of a version ocfork does not support is refused
/// first (see [`version`]).
pub async fn connect(
    url: Option<&str>,
    bin: Option<&std::path::Path>,
    cwd: &std::path::Path,
    main: MainThread,
) -> Result<(Client, Option<Server>), ConnectError> {
    if let Some(url) = url {
        let password = std::env::var("OPENCODE_SERVER_PASSWORD").ok();
        let client = Client::new(url, password.as_deref())?;
        version::check_server(&client).await?;
        return Ok((client, None));
    }
    let bin = find_binary(bin)?;
    version::check_binary(&bin).await?;
    let server = Server::spawn(&bin, cwd, main).await?;
    let client = Client::new(&server.url, Some(&server.password))?;
    if let Err(e) = version::check_server(&client).await {
        server.stop().await;
        return Err(e.into());
    }
    Ok((client, Some(server)))
}
