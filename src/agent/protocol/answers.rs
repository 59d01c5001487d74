//! The success answers' bodies, one type per op; times are RFC 3339 on
//! the wire and Unix seconds here.

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// An SSO session as the agent hands it out: never its refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub issuer: String,
    pub client_id: String,
    pub user: Option<String>,
    #[serde(with = "time")]
    pub expires_at: Option<i64>,
}

/// `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusAnswer {
    pub pid: u32,
    pub sessions: Vec<SessionInfo>,
    pub shared_environments: Vec<String>,
}

/// The session of an `sso` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSession {
    pub access_token: Secret,
    pub id_token: Option<Secret>,
    pub token_type: String,
    #[serde(with = "time")]
    pub expires_at: Option<i64>,
    pub user: Option<String>,
    pub issuer: String,
    pub client_id: String,
}

/// `sso`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoAnswer {
    pub session: SsoSession,
}

/// Where the agent's token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Cache,
    Acquired,
}

/// A shared environment's token and what a client needs to use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedEnvironment {
    pub name: String,
    pub access_token: Secret,
    pub token_type: String,
    #[serde(with = "time")]
    pub expires_at: Option<i64>,
    pub source: Source,
    pub api_base_url: Option<String>,
    #[serde(default)]
    pub api_allowed_origins: Vec<String>,
    pub api_graphql_url: Option<String>,
    pub credential_username: Option<String>,
}

/// `token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub environment: SharedEnvironment,
}

/// `discard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscardAnswer {
    pub discarded: bool,
}

/// `proof`: the DPoP proof, a secret like the token it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofAnswer {
    pub dpop: Secret,
}

/// `environments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentsAnswer {
    pub environments: Vec<String>,
}

/// `stop` (nothing but `ok`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopAnswer {}

/// `Option<i64>` Unix seconds as an RFC 3339 string or `null`.
mod time {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match at.and_then(crate::clock::rfc3339) {
            Some(text) => s.serialize_str(&text),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| Some(t.timestamp()))
            .map_err(serde::de::Error::custom)
    }
}
