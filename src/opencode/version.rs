//! Which OpenCode ocfork talks to: the binary's `opencode --version` before it is started (an
//! OpenCode 2 server would migrate the shared data directory), and a server's
//! `GET /global/health` `version`. Versions outside the V1 line ocfork is made for are refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::Client;

/// What ocfork supports, as said in every refusal.
pub const SUPPORTED: &str =
    "ocfork supports OpenCode 1.x from 1.18 on (the V1 line; tested with 1.18.33), not OpenCode 2";

/// The oldest supported version: the routes and events ocfork relies on were checked there.
const OLDEST: Version = Version(1, 18, 0);

/// A release number, `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl Version {
    /// The first `[v]X.Y[.Z][-pre]` word of `text` (`opencode --version` prints `1.18.33`).
    pub fn parse(text: &str) -> Option<Version> {
        text.split_whitespace().find_map(|word| {
            let word = word.strip_prefix('v').unwrap_or(word);
            let core = word.split(['-', '+']).next()?;
            let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
            let (major, minor) = (parts.next()??, parts.next()??);
            let patch = parts.next().unwrap_or(Some(0))?;
            parts
                .next()
                .is_none()
                .then_some(Version(major, minor, patch))
        })
    }

    /// Whether ocfork works with this version.
    pub fn supported(self) -> bool {
        self >= OLDEST && self.0 == 1
    }
}

/// Why ocfork will not work with an OpenCode.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error("{what} is OpenCode {version}, which ocfork cannot work with: {SUPPORTED}")]
    Unsupported { what: String, version: Version },
    #[error("cannot tell which OpenCode {what} is ({said}): {SUPPORTED}")]
    Unknown { what: String, said: String },
}

/// What to do about it.
impl crate::fault::Fault for VersionError {
    fn meaning(&self) -> crate::fault::Meaning {
        match self {
            VersionError::Unsupported { .. } | VersionError::Unknown { .. } => {
                crate::fault::Meaning::config().hint(
                    "install the V1 line (`npm install -g opencode-ai@1.18.33`) and point ocfork at it \
                     with --opencode PATH or OCFORK_OPENCODE, or give --server a server of that version",
                )
            }
        }
    }
}

/// Versions already read in this process, by binary path.
fn seen() -> &'static Mutex<HashMap<PathBuf, Version>> {
    static SEEN: OnceLock<Mutex<HashMap<PathBuf, Version>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// Runs `bin --version` (once per process and binary, and not again while the binary is the
/// same file, see [`super::version_cache`]) and refuses a version ocfork does not support, or
/// a binary that does not say one.
pub async fn check_binary(bin: &Path) -> Result<Version, VersionError> {
    let known = seen().lock().ok().and_then(|s| s.get(bin).copied());
    let version = match known {
        Some(v) => v,
        None => {
            // The file is identified before it is asked: it may be replaced meanwhile.
            let key = super::version_cache::key(bin);
            let v = match key.as_ref().and_then(super::version_cache::read) {
                Some(v) => v,
                None => {
                    let v = binary_version(bin).await?;
                    if let Some(key) = &key {
                        super::version_cache::write(bin, key, v);
                    }
                    v
                }
            };
            if let Ok(mut s) = seen().lock() {
                s.insert(bin.to_path_buf(), v);
            }
            v
        }
    };
    match version.supported() {
        true => Ok(version),
        false => Err(VersionError::Unsupported {
            what: format!("the opencode binary {}", bin.display()),
            version,
        }),
    }
}

async fn binary_version(bin: &Path) -> Result<Version, VersionError> {
    let unknown = |said: String| VersionError::Unknown {
        what: format!("the opencode binary {}", bin.display()),
        said,
    };
    let mut cmd = tokio::process::Command::new(bin);
    cmd.arg("--version")
        .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(Duration::from_secs(30), cmd.output()).await {
        Err(_) => return Err(unknown("`--version` gave no answer in 30 s".into())),
        Ok(Err(e)) => return Err(unknown(format!("`--version` could not run: {e}"))),
        Ok(Ok(out)) => out,
    };
    let text = String::from_utf8_lossy(&out.stdout);
    match Version::parse(&text) {
        Some(v) if out.status.success() => Ok(v),
        _ => {
            let said: String = text.trim().chars().take(80).collect();
            Err(unknown(format!(
                "`--version` printed {said:?} and exited with {}",
                out.status
            )))
        }
    }
}

/// Reads the server's version from `GET /global/health` and refuses one ocfork does not
/// support. A server that cannot be reached or refuses the password is left to the next
/// request to report as usual (`Ok(None)`); one without the route is not OpenCode 1.
pub async fn check_server(client: &Client) -> Result<Option<Version>, VersionError> {
    let what = || format!("the OpenCode server at {}", client.base_url());
    let url = client.url("/global/health", None);
    let resp = match client
        .http()
        .get(url)
        .timeout(Duration::from_secs(60))
        .send()
        .await
    {
        Ok(r) => r,
        Err(_) => return Ok(None),
    };
    let status = resp.status();
    if matches!(status.as_u16(), 401 | 403) || status.is_server_error() {
        return Ok(None);
    }
    let body: serde_json::Value = match status.is_success() {
        true => resp.json().await.unwrap_or_default(),
        false => {
            return Err(VersionError::Unknown {
                what: what(),
                said: format!("GET /global/health answered {status}"),
            });
        }
    };
    let said = body.get("version").and_then(|v| v.as_str());
    match said.and_then(Version::parse) {
        Some(version) if version.supported() => Ok(Some(version)),
        Some(version) => Err(VersionError::Unsupported {
            what: what(),
            version,
        }),
        None => Err(VersionError::Unknown {
            what: what(),
            said: "GET /global/health names no version".into(),
        }),
    }
}

/// Checks the OpenCode a command will use before it changes anything: the server at `url`
/// when given, else the binary [`super::find_binary`] finds from `bin`.
pub async fn check_target(
    url: Option<&str>,
    bin: Option<&Path>,
) -> Result<(), super::ConnectError> {
    match url {
        Some(url) => {
            let password = std::env::var("OPENCODE_SERVER_PASSWORD").ok();
            check_server(&Client::new(url, password.as_deref())?).await?;
        }
        None => {
            check_binary(&super::find_binary(bin)?).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Version;

    #[test]
    fn reads_what_opencode_prints() {
        assert_eq!(Version::parse("1.18.33\n"), Some(Version(1, 18, 33)));
        assert_eq!(Version::parse("opencode v2.0.1"), Some(Version(2, 0, 1)));
        assert_eq!(Version::parse("1.19.0-beta.2"), Some(Version(1, 19, 0)));
        assert_eq!(Version::parse("whatever"), None);
        assert!(Version(1, 18, 33).supported());
        assert!(Version(1, 19, 0).supported());
        assert!(!Version(2, 0, 1).supported());
        assert!(!Version(1, 17, 9).supported());
    }
}
