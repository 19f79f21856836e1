//! `opencode serve` on a host: started on the host's 127.0.0.1 with a random password that
//! goes over the connection's stdin (never in argv or a file on either machine), reached
//! here through a port forward of the master connection, and stopped when the run ends or
//! the connection drops (its stdin closes).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;

use super::{Host, HostError};
use crate::opencode::Client;
use crate::opencode::server::ExitWatch;

/// Run on the host: reads the password, starts the server in a session of its own, and
/// kills that whole session once stdin closes (the run ended, ocfork died or the connection
/// dropped). Exits when the server does. OpenCode's snapshots are off, as for ocfork's
/// servers here (`opencode::server`): through `OPENCODE_CONFIG`, a file in `dir` the host's
/// own and project configs still override, unless the host sets `OPENCODE_CONFIG` itself.
const SERVE_SCRIPT: &str = r#"
IFS= read -r OPENCODE_SERVER_PASSWORD || exit 1
export OPENCODE_SERVER_PASSWORD OPENCODE_DISABLE_AUTOUPDATE=1
unset OPENCODE_SERVER_USERNAME
: "${OPENCODE_PERMISSION:={\"edit\":\"allow\",\"bash\":\"allow\",\"webfetch\":\"allow\",\"doom_loop\":\"allow\",\"question\":\"deny\"}}"
export OPENCODE_PERMISSION
umask 077
mkdir -p "$2" && cd "$2" || exit 1
if [ -z "${OPENCODE_CONFIG-}" ]; then
  printf '{"snapshot":false}\n' > opencode-settings.json || exit 1
  OPENCODE_CONFIG="$PWD/opencode-settings.json"
  export OPENCODE_CONFIG
fi
exec 3<&0
setsid "$1" serve --hostname 127.0.0.1 --port "$3" </dev/null 3<&- &
pid=$!
( cat <&3 >/dev/null; kill -s TERM -- "-$pid"; sleep 3; kill -s KILL -- "-$pid" ) >/dev/null 2>&1 &
exec 3<&-
wait "$pid"
"#;

/// An OpenCode server on a host, as this machine reaches it.
pub struct RemoteServer {
    pub host: String,
    /// The client on the forwarded port, with the server's password.
    pub client: Client,
    /// Set once the server (or the connection to it) is gone.
    pub exit: ExitWatch,
    stdin: tokio::sync::Mutex<Option<openssh::ChildStdin>>,
}

impl RemoteServer {
    /// Starts the host's server and forwards a local loopback port to it.
    pub async fn start(host: &Host) -> Result<RemoteServer, HostError> {
        let password = crate::opencode::server::random_password();
        let cmd = Arc::clone(&host.session).arc_command("sh");
        // The server picks its port (`--port 0`), one free on the host, which this machine
        // cannot know; the forward follows once it listens.
        let args = [host.opencode.as_str(), host.dir.as_str(), "0"];
        let what = "cannot start opencode serve";
        let mut child = host.spawn_sh(cmd, SERVE_SCRIPT, &args, true, what).await?;
        let mut stdin = child
            .stdin()
            .take()
            .ok_or_else(|| host.error("no stdin for opencode serve".into()))?;
        stdin
            .write_all(format!("{password}\n").as_bytes())
            .await
            .map_err(|e| host.error(format!("cannot hand opencode serve its password: {e}")))?;
        let (url_tx, mut url_rx) = tokio::sync::mpsc::channel::<String>(1);
        let log = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        if let Some(out) = child.stdout().take() {
            tokio::spawn(pump(BufReader::new(out), log.clone(), Some(url_tx)));
        }
        if let Some(err) = child.stderr().take() {
            tokio::spawn(pump(BufReader::new(err), log.clone(), None));
        }
        let (exit_tx, exit) = watch::channel(None);
        let name = host.name().to_string();
        tokio::spawn(async move {
            let text = match child.wait().await {
                Ok(s) => format!("on host {name}: {s}"),
                Err(e) => format!("on host {name}: {e}"),
            };
            let _ = exit_tx.send(Some(text));
        });
        let mut exited = exit.clone();
        let url = tokio::select! {
            url = url_rx.recv() => url,
            _ = exited.wait_for(|e| e.is_some()) => None,
            _ = tokio::time::sleep(Duration::from_secs(90)) => None,
        };
        let Some(remote_port) = url.as_deref().and_then(listening_port) else {
            let tail = log.lock().map(|l| l.join(" | ")).unwrap_or_default();
            return Err(host.error(format!("opencode serve did not start: {tail}")));
        };
        let local_port = crate::opencode::server::free_port()
            .map_err(|e| host.error(format!("no free local port: {e}")))?;
        let listen = (std::net::Ipv4Addr::LOCALHOST, local_port);
        let connect = (std::net::Ipv4Addr::LOCALHOST, remote_port);
        (host.session)
            .request_port_forward(openssh::ForwardType::Local, listen, connect)
            .await
            .map_err(|e| {
                host.error(format!("cannot forward a port to its OpenCode server: {e}"))
            })?;
        let client = Client::new(&format!("http://127.0.0.1:{local_port}"), Some(&password))
            .map_err(|e| host.error(e.to_string()))?;
        Ok(RemoteServer {
            host: host.name().to_string(),
            client,
            exit,
            stdin: tokio::sync::Mutex::new(Some(stdin)),
        })
    }

    /// Stops the server: its stdin closes, and the host kills it.
    pub async fn stop(&self) {
        drop(self.stdin.lock().await.take());
        let mut exit = self.exit.clone();
        let _ = tokio::time::timeout(Duration::from_secs(6), exit.wait_for(|e| e.is_some())).await;
    }
}

/// The port in OpenCode's `opencode server listening on http://127.0.0.1:PORT` line.
fn listening_port(line: &str) -> Option<u16> {
    let url = &line[line.find("listening on ")? + "listening on ".len()..];
    url.trim()
        .trim_end_matches('/')
        .rsplit(':')
        .next()?
        .parse()
        .ok()
}

async fn pump<R: tokio::io::AsyncRead + Unpin>(
    reader: BufReader<R>,
    log: Arc<std::sync::Mutex<Vec<String>>>,
    mut url_tx: Option<tokio::sync::mpsc::Sender<String>>,
) {
    let mut lines = reader.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("listening on ")
            && let Some(tx) = url_tx.take()
        {
            let _ = tx.send(line.clone()).await;
        }
        if let Ok(mut l) = log.lock() {
            l.push(line);
            if l.len() > 20 {
                l.remove(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_port_is_read_off_the_servers_line() {
        let line = "opencode server listening on http://127.0.0.1:43073";
        assert_eq!(super::listening_port(line), Some(43073));
        assert_eq!(
            super::listening_port("listening on http://127.0.0.1:4096/ "),
            Some(4096)
        );
        assert_eq!(
            super::listening_port("listening on http://127.0.0.1:x"),
            None
        );
        assert_eq!(super::listening_port("starting"), None);
    }
}
