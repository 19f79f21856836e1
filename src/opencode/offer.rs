//! What an OpenCode server offers in one directory: the agents users can pick, the providers
//! and models it knows, and the model a new session gets when none is named. Read the same way
//! by `try`'s up-front checks, `ocfork agents` and the session relay.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use super::client::{ApiError, Client};
use super::types::Agent;

/// The agents users can pick (hidden internal ones left out), each name once, in the
/// server's order.
#[derive(Clone, Debug)]
pub struct Agents(Vec<Agent>);

impl Agents {
    /// `GET /agent` for `directory`.
    pub async fn read(client: &Client, directory: &Path) -> Result<Agents, ApiError> {
        Ok(Agents::from_list(client.agents(directory).await?))
    }

    pub fn from_list(list: Vec<Agent>) -> Agents {
        let mut seen = HashSet::new();
        Agents(
            list.into_iter()
                .filter(|a| a.is_visible() && seen.insert(a.name.clone()))
                .collect(),
        )
    }

    pub fn list(&self) -> &[Agent] {
        &self.0
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|a| a.name.clone()).collect()
    }

    /// The agent called `name`, else an error listing the ones there are.
    pub fn get(&self, name: &str) -> Result<&Agent, OfferError> {
        self.0
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| OfferError::UnknownAgent {
                agent: name.to_string(),
                known: self.names(),
            })
    }
}

/// The providers and models of `GET /config/providers`, and the config's `model`.
#[derive(Clone, Debug, Default)]
pub struct Models {
    /// Provider id and its model ids, in the server's order.
    providers: Vec<(String, Vec<String>)>,
    /// The `model` of OpenCode's merged config, as written there.
    configured: Option<String>,
    /// The model OpenCode picks when nothing names one.
    fallback: Option<String>,
}

#[derive(Deserialize)]
struct ProvidersBody {
    #[serde(default)]
    providers: Vec<ProviderBody>,
    /// Each provider's best model, as OpenCode sorts them.
    #[serde(default)]
    default: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct ProviderBody {
    id: String,
    #[serde(default)]
    models: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct ConfigBody {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    provider: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Models {
    /// `GET /config/providers` and `GET /config` for `directory`.
    pub async fn read(client: &Client, directory: &Path) -> Result<Models, ApiError> {
        let (providers, config) = tokio::try_join!(
            client.get_json::<ProvidersBody>("/config/providers", directory),
            client.get_json::<ConfigBody>("/config", directory),
        )?;
        Ok(Models::from_bodies(providers, config))
    }

    fn from_bodies(body: ProvidersBody, config: ConfigBody) -> Models {
        let providers: Vec<(String, Vec<String>)> = body
            .providers
            .into_iter()
            .map(|p| {
                (
                    p.id,
                    p.models
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, _)| k)
                        .collect(),
                )
            })
            .collect();
        // OpenCode's own choice: the first provider (of the configured ones, when the config
        // names any), with its best model.
        let configured_providers: Vec<String> = config
            .provider
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let defaults = body.default.unwrap_or_default();
        let fallback = providers
            .iter()
            .find(|(id, _)| configured_providers.is_empty() || configured_providers.contains(id))
            .and_then(|(id, _)| defaults.get(id).map(|m| format!("{id}/{m}")));
        Models {
            providers,
            configured: config.model.filter(|m| !m.trim().is_empty()),
            fallback,
        }
    }

    /// Each provider's id and its model ids, in the server's order.
    pub fn providers(&self) -> &[(String, Vec<String>)] {
        &self.providers
    }

    /// Whether the server knows `spec` (`provider/model`).
    pub fn check(&self, spec: &str, source: &ModelSource) -> Result<(), OfferError> {
        let (provider, model) = spec.split_once('/').unwrap_or((spec, ""));
        let Some((_, models)) = self.providers.iter().find(|(id, _)| id == provider) else {
            return Err(OfferError::UnknownProvider {
                model: spec.to_string(),
                from: source.to_string(),
                provider: provider.to_string(),
                known: self.providers.iter().map(|(id, _)| id.clone()).collect(),
            });
        };
        if models.iter().any(|m| m == model) {
            return Ok(());
        }
        Err(OfferError::UnknownModel {
            model: spec.to_string(),
            from: source.to_string(),
            provider: provider.to_string(),
            known: models.clone(),
        })
    }
}

/// Where the model of a fork comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSource {
    /// Named by the user (`-m`, or `models` in ocfork's config).
    Asked,
    /// The agent's own `model` in OpenCode's config.
    Agent(String),
    /// The `model` of OpenCode's config.
    Config,
    /// Nothing names one: OpenCode's pick among its providers.
    Fallback,
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSource::Asked => f.write_str("asked for"),
            ModelSource::Agent(a) => write!(f, "agent {a}'s own model"),
            ModelSource::Config => f.write_str("the `model` of OpenCode's config"),
            ModelSource::Fallback => f.write_str("OpenCode's default: no model is configured"),
        }
    }
}

/// What the server offers in one directory.
#[derive(Clone, Debug)]
pub struct Offer {
    pub agents: Agents,
    pub models: Models,
}

/// The agent and model one session will use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub agent: String,
    /// `provider/model`.
    pub model: String,
    pub source: ModelSource,
}

impl Offer {
    /// Agents, providers and the config, read at once.
    pub async fn read(client: &Client, directory: &Path) -> Result<Offer, ApiError> {
        let (agents, models) = tokio::try_join!(
            Agents::read(client, directory),
            Models::read(client, directory)
        )?;
        Ok(Offer { agents, models })
    }

    /// The model a session of `agent` uses, as OpenCode picks it: the one asked for, else
    /// the agent's own, else the config's, else OpenCode's default. Refuses an agent, a
    /// provider or a model the server does not know.
    pub fn choose(&self, agent: &str, asked: Option<&str>) -> Result<Choice, OfferError> {
        let a = self.agents.get(agent)?;
        let (model, source) = match (asked, &a.model, &self.models.configured) {
            (Some(m), _, _) => (m.to_string(), ModelSource::Asked),
            (None, Some(m), _) => (m.spec(), ModelSource::Agent(a.name.clone())),
            (None, None, Some(m)) => (m.clone(), ModelSource::Config),
            (None, None, None) => (
                self.models.fallback.clone().ok_or(OfferError::NoModel)?,
                ModelSource::Fallback,
            ),
        };
        self.models.check(&model, &source)?;
        Ok(Choice {
            agent: a.name.clone(),
            model,
            source,
        })
    }
}

/// Something the server does not offer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("unknown agent `{agent}`; agents here: {}", .known.join(", "))]
    UnknownAgent { agent: String, known: Vec<String> },
    #[error("model `{model}` ({from}) is not one OpenCode offers here: no provider `{provider}`; providers here: {}", list(.known))]
    UnknownProvider {
        model: String,
        from: String,
        provider: String,
        known: Vec<String>,
    },
    #[error("model `{model}` ({from}) is not one OpenCode offers here: provider `{provider}` has models {}", list(.known))]
    UnknownModel {
        model: String,
        from: String,
        provider: String,
        known: Vec<String>,
    },
    #[error("OpenCode offers no model here: no provider is configured")]
    NoModel,
}

/// The user's to choose again (the hints name the command's flags: the CLI's to say).
impl crate::fault::Fault for OfferError {
    fn meaning(&self) -> crate::fault::Meaning {
        match self {
            OfferError::UnknownAgent { .. }
            | OfferError::UnknownProvider { .. }
            | OfferError::UnknownModel { .. }
            | OfferError::NoModel => crate::fault::Meaning::user(),
        }
    }
}

/// Names joined with commas; a long list is cut after 20.
fn list(names: &[String]) -> String {
    const SHOWN: usize = 20;
    if names.is_empty() {
        return "none".to_string();
    }
    let mut text = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Agents as OpenCode 1.18.33 sends them: a built-in one without optional fields, a
    /// hidden one, and one from the user's config with its optional fields `null`.
    const AGENTS: &str = r#"[
      {"name":"build","description":"The default agent.","mode":"primary","native":true,"permission":[],"options":{}},
      {"name":"compaction","mode":"primary","native":true,"hidden":true,"permission":[],"options":{}},
      {"name":"researcher","description":null,"mode":"primary","native":false,"hidden":null,"topP":null,
       "temperature":null,"color":null,"model":{"modelID":"other","providerID":"scripted"},"variant":null,
       "prompt":"You research.","permission":[],"options":{},"steps":null,"later":{"any":"thing"}}
    ]"#;

    fn offer(model: Option<&str>) -> Offer {
        let agents: Vec<Agent> = serde_json::from_str(AGENTS).expect("agents parse");
        let providers: ProvidersBody = serde_json::from_str(
            r#"{"providers":[{"id":"scripted","name":"S","models":{"scripted":{},"other":{}}}],"default":{"scripted":"scripted"}}"#,
        )
        .expect("providers parse");
        let config = ConfigBody {
            model: model.map(str::to_string),
            provider: None,
        };
        Offer {
            agents: Agents::from_list(agents),
            models: Models::from_bodies(providers, config),
        }
    }

    #[test]
    fn null_and_missing_fields_are_read_as_absent() {
        let o = offer(None);
        assert_eq!(o.agents.names(), ["build", "researcher"]);
        assert_eq!(
            o.agents.get("researcher").map(|a| a.description.clone()),
            Ok(None)
        );
    }

    #[test]
    fn the_model_comes_from_the_request_the_agent_the_config_then_opencode() {
        let o = offer(None);
        let pick = |agent, asked| o.choose(agent, asked).map(|c| (c.model, c.source));
        assert_eq!(
            pick("build", Some("scripted/other")),
            Ok(("scripted/other".into(), ModelSource::Asked))
        );
        assert_eq!(
            pick("researcher", None),
            Ok((
                "scripted/other".into(),
                ModelSource::Agent("researcher".into())
            ))
        );
        assert_eq!(
            pick("build", None),
            Ok(("scripted/scripted".into(), ModelSource::Fallback))
        );
        let configured = offer(Some("scripted/other"));
        assert_eq!(
            configured.choose("build", None).map(|c| c.source),
            Ok(ModelSource::Config)
        );
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let o = offer(None);
        let err = |agent, asked| o.choose(agent, asked).err().map(|e| e.to_string());
        assert_eq!(
            err("nosuch", None).as_deref(),
            Some("unknown agent `nosuch`; agents here: build, researcher")
        );
        assert_eq!(
            err("build", Some("nope/x")).as_deref(),
            Some(
                "model `nope/x` (asked for) is not one OpenCode offers here: no provider `nope`; providers here: scripted"
            )
        );
        assert_eq!(
            err("build", Some("scripted/x")).as_deref(),
            Some(
                "model `scripted/x` (asked for) is not one OpenCode offers here: provider `scripted` has models other, scripted"
            )
        );
        assert!(offer(Some("gone/y")).choose("build", None).is_err());
    }
}
