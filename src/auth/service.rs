//! The environment's service token (SPEC §4): lock → read → check →
//! refresh or acquire → save, and the compare-and-discard after a 401.
//!
//! [`ServiceAuth`] holds what one invocation needs: the typed settings, the
//! cache, the transport, the clock and the `REQUIRE_SSO` gate (checked once
//! per invocation, however many tokens the invocation asks for). A failed
//! exchange never touches the cache. [`ServiceAuth::discard`] removes a
//! token only if the cache still holds that same token, so a token another
//! process just acquired is not thrown away.

use std::cell::Cell;
use std::time::Duration;

use serde::Serialize;
use url::Url;

use crate::auth::cache::{CachedToken, IssuedFor, Lookup, TokenCache};
use crate::auth::clock::Clock;
use crate::auth::discovery;
use crate::auth::grants::{request_token, Grant, GrantError, GrantFailure, TokenRequest};
use crate::config::{Endpoint, GrantKind, ServiceConfig};
use crate::error::{Error, Result};
use crate::http::{discovered_endpoint, Transport};
use crate::secret::Secret;

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenSource {
    Cache,
    Acquired,
}

/// The check a `REQUIRE_SSO` environment runs before handing out a token.
pub type Gate<'a> = &'a dyn Fn() -> Result<()>;

/// The environment's service tokens for one invocation.
pub struct ServiceAuth<'a> {
    config: &'a ServiceConfig,
    cache: &'a TokenCache,
    transport: &'a dyn Transport,
    clock: &'a dyn Clock,
    gate: Option<Gate<'a>>,
    gate_passed: Cell<bool>,
}

impl<'a> ServiceAuth<'a> {
    pub fn new(
        config: &'a ServiceConfig,
        cache: &'a TokenCache,
        transport: &'a dyn Transport,
        clock: &'a dyn Clock,
    ) -> ServiceAuth<'a> {
        ServiceAuth {
            config,
            cache,
            transport,
            clock,
            gate: None,
            gate_passed: Cell::new(false),
        }
    }

    /// Runs `gate` (once) before the first token is handed out.
    pub fn with_gate(mut self, gate: Gate<'a>) -> ServiceAuth<'a> {
        self.gate = Some(gate);
        self
    }

    pub fn config(&self) -> &ServiceConfig {
        self.config
    }

    fn env(&self) -> &str {
        self.config.environment.as_str()
    }

    fn lock_wait(&self) -> Duration {
        self.config.timeout * 2 + Duration::from_secs(10)
    }

    /// The environment's token: the cached one while valid, else a new one.
    pub fn token(&self) -> Result<(CachedToken, TokenSource)> {
        if let Some(gate) = self.gate.filter(|_| !self.gate_passed.get()) {
            gate()?;
            self.gate_passed.set(true);
        }
        let env = self.env();
        // Fast path, no lock: a valid token for these settings.
        if let Some(token) = self.usable(self.clock.now()) {
            tracing::debug!(target: "auth", "cache hit for environment {env}");
            return Ok((token, TokenSource::Cache));
        }
        let _lock = self.cache.lock(env, self.lock_wait())?;
        // Someone may have acquired one while we waited for the lock.
        let previous = match self.cache.read(env) {
            Lookup::Found(token) if self.matches(&token) => {
                if token.is_fresh(self.clock.now(), self.config.skew) {
                    tracing::debug!(target: "auth", "cache hit for environment {env} after waiting for the lock");
                    return Ok((*token, TokenSource::Cache));
                }
                Some(token)
            }
            _ => None,
        };
        tracing::debug!(target: "auth", "cache miss for environment {env}");
        let token = self.acquire(previous.as_deref())?;
        if let Err(e) = self.cache.write(env, &token) {
            tracing::warn!(target: "auth", "could not cache the token in {}: {e}", self.cache.path(env).display());
        }
        Ok((token, TokenSource::Acquired))
    }

    /// After a 401: removes the cached token if it is still `failed`.
    pub fn discard(&self, failed: &Secret) -> Result<()> {
        let env = self.env();
        let _lock = self.cache.lock(env, self.lock_wait())?;
        match self.cache.read(env) {
            Lookup::Found(token) if &token.access_token == failed => {
                tracing::info!(target: "auth", "discarding the rejected token of environment {env}");
                if let Err(e) = self.cache.remove(env) {
                    tracing::warn!(target: "auth", "could not delete {}: {e}", self.cache.path(env).display());
                }
            }
            _ => {
                tracing::debug!(target: "auth", "the cache already holds another token; keeping it")
            }
        }
        Ok(())
    }

    /// What a cached token must have been issued for to be used. For a
    /// discovered endpoint the service URL stands for the token URL.
    fn issued_for(&self, token_url: &str) -> IssuedFor {
        issued_for(self.config, token_url)
    }

    fn matches(&self, token: &CachedToken) -> bool {
        matches(self.config, token, self.cache)
    }

    /// Reads the cache, warning about (and ignoring) a corrupt file.
    fn usable(&self, now: i64) -> Option<CachedToken> {
        match self.cache.read(self.env()) {
            Lookup::Found(token)
                if self.matches(&token) && token.is_fresh(now, self.config.skew) =>
            {
                Some(*token)
            }
            Lookup::Found(token) if !self.matches(&token) => {
                tracing::debug!(target: "auth", "cached token was issued for other settings");
                None
            }
            Lookup::Corrupt(reason) => {
                tracing::warn!(
                    target: "auth",
                    "ignoring the token cache {}: {reason}; acquiring a new token",
                    self.cache.path(self.env()).display()
                );
                None
            }
            _ => None,
        }
    }

    /// Refreshes with the previous refresh token when there is one, else (or
    /// when that fails) runs the full grant.
    fn acquire(&self, previous: Option<&CachedToken>) -> Result<CachedToken> {
        if let Some(refresh) = previous.and_then(|t| t.refresh_token.clone()) {
            match self.exchange(Grant::RefreshToken(refresh)) {
                Ok(token) => return Ok(token),
                Err(e) => {
                    tracing::info!(target: "auth", "refresh failed ({}); running the full grant", e.message())
                }
            }
        }
        let grant = match self.config.grant {
            GrantKind::ClientCredentials => Grant::ClientCredentials,
            GrantKind::Password => Grant::Password {
                username: self.config.username.clone().unwrap_or_default(),
                password: self
                    .config
                    .password
                    .clone()
                    .unwrap_or_else(|| Secret::new("")),
            },
        };
        self.exchange(grant)
    }

    /// One exchange at the token endpoint, rediscovering the endpoint once
    /// when cached metadata led nowhere.
    fn exchange(&self, grant: Grant) -> Result<CachedToken> {
        let (token_url, from_cache) = self.token_endpoint(false)?;
        match self.send(&token_url, grant.clone()) {
            Err(failure) if from_cache && !failure.reached() => {
                tracing::info!(target: "auth", "token endpoint from cached metadata failed; discovering again");
                self.cache.remove_metadata(self.env());
                let (token_url, _) = self.token_endpoint(true)?;
                self.send(&token_url, grant)
                    .map_err(|e| e.into_error(service_hint))
            }
            other => other.map_err(|e| e.into_error(service_hint)),
        }
    }

    fn send(&self, token_url: &Url, grant: Grant) -> std::result::Result<CachedToken, GrantError> {
        let config = self.config;
        let request = TokenRequest {
            token_url,
            client_id: &config.client_id,
            client_secret: config.client_secret.as_ref(),
            auth_method: config.auth_method,
            grant,
            scopes: config.scopes.as_deref(),
            audience: config.audience.as_deref(),
        };
        // RFC 6749 §6: a refresh response may leave the refresh token out, in
        // which case the old one stays valid.
        let previous_refresh = match &request.grant {
            Grant::RefreshToken(token) => Some(token.clone()),
            _ => None,
        };
        let response = request_token(self.transport, &request)?;
        let now = self.clock.now();
        let expires_at =
            crate::auth::expires_at(now, response.expires_in, response.access_token.expose());
        let issued_url = match &config.endpoint {
            Endpoint::Explicit(url) => url.to_string(),
            Endpoint::Discover(_) => token_url.to_string(),
        };
        Ok(CachedToken {
            access_token: response.access_token,
            token_type: response.token_type,
            expires_at,
            obtained_at: now,
            refresh_token: response.refresh_token.or(previous_refresh),
            scope: response.scope,
            issued_for: self.issued_for(&issued_url),
        })
    }

    /// The token URL: explicit, from cached metadata, or discovered (and
    /// cached). The flag says whether it came from the metadata cache.
    fn token_endpoint(&self, refetch: bool) -> Result<(Url, bool)> {
        let issuer = match &self.config.endpoint {
            Endpoint::Explicit(url) => return Ok((url.clone(), false)),
            Endpoint::Discover(issuer) => issuer,
        };
        let env = self.env();
        if !refetch {
            if let Some(meta) = self.cache.read_metadata(env, issuer.as_str()) {
                if let Some(url) = meta.token_endpoint.as_deref() {
                    return Ok((discovered_endpoint("token_endpoint", url, issuer)?, true));
                }
            }
        }
        let meta =
            discovery::fetch_issuer(self.transport, "OAUTH_SERVICE_URL", issuer, issuer.as_str())?;
        let raw = meta.token_endpoint.clone().ok_or_else(|| {
            Error::auth(format!("the metadata of {issuer} has no token_endpoint"))
                .with_hint("set OAUTH_TOKEN_URL explicitly")
        })?;
        let url = discovered_endpoint("token_endpoint", &raw, issuer)?;
        if let Err(e) = self.cache.write_metadata(env, issuer.as_str(), &meta) {
            tracing::debug!(target: "auth", "could not cache metadata: {e}");
        }
        Ok((url, false))
    }
}

/// What to check when the service's token endpoint fails: the keys that
/// configured the request.
fn service_hint(failure: &GrantFailure) -> Option<String> {
    let hint = match failure {
        GrantFailure::NoEndpoint(_) => return None,
        GrantFailure::Unreachable { .. } => {
            "check OAUTH_TOKEN_URL / OAUTH_SERVICE_URL and your network, then try again"
        }
        GrantFailure::Refused(e) => match e.code.as_str() {
            "invalid_client" | "unauthorized_client" => {
                "check OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET and OAUTH_CLIENT_AUTH_METHOD"
            }
            "invalid_grant" => "check OAUTH_USERNAME and OAUTH_PASSWORD",
            "invalid_scope" => "check OAUTH_SCOPES",
            _ => "check the environment's OAuth settings (lmi config show)",
        },
        GrantFailure::Status {
            status: 404 | 405, ..
        } => {
            "is that the token endpoint? check OAUTH_TOKEN_URL (or OAUTH_SERVICE_URL for discovery)"
        }
        GrantFailure::Status { .. } => {
            "the OAuth service may be down; try again, or check OAUTH_TOKEN_URL"
        }
        GrantFailure::Malformed(_) => {
            "the server is not a working OAuth 2.0 token endpoint; check OAUTH_TOKEN_URL"
        }
    };
    Some(hint.to_owned())
}

fn issued_for(config: &ServiceConfig, token_url: &str) -> IssuedFor {
    IssuedFor {
        token_url: token_url.to_owned(),
        client_id: config.client_id.clone(),
        grant_type: config.grant.name().to_owned(),
        username: config.username.clone(),
        scopes: config.scopes.clone(),
        audience: config.audience.clone(),
    }
}

/// Whether a cached token was issued for these settings. For a discovered
/// endpoint the token must come from the endpoint that this service URL's
/// cached metadata names, so a changed OAUTH_SERVICE_URL is a miss.
fn matches(config: &ServiceConfig, token: &CachedToken, cache: &TokenCache) -> bool {
    let ours = |url: &str| issued_for(config, url) == token.issued_for;
    match &config.endpoint {
        Endpoint::Explicit(url) => ours(url.as_str()),
        Endpoint::Discover(issuer) => cache
            .read_metadata(config.environment.as_str(), issuer.as_str())
            .and_then(|meta| meta.token_endpoint)
            .and_then(|raw| Url::parse(&raw).ok())
            .is_some_and(|endpoint| ours(endpoint.as_str())),
    }
}

/// The service token state for `auth status` (no network). A token counts
/// as cached only if `auth token` would use it: issued for the current
/// settings (when they are complete enough to tell).
pub fn cached_state(
    cache: &TokenCache,
    environment: &str,
    config: Option<&ServiceConfig>,
) -> Option<CachedToken> {
    match cache.read(environment) {
        Lookup::Found(token) => match config {
            Some(config) if !matches(config, &token, cache) => None,
            _ => Some(*token),
        },
        _ => None,
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
