//! A typed HTTP client for `opencode serve`. Every call names its directory; every failure
//! carries the route, the HTTP status and the server's message.

use std::path::Path;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::types::{Agent, Message, PromptBody, Session};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach the OpenCode server at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("OpenCode at {url}: {method} {route} answered {status}: {message}")]
    Status {
        url: String,
        method: &'static str,
        route: String,
        status: u16,
        message: String,
    },
    #[error("OpenCode {route} sent a body ocfork cannot read: {message}")]
    Decode { route: String, message: String },
    #[error("{0} is not a valid OpenCode server URL")]
    BadUrl(String),
}

impl crate::fault::Fault for ApiError {
    fn meaning(&self) -> crate::fault::Meaning {
        use crate::fault::Meaning;
        match self {
            ApiError::BadUrl(_) => Meaning::user(),
            ApiError::Connect { .. } | ApiError::Status { .. } => Meaning::failure(),
            ApiError::Decode { .. } => Meaning::internal(),
        }
    }
}

/// A connection to one OpenCode server.
#[derive(Clone, Debug)]
pub struct Client {
    base: reqwest::Url,
    http: reqwest::Client,
    secret: Secret,
}

/// The server's password, kept to be removed from what ocfork commits; never printed.
#[derive(Clone, Default)]
struct Secret(Option<std::sync::Arc<str>>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Secret(..)"
        } else {
            "None"
        })
    }
}

impl Client {
    /// A client for `url`, authenticating as user `opencode` when a password is given.
    pub fn new(url: &str, password: Option<&str>) -> Result<Client, ApiError> {
        let base = reqwest::Url::parse(url).map_err(|_| ApiError::BadUrl(url.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ApiError::BadUrl(url.to_string()));
        }
        let mut headers = HeaderMap::new();
        if let Some(pw) = password {
            use base64::Engine;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("opencode:{pw}"));
            let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                .map_err(|_| ApiError::BadUrl(url.to_string()))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(crate::timeouts::get().connect)
            .build()
            .map_err(|source| ApiError::Connect {
                url: url.to_string(),
                source,
            })?;
        Ok(Client {
            base,
            http,
            secret: Secret(password.filter(|p| !p.is_empty()).map(Into::into)),
        })
    }

    /// The password this client authenticates with, if any.
    pub fn password(&self) -> Option<&str> {
        self.secret.0.as_deref()
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn url(&self, route: &str, directory: Option<&Path>) -> reqwest::Url {
        let mut url = self.base.clone();
        url.set_path(route);
        if let Some(dir) = directory {
            url.query_pairs_mut()
                .append_pair("directory", &dir.to_string_lossy());
        }
        url
    }

    async fn send(
        &self,
        method: &'static str,
        route: &str,
        directory: Option<&Path>,
        body: Option<&dyn erased::Body>,
    ) -> Result<reqwest::Response, ApiError> {
        let url = self.url(route, directory);
        let mut req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url),
        };
        // A server that accepted the connection while still booting was seen never answering.
        req = req.timeout(crate::timeouts::get().request);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_json());
        }
        let resp = req.send().await.map_err(|source| ApiError::Connect {
            url: self.base.to_string(),
            source,
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .map(|v| super::types::error_text(&v))
            .unwrap_or(text);
        let message = if status == reqwest::StatusCode::UNAUTHORIZED && message.is_empty() {
            "wrong or missing password (set OPENCODE_SERVER_PASSWORD)".to_string()
        } else {
            message
        };
        Err(ApiError::Status {
            url: self.base.to_string(),
            method,
            route: route.to_string(),
            status: status.as_u16(),
            message: message.chars().take(500).collect(),
        })
    }

    /// [`Client::send`] for a route whose answer means no more than its status.
    async fn call(
        &self,
        method: &'static str,
        route: &str,
        directory: Option<&Path>,
        body: Option<&dyn erased::Body>,
    ) -> Result<(), ApiError> {
        self.send(method, route, directory, body).await.map(|_| ())
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: &'static str,
        route: &str,
        directory: Option<&Path>,
        body: Option<&dyn erased::Body>,
    ) -> Result<T, ApiError> {
        let resp = self.send(method, route, directory, body).await?;
        let bytes = resp.bytes().await.map_err(|e| ApiError::Decode {
            route: route.to_string(),
            message: e.to_string(),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
            route: route.to_string(),
            message: e.to_string(),
        })
    }

    /// `GET route` in `directory`, read as `T` (for the bodies [`super::offer`] reads).
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        route: &str,
        directory: &Path,
    ) -> Result<T, ApiError> {
        self.json("GET", route, Some(directory), None).await
    }

    /// `POST /session`: a new session whose tools work in `directory`.
    pub async fn create_session(&self, directory: &Path, title: &str) -> Result<Session, ApiError> {
        let body = serde_json::json!({ "title": title });
        self.json("POST", "/session", Some(directory), Some(&body))
            .await
    }

    /// `GET /session/{id}`.
    pub async fn session(&self, id: &str, directory: Option<&Path>) -> Result<Session, ApiError> {
        self.json("GET", &format!("/session/{id}"), directory, None)
            .await
    }

    /// `POST /instance/dispose?directory=D`: the server drops its instance for `directory`
    /// (file watcher, LSP, plugin state); the next request there starts a new one.
    pub async fn dispose_instance(&self, directory: &Path) -> Result<(), ApiError> {
        self.call("POST", "/instance/dispose", Some(directory), None)
            .await
    }

    /// `DELETE /session/{id}`.
    pub async fn delete_session(&self, id: &str, directory: &Path) -> Result<(), ApiError> {
        self.call("DELETE", &format!("/session/{id}"), Some(directory), None)
            .await
    }

    /// `POST /session/{id}/prompt_async`: queues a turn and returns at once.
    pub async fn prompt_async(
        &self,
        id: &str,
        directory: &Path,
        body: &PromptBody,
    ) -> Result<(), ApiError> {
        let route = format!("/session/{id}/prompt_async");
        self.call("POST", &route, Some(directory), Some(body)).await
    }

    /// `GET /session/{id}/message`: the whole history.
    pub async fn messages(&self, id: &str, directory: &Path) -> Result<Vec<Message>, ApiError> {
        self.json(
            "GET",
            &format!("/session/{id}/message"),
            Some(directory),
            None,
        )
        .await
    }

    /// `GET /session/status`: the sessions that are not idle, by id.
    pub async fn status(
        &self,
        directory: &Path,
    ) -> Result<serde_json::Map<String, Value>, ApiError> {
        self.json("GET", "/session/status", Some(directory), None)
            .await
    }

    /// `POST /session/{id}/abort`.
    pub async fn abort(&self, id: &str, directory: &Path) -> Result<(), ApiError> {
        let body = serde_json::json!({});
        self.call(
            "POST",
            &format!("/session/{id}/abort"),
            Some(directory),
            Some(&body),
        )
        .await
    }

    /// `POST /session/{id}/fork`: a copy of the session's history.
    pub async fn fork_session(&self, id: &str, directory: &Path) -> Result<Session, ApiError> {
        let body = serde_json::json!({});
        self.json(
            "POST",
            &format!("/session/{id}/fork"),
            Some(directory),
            Some(&body),
        )
        .await
    }

    /// `POST /experimental/control-plane/move-session`: re-homes a session in another
    /// directory (its tools then work there), leaving files alone.
    pub async fn move_session(&self, id: &str, directory: &Path) -> Result<(), ApiError> {
        let body = serde_json::json!({
            "sessionID": id,
            "destination": { "directory": directory.to_string_lossy() },
            "moveChanges": false,
        });
        self.call(
            "POST",
            "/experimental/control-plane/move-session",
            None,
            Some(&body),
        )
        .await
    }

    /// `POST /session/{id}/summarize`: compacts the history with the given model.
    pub async fn summarize(
        &self,
        id: &str,
        directory: &Path,
        provider_id: &str,
        model_id: &str,
    ) -> Result<(), ApiError> {
        let body = serde_json::json!({ "providerID": provider_id, "modelID": model_id });
        self.call(
            "POST",
            &format!("/session/{id}/summarize"),
            Some(directory),
            Some(&body),
        )
        .await
    }

    /// `GET /global/health`: whether the server is there, opening no instance.
    pub async fn health(&self) -> Result<(), ApiError> {
        self.call("GET", "/global/health", None, None).await
    }

    /// `GET /agent`.
    pub async fn agents(&self, directory: &Path) -> Result<Vec<Agent>, ApiError> {
        self.json("GET", "/agent", Some(directory), None).await
    }

    /// `POST /permission/{id}/reply`.
    pub async fn reply_permission(
        &self,
        id: &str,
        directory: &Path,
        reply: &str,
    ) -> Result<(), ApiError> {
        let body = serde_json::json!({ "reply": reply });
        self.call(
            "POST",
            &format!("/permission/{id}/reply"),
            Some(directory),
            Some(&body),
        )
        .await
    }
}

mod erased {
    /// A request body that can be turned into JSON without generics on every method.
    pub trait Body: Send + Sync {
        fn to_json(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize + Send + Sync> Body for T {
        fn to_json(&self) -> Vec<u8> {
            serde_json::to_vec(self).unwrap_or_default()
        }
    }
}
