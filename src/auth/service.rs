//! The environment's service token (SPEC §4): lock → read → check →
//! refresh or acquire → save, and the compare-and-discard after a 401.
//!
//! [`ServiceAuth`] holds what one invocation needs: the typed settings, the
//! cache, the transport, the clock and the `REQUIRE_SSO` gate (checked once
//! per invocation, however many tokens the invocation asks for). A failed
//! exchange never touches the cache. The client authenticates as
//! configured on every request, refreshes included (a secret, a fresh
//! `private_key_jwt` assertion, or only `client_id`); a token exchange's
//! subject is part of what a cached token was issued for. [`ServiceAuth::discard`] removes a
//! token only if the cache still holds that same token, so a token another
//! process just acquired is not thrown away.

use std::cell::{Cell, OnceCell};
use std::time::Duration;

use url::Url;

use crate::auth::cache::{CachedToken, Lookup, TokenCache};
use crate::auth::client_auth::Assertions;
use crate::auth::discovery;
use crate::auth::dpop::Prover;
use crate::auth::grants::{self, Grant, GrantError, GrantFailure, TokenRequest};
use crate::auth::oauth::DpopStep;
use crate::auth::service_hint::service_hint;
pub use crate::auth::service_match::cached_state;
use crate::auth::service_match::{bound_as_configured, issued_for, matches};
use crate::auth::token_exchange::{SessionSubject, Subject};
use crate::clock::Clock;
use crate::config::{Endpoint, EnvName, GrantKind, ServiceConfig};
use crate::error::{Error, Result};
use crate::http::{discovered_endpoint, Transport};
use crate::secret::Secret;

pub use crate::auth::tokens::{TokenSource, Tokens};

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
    assertions: Option<Assertions<'a>>,
    session: Option<&'a SessionSubject<'a>>,
    /// The DPoP key and nonces (`OAUTH_DPOP`), read or made on first use.
    prover: OnceCell<std::result::Result<Prover, Error>>,
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
            assertions: config
                .assertion
                .as_ref()
                .map(|source| Assertions::new(source, &config.client_id, clock)),
            session: None,
            prover: OnceCell::new(),
        }
    }

    /// Exchanges the SSO session's access token (token exchange without a
    /// subject file).
    pub fn with_session_subject(mut self, session: &'a SessionSubject<'a>) -> ServiceAuth<'a> {
        self.session = Some(session);
        self
    }

    /// Runs `gate` (once) before the first token is handed out.
    pub fn with_gate(mut self, gate: Gate<'a>) -> ServiceAuth<'a> {
        self.gate = Some(gate);
        self
    }

    pub fn config(&self) -> &ServiceConfig {
        self.config
    }

    fn env(&self) -> &EnvName {
        &self.config.environment
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
        self.cache.check_trusted(env)?;
        // A bad key file is an error before anything else: never replaced.
        self.prover()?;
        // A token exchange's subject, read now: a cached token counts only
        // for the same subject.
        let subject = match &self.config.subject {
            Some(source) => Some(Subject::current(source, self.session)?),
            None => None,
        };
        let subject = subject.as_ref();
        // Fast path, no lock: a valid token for these settings.
        if let Some(token) = self.usable(self.clock.now(), subject) {
            tracing::debug!(target: "auth", "cache hit for environment {env}");
            return Ok((token, TokenSource::Cache));
        }
        let _lock = self.cache.lock(env, self.lock_wait())?;
        // Someone may have acquired one while we waited for the lock.
        let previous = match self.cache.read(env) {
            Lookup::Found(token) if self.matches(&token, subject) => {
                if token.is_fresh(self.clock.now(), self.config.skew) {
                    tracing::debug!(target: "auth", "cache hit for environment {env} after waiting for the lock");
                    return Ok((*token, TokenSource::Cache));
                }
                Some(token)
            }
            _ => None,
        };
        tracing::debug!(target: "auth", "cache miss for environment {env}");
        let token = self.acquire(previous.as_deref(), subject)?;
        if let Err(e) = self.cache.write(env, &token) {
            tracing::warn!(target: "auth", "could not cache the token in {}: {e}", self.cache.path(env).display());
        }
        Ok((token, TokenSource::Acquired))
    }

    /// After a 401: drops the cached access token if it is still `failed`
    /// (`true` when it was). The service rejected the access token, not the
    /// refresh token, so a refresh token stays for the next acquisition to
    /// try first.
    pub fn discard(&self, failed: &Secret) -> Result<bool> {
        let env = self.env();
        self.cache.check_trusted(env)?;
        let _lock = self.cache.lock(env, self.lock_wait())?;
        match self.cache.read(env) {
            Lookup::Found(mut token) if &token.access_token == failed => {
                tracing::info!(target: "auth", "discarding the rejected token of environment {env}");
                let kept = if token.refresh_token.is_some() {
                    token.access_token = Secret::new("");
                    self.cache.write(env, &token)
                } else {
                    self.cache.remove(env).map(|_| ())
                };
                if let Err(e) = kept {
                    tracing::warn!(target: "auth", "could not update {}: {e}", self.cache.path(env).display());
                }
                Ok(true)
            }
            _ => {
                tracing::debug!(target: "auth", "the cache already holds another token; keeping it");
                Ok(false)
            }
        }
    }

    fn matches(&self, token: &CachedToken, subject: Option<&Subject>) -> bool {
        let jkt = self.prover().ok().flatten().map(Prover::jkt);
        matches(
            self.config,
            token,
            self.cache,
            subject.map(|s| s.identity.as_str()),
        ) && bound_as_configured(self.config, token, jkt.as_deref())
    }

    /// Reads the cache, warning about (and ignoring) a corrupt file.
    fn usable(&self, now: i64, subject: Option<&Subject>) -> Option<CachedToken> {
        match self.cache.read(self.env()) {
            Lookup::Found(token)
                if self.matches(&token, subject) && token.is_fresh(now, self.config.skew) =>
            {
                Some(*token)
            }
            Lookup::Found(token) if !self.matches(&token, subject) => {
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
    fn acquire(
        &self,
        previous: Option<&CachedToken>,
        subject: Option<&Subject>,
    ) -> Result<CachedToken> {
        if let Some(refresh) = previous.and_then(|t| t.refresh_token.clone()) {
            match self.request_token(Grant::RefreshToken(refresh), subject) {
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
            GrantKind::TokenExchange => {
                let Some(subject) = subject else {
                    return Err(Error::auth("token exchange has no subject token"));
                };
                let (subject_token, subject_token_type) = subject.token(self.session)?;
                Grant::TokenExchange {
                    subject_token,
                    subject_token_type,
                }
            }
        };
        self.request_token(grant, subject)
    }

    /// One exchange at the token endpoint, rediscovering the endpoint once
    /// when cached metadata led nowhere.
    fn request_token(&self, grant: Grant, subject: Option<&Subject>) -> Result<CachedToken> {
        let hint = |failure: &GrantFailure| service_hint(self.config, failure);
        let (endpoint, from_cache) = self.token_endpoint(false)?;
        match self.send(&endpoint, grant.clone(), subject)? {
            Err(failure) if from_cache && !failure.reached() => {
                tracing::info!(target: "auth", "token endpoint from cached metadata failed; discovering again");
                self.cache.remove_metadata(self.env());
                let (endpoint, _) = self.token_endpoint(true)?;
                self.send(&endpoint, grant, subject)?
                    .map_err(|e| e.into_error(hint))
            }
            other => other.map_err(|e| e.into_error(hint)),
        }
    }

    /// One token request. The outer error is lmi's own (a key or an
    /// assertion file that cannot be used); the inner one the endpoint's.
    fn send(
        &self,
        endpoint: &TokenEndpoint,
        grant: Grant,
        subject: Option<&Subject>,
    ) -> Result<std::result::Result<CachedToken, GrantError>> {
        let config = self.config;
        let token_url = &endpoint.url;
        // The SSO session's token goes only where SPEC §4.2 allows; checked
        // here, where every token request passes, rediscovered ones too.
        if let (Grant::TokenExchange { .. }, Some(session)) = (&grant, self.session) {
            session.check_endpoint(token_url, &config.exchange_origins)?;
        }
        // RFC 7523 §3: a fresh assertion per request. Its audience is the
        // issuer identifier (SPEC §4.1, draft-ietf-oauth-rfc7523bis): a
        // token endpoint URL taken from some server's metadata could be
        // another server's, which would then accept the assertion.
        let audience = endpoint.issuer.as_deref().unwrap_or(token_url.as_str());
        let assertion = self
            .assertions
            .as_ref()
            .map(|a| a.make(audience))
            .transpose()?;
        let request = TokenRequest {
            token_url,
            client_id: &config.client_id,
            client_secret: config.client_secret.as_ref(),
            auth_method: config.auth_method,
            client_assertion: assertion.as_ref(),
            grant,
            scopes: config.scopes.as_deref(),
            audience: config.audience.as_deref(),
            dpop: self.prover()?.map(|prover| DpopStep {
                prover,
                now: self.clock.now(),
            }),
        };
        // RFC 6749 §6: a refresh response may leave the refresh token out, in
        // which case the old one stays valid.
        let previous_refresh = match &request.grant {
            Grant::RefreshToken(token) => Some(token.clone()),
            _ => None,
        };
        let response = match grants::request_token(self.transport, &request) {
            Ok(response) => response,
            Err(e) => return Ok(Err(e)),
        };
        let now = self.clock.now();
        let expires_at = response.expires_at(now);
        let issued_url = match &config.endpoint {
            Endpoint::Explicit(url) => url.to_string(),
            Endpoint::Discover(_) => token_url.to_string(),
        };
        Ok(Ok(CachedToken {
            access_token: response.access_token,
            token_type: response.token_type,
            expires_at,
            obtained_at: now,
            refresh_token: response.refresh_token.or(previous_refresh),
            scope: response.scope,
            dpop_jkt: request.dpop.map(|step| step.prover.jkt()),
            issued_for: issued_for(config, &issued_url, subject.map(|s| s.identity.as_str())),
        }))
    }

    /// The token URL (explicit, from cached metadata, or discovered and
    /// cached) with the issuer identifier when metadata names one. The flag
    /// says whether it came from the metadata cache.
    fn token_endpoint(&self, refetch: bool) -> Result<(TokenEndpoint, bool)> {
        let issuer = match &self.config.endpoint {
            Endpoint::Explicit(url) => {
                let url = url.clone();
                return Ok((TokenEndpoint { url, issuer: None }, false));
            }
            Endpoint::Discover(issuer) => issuer,
        };
        let env = self.env();
        if !refetch {
            if let Some(meta) = self.cache.read_metadata(env, issuer.as_str()) {
                if let Some(url) = meta.token_endpoint.as_deref() {
                    let url = discovered_endpoint("token_endpoint", url, issuer)?;
                    return Ok((TokenEndpoint::discovered(url, meta.issuer), true));
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
        Ok((TokenEndpoint::discovered(url, meta.issuer), false))
    }
}

/// Where a token request goes, and the issuer identifier of the validated
/// metadata that named it (none for an explicit `OAUTH_TOKEN_URL`).
struct TokenEndpoint {
    url: Url,
    issuer: Option<String>,
}

impl TokenEndpoint {
    fn discovered(url: Url, issuer: String) -> TokenEndpoint {
        TokenEndpoint {
            url,
            issuer: Some(issuer),
        }
    }
}

#[path = "service_dpop.rs"]
mod dpop;

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
