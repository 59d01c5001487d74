//! What commands get from an lmi agent (SPEC §9) when one answers: the SSO
//! session, and the environments it shares.
//!
//! - The agent's session is handed to the SSO logic as a session store
//!   ([`AgentStore`]) that holds one always-fresh session without a
//!   refresh token: the `REQUIRE_SSO` gate, token exchange, `credential
//!   kubectl --sso` and `auth inspect --sso` then work as they do with a
//!   local session, and the agent alone refreshes (under its lock, N
//!   clients, one refresh). Without local SSO settings, the settings are
//!   those of the agent's session.
//! - A shared environment has no file here: configuration resolution asks
//!   the agent for its token, and its `API_BASE_URL`,
//!   `API_ALLOWED_ORIGINS`, `API_GRAPHQL_URL` and `CREDENTIAL_USERNAME`
//!   stand in for the file ([`Ctx::served_environment`]). Its tokens come
//!   from the agent ([`AgentTokens`]); a 401 asks the agent to discard the
//!   token. Nothing the agent hands out is written to this machine.

use std::cell::RefCell;
use std::path::PathBuf;

use url::Url;

use crate::agent::client::{self, agent_name, AgentLink, Target};
use crate::agent::protocol::{self, SharedEnvironment, SsoSession};
use crate::auth::cache::{CachedToken, IssuedFor};
use crate::auth::dpop::Nonces;
use crate::auth::service::{TokenSource, Tokens};
use crate::auth::sso::dpop::DpopRecord;
use crate::auth::sso::{Session, SessionStore};
use crate::config::{EnvName, FlowSetting, ParSetting, ServedEnvironment, SsoConfig, StoreKind};
use crate::error::{Error, Kind, Result};
use crate::secret::Secret;

use super::Ctx;

/// Where this invocation looks for an agent: `LMI_AGENT_SOCK` when set
/// (not empty), else the default socket.
pub fn target(ctx: &Ctx) -> Target {
    match ctx.env.non_empty("LMI_AGENT_SOCK") {
        Some(sock) => Target {
            socket: PathBuf::from(sock),
            explicit: true,
        },
        None => Target {
            socket: default_socket(ctx),
            explicit: false,
        },
    }
}

/// The agent's default socket, as the agent itself resolves it.
#[cfg(unix)]
fn default_socket(ctx: &Ctx) -> PathBuf {
    crate::agent::socket::socket_path(&ctx.env, &ctx.paths)
}

/// No agent runs here; a path all the same, for messages.
#[cfg(not(unix))]
fn default_socket(ctx: &Ctx) -> PathBuf {
    ctx.paths.data_dir.join("agent.sock")
}

impl Ctx {
    /// The agent this invocation uses, found the first time it is asked
    /// for (a set `LMI_AGENT_SOCK` that does not answer is an error).
    pub fn agent(&self) -> Result<Option<&dyn AgentLink>> {
        let found = self.deps.agent.get_or_init(|| client::find(&target(self)));
        match found {
            Ok(agent) => Ok(agent.as_deref()),
            Err(e) => Err(e.shallow_clone()),
        }
    }

    /// The keys of `name` when this machine has no file for it and the
    /// agent shares it (its first token is kept for [`AgentTokens`]).
    pub(super) fn serve(&self, name: &EnvName) -> Result<Option<ServedEnvironment>> {
        let Some(agent) = self.agent()? else {
            return Ok(None);
        };
        let Some(shared) = agent.token(name.as_str())? else {
            tracing::debug!(target: "agent", "the agent does not share environment {name}");
            return Ok(None);
        };
        let mut values = Vec::new();
        let mut put = |key: &str, value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                values.push((key.to_owned(), value));
            }
        };
        put("API_BASE_URL", shared.api_base_url.clone());
        put(
            "API_ALLOWED_ORIGINS",
            Some(shared.api_allowed_origins.join(" ")),
        );
        put("API_GRAPHQL_URL", shared.api_graphql_url.clone());
        put("CREDENTIAL_USERNAME", shared.credential_username.clone());
        tracing::debug!(target: "agent", "environment {name} is shared by {}", agent_name(agent.socket()));
        let from = PathBuf::from(agent_name(agent.socket()));
        let _ = self.served.set(shared);
        Ok(Some(ServedEnvironment { from, values }))
    }

    /// The shared environment this invocation runs in, when it has no file
    /// here and the agent serves it.
    pub fn served_environment(&self) -> Option<&SharedEnvironment> {
        self.config().ok()?;
        self.served.get()
    }

    /// The environment's name and whether its tokens are DPoP-bound: from
    /// its file (`OAUTH_DPOP`), or for a shared environment from the
    /// token type the agent answered with.
    pub fn environment_dpop(&self) -> Result<(String, bool)> {
        if let Some(shared) = self.served_environment() {
            return Ok((
                shared.name.clone(),
                crate::auth::dpop::is_dpop(&shared.token_type),
            ));
        }
        let service = self.config()?.service()?;
        Ok((service.environment.to_string(), service.dpop))
    }

    /// The agent's SSO session as a store, and the SSO settings to judge it
    /// by: this machine's when SSO is configured here (the agent is told
    /// its issuer and client, and refuses another session), else those of
    /// the agent's session.
    pub(super) fn agent_sso(&self, agent: &dyn AgentLink) -> Result<(AgentStore, SsoConfig)> {
        let config = self.config()?;
        let local = if config.sso_configured() {
            Some(config.sso()?)
        } else {
            None
        };
        let answer = agent.sso(
            local.map(|c| c.issuer_id.as_str()),
            local.map(|c| c.client_id.as_str()),
        );
        let token_url = local.and_then(|c| c.token_url.as_ref());
        let now = self.deps.clock.now();
        let session = answer.map(|s| session_of(s, token_url.map(|u| u.to_string()), now));
        let sso = match (local, &session) {
            (Some(local), _) => local.clone(),
            (None, Ok(session)) => {
                settings_of(session, config.http_timeout()?, config.expiry_skew()?)
            }
            (None, Err(_)) => settings_of_nothing(config.http_timeout()?, config.expiry_skew()?),
        };
        Ok((
            AgentStore {
                socket: agent.socket().to_owned(),
                session,
            },
            sso,
        ))
    }
}

/// The agent's session as lmi's own: no refresh token (the agent keeps
/// it), the token endpoint this machine is configured for (the agent has
/// checked the issuer and client), made by the `agent`. It counts as
/// obtained `now`, so the expiry skew is capped at half of what is left:
/// the agent has judged it usable, and a short-lived token it just
/// refreshed is not refused here.
fn session_of(s: SsoSession, token_endpoint: Option<String>, now: i64) -> Session {
    Session {
        access_token: s.access_token,
        refresh_token: None,
        id_token: s.id_token,
        expires_at: s.expires_at,
        issuer: s.issuer,
        client_id: s.client_id,
        user: s.user.map(|u| crate::redact::server_text(&u, &[])),
        subject: None,
        token_endpoint,
        obtained_at: Some(now),
        flow: Some("agent".to_owned()),
        dpop: DpopRecord {
            token_type: Some(s.token_type),
            ..DpopRecord::default()
        },
    }
}

fn settings_of_nothing(http_timeout: std::time::Duration, skew: i64) -> SsoConfig {
    SsoConfig {
        client_id: String::new(),
        issuer: None,
        issuer_id: String::new(),
        authorization_url: None,
        token_url: None,
        device_authorization_url: None,
        flow: FlowSetting::default(),
        par: ParSetting::default(),
        dpop: false,
        scopes: "openid".to_owned(),
        redirect_port: 0,
        login_timeout: 0,
        store: StoreKind::Keychain,
        skew,
        http_timeout,
    }
}

/// SSO settings for a machine that has none: the agent's session's issuer
/// and client (its token endpoint is discovered from the issuer when a
/// token exchange needs to know it).
fn settings_of(session: &Session, http_timeout: std::time::Duration, skew: i64) -> SsoConfig {
    SsoConfig {
        client_id: session.client_id.clone(),
        issuer: url::Url::parse(&session.issuer).ok(),
        issuer_id: session.issuer.clone(),
        dpop: session.dpop.is_dpop(),
        ..settings_of_nothing(http_timeout, skew)
    }
}

/// The agent's session, asked once per invocation, as a read-only store.
pub struct AgentStore {
    socket: PathBuf,
    session: Result<Session>,
}

impl SessionStore for AgentStore {
    fn load(&self) -> Result<Option<Session>> {
        match &self.session {
            Ok(session) => Ok(Some(session.clone())),
            Err(e) => Err(e.shallow_clone()),
        }
    }

    fn save(&self, _: &Session) -> Result<()> {
        Err(self.read_only())
    }

    fn remove(&self) -> Result<bool> {
        Err(self.read_only())
    }

    fn describe(&self) -> String {
        agent_name(&self.socket)
    }
}

impl AgentStore {
    fn read_only(&self) -> Error {
        Error::usage(format!(
            "the SSO session is {}'s; it is changed only where the agent runs",
            agent_name(&self.socket)
        ))
        .with_hint("log in or out on the machine where the agent runs, or unset LMI_AGENT_SOCK")
    }
}

/// A shared environment's tokens, from the agent: never cached here.
pub struct AgentTokens<'a> {
    pub agent: &'a dyn AgentLink,
    pub environment: &'a str,
    /// The answer configuration resolution already got, used once.
    pub first: RefCell<Option<SharedEnvironment>>,
    pub now: i64,
    /// The `DPoP-Nonce` each origin gave during this run.
    pub nonces: RefCell<Nonces>,
}

impl Tokens for AgentTokens<'_> {
    fn token(&self) -> Result<(CachedToken, TokenSource)> {
        let shared = match self.first.borrow_mut().take() {
            Some(shared) => shared,
            None => self.agent.token(self.environment)?.ok_or_else(|| {
                client::agent_error(
                    self.agent.socket(),
                    Kind::Config,
                    &format!("environment {:?} is no longer shared", self.environment),
                )
            })?,
        };
        let source = match shared.source {
            protocol::Source::Cache => TokenSource::Cache,
            protocol::Source::Acquired => TokenSource::Acquired,
        };
        let token = CachedToken {
            access_token: shared.access_token,
            token_type: shared.token_type,
            expires_at: shared.expires_at,
            obtained_at: self.now,
            refresh_token: None,
            scope: None,
            dpop_jkt: None,
            issued_for: IssuedFor {
                token_url: agent_name(self.agent.socket()),
                client_id: String::new(),
                grant_type: "agent".to_owned(),
                username: None,
                scopes: None,
                audience: None,
                subject: None,
            },
        };
        Ok((token, source))
    }

    fn discard(&self, failed: &Secret) -> Result<bool> {
        let discarded = self.agent.discard(self.environment, failed)?;
        tracing::info!(target: "auth", "asked {} to discard the rejected token of environment {} (discarded: {discarded})", agent_name(self.agent.socket()), self.environment);
        Ok(discarded)
    }

    /// The agent signs with the environment's key, which stays on its
    /// machine; the nonce is the one this run learned from that origin.
    fn proof(&self, method: &str, url: &Url, token: &CachedToken) -> Result<Option<Secret>> {
        if !crate::auth::dpop::is_dpop(&token.token_type) {
            return Ok(None);
        }
        let nonce = self.nonces.borrow().get(url).map(str::to_owned);
        let htu = crate::auth::dpop::htu(url);
        let proof = self.agent.proof(
            self.environment,
            method,
            &htu,
            &token.access_token,
            nonce.as_deref(),
        )?;
        Ok(Some(proof))
    }

    /// Kept for this run only: the agent keeps its own nonces.
    fn observe(&self, url: &Url, headers: &[(String, String)]) -> bool {
        let Some(nonce) = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(crate::auth::dpop::NONCE_HEADER))
            .map(|(_, v)| v.trim())
        else {
            return false;
        };
        self.nonces.borrow_mut().set(url, nonce)
    }

    fn dpop_jkt(&self) -> Result<Option<String>> {
        Ok(None)
    }
}

#[cfg(test)]
#[path = "via_agent_tests.rs"]
mod tests;
