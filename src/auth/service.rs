//! The environment's service token: configuration checks, then
//! lock → read → refresh or acquire → save (SPEC §4).
//!
//! Configuration problems are found before any network request. A failed
//! exchange never touches the cache. On a 401 from the service, [`discard`]
//! removes the token only if the cache still holds that same token, so a
//! token another process just acquired is not thrown away.

use std::time::Duration;

use serde::Serialize;
use url::Url;

use crate::auth::cache::{CachedToken, IssuedFor, Lookup, TokenCache};
use crate::auth::discovery;
use crate::auth::grants::{request_token, AuthMethod, Grant, GrantError, TokenRequest};
use crate::commands::Ctx;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::{discovered_endpoint, secure_endpoint, Http, Transport};
use crate::secret::Secret;

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenSource {
    Cache,
    Acquired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    ClientCredentials,
    Password,
}

/// Where the token endpoint comes from.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Explicit(Url),
    Discover(Url),
}

/// Validated service-auth settings for one environment.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub environment: String,
    pub grant: GrantKind,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub auth_method: AuthMethod,
    pub endpoint: Endpoint,
    pub scopes: Option<String>,
    pub audience: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub skew: i64,
    pub timeout: Duration,
}

impl ServiceConfig {
    /// Checks every key the grant needs; no network.
    pub fn from_settings(settings: &Settings, ctx: &Ctx) -> Result<ServiceConfig> {
        let paths = &ctx.paths;
        let environment = settings.require_environment(paths)?.to_owned();
        let grant = match settings
            .get("OAUTH_GRANT_TYPE")
            .unwrap_or("client_credentials")
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "client_credentials" => GrantKind::ClientCredentials,
            "password" => GrantKind::Password,
            other => {
                return Err(
                    Error::config(format!("OAUTH_GRANT_TYPE {other:?} is not supported"))
                        .with_hint("valid values: client_credentials, password"),
                )
            }
        };
        let auth_raw = settings
            .get("OAUTH_CLIENT_AUTH_METHOD")
            .unwrap_or("client_secret_basic");
        let auth_method = AuthMethod::parse(auth_raw).ok_or_else(|| {
            Error::config(format!(
                "OAUTH_CLIENT_AUTH_METHOD {auth_raw:?} is not supported"
            ))
            .with_hint("valid values: client_secret_basic, client_secret_post")
        })?;
        let client_id = settings.require("OAUTH_CLIENT_ID", paths)?.to_owned();
        let client_secret = settings.secret("OAUTH_CLIENT_SECRET");
        let (username, password) = match grant {
            GrantKind::ClientCredentials => {
                if client_secret.is_none() {
                    settings.require("OAUTH_CLIENT_SECRET", paths)?;
                }
                (None, None)
            }
            GrantKind::Password => (
                Some(settings.require("OAUTH_USERNAME", paths)?.to_owned()),
                Some(Secret::new(settings.require("OAUTH_PASSWORD", paths)?)),
            ),
        };
        let endpoint = match (settings.get("OAUTH_TOKEN_URL"), settings.get("OAUTH_SERVICE_URL")) {
            (Some(url), _) => Endpoint::Explicit(secure_endpoint("OAUTH_TOKEN_URL", url)?),
            (None, Some(url)) => Endpoint::Discover(secure_endpoint("OAUTH_SERVICE_URL", url)?),
            (None, None) => {
                return Err(Error::config(format!("neither OAUTH_TOKEN_URL nor OAUTH_SERVICE_URL is set for environment {environment:?}"))
                    .with_hint(settings.where_to_set("OAUTH_SERVICE_URL (or OAUTH_TOKEN_URL)", paths)))
            }
        };
        let skew = settings.u64("TOKEN_EXPIRY_SKEW")? as i64;
        let timeout = Duration::from_secs(settings.u64("HTTP_TIMEOUT")?.max(1));
        Ok(ServiceConfig {
            environment,
            grant,
            client_id,
            client_secret,
            auth_method,
            endpoint,
            scopes: settings.get("OAUTH_SCOPES").map(str::to_owned),
            audience: settings.get("OAUTH_AUDIENCE").map(str::to_owned),
            username,
            password,
            skew,
            timeout,
        })
    }

    fn grant_name(&self) -> &'static str {
        match self.grant {
            GrantKind::ClientCredentials => "client_credentials",
            GrantKind::Password => "password",
        }
    }

    /// What a cached token must have been issued for to be used. For a
    /// discovered endpoint the service URL stands for the token URL.
    fn issued_for(&self, token_url: &str) -> IssuedFor {
        IssuedFor {
            token_url: token_url.to_owned(),
            client_id: self.client_id.clone(),
            grant_type: self.grant_name().to_owned(),
            username: self.username.clone(),
            scopes: self.scopes.clone(),
            audience: self.audience.clone(),
        }
    }

    /// Whether a cached token was issued for these settings. For a
    /// discovered endpoint the token must come from the endpoint that this
    /// service URL's cached metadata names, so a changed OAUTH_SERVICE_URL
    /// is a miss.
    fn matches(&self, token: &CachedToken, cache: &TokenCache) -> bool {
        let ours = |url: &str| self.issued_for(url) == token.issued_for;
        match &self.endpoint {
            Endpoint::Explicit(url) => ours(url.as_str()),
            Endpoint::Discover(issuer) => cache
                .read_metadata(&self.environment, issuer.as_str())
                .and_then(|meta| meta.token_endpoint)
                .and_then(|raw| url::Url::parse(&raw).ok())
                .is_some_and(|endpoint| ours(endpoint.as_str())),
        }
    }
}

/// The service token state for `auth status` (no network).
/// A token counts as cached only if `auth token` would use it: issued for
/// the current settings (when they are complete enough to tell).
pub fn cached_state(ctx: &Ctx, settings: &Settings, environment: &str) -> Option<CachedToken> {
    let cache = TokenCache::new(ctx.paths.tokens_dir());
    match cache.read(environment) {
        Lookup::Found(token) => match ServiceConfig::from_settings(settings, ctx) {
            Ok(config) if !config.matches(&token, &cache) => None,
            _ => Some(*token),
        },
        _ => None,
    }
}

/// The environment's token: the cached one while valid, else a new one.
pub fn service_token(ctx: &Ctx, settings: &Settings) -> Result<(CachedToken, TokenSource)> {
    let config = ServiceConfig::from_settings(settings, ctx)?;
    if settings.bool("REQUIRE_SSO")? {
        let sso = crate::auth::sso::SsoConfig::from_settings(settings, &ctx.paths)?;
        let system = crate::auth::sso::SystemDeps::new(&sso, &ctx.paths, ctx.env.get("BROWSER"));
        crate::auth::sso::require_session(&system.deps(), &sso, settings.environment.as_deref())?;
    }
    let cache = TokenCache::new(ctx.paths.tokens_dir());
    let env = config.environment.as_str();
    let now = crate::auth::now();

    // Fast path, no lock: a valid token for these settings.
    if let Some(token) = usable(&cache, &config, now, true) {
        tracing::debug!(target: "auth", "cache hit for environment {env}");
        return Ok((token, TokenSource::Cache));
    }
    let _lock = cache.lock(env, config.timeout * 2 + Duration::from_secs(10))?;
    // Someone may have acquired one while we waited for the lock.
    let previous = match cache.read(env) {
        Lookup::Found(token) if config.matches(&token, &cache) => {
            if token.is_fresh(crate::auth::now(), config.skew) {
                tracing::debug!(target: "auth", "cache hit for environment {env} after waiting for the lock");
                return Ok((*token, TokenSource::Cache));
            }
            Some(token)
        }
        _ => None,
    };
    tracing::debug!(target: "auth", "cache miss for environment {env}");
    let http = Http::new(config.timeout);
    let token = acquire(&http, &cache, &config, previous.as_deref())?;
    if let Err(e) = cache.write(env, &token) {
        tracing::warn!(target: "auth", "could not cache the token in {}: {e}", cache.path(env).display());
    }
    Ok((token, TokenSource::Acquired))
}

/// Reads the cache, warning about (and ignoring) a corrupt file.
fn usable(cache: &TokenCache, config: &ServiceConfig, now: i64, warn: bool) -> Option<CachedToken> {
    match cache.read(&config.environment) {
        Lookup::Found(token)
            if config.matches(&token, cache) && token.is_fresh(now, config.skew) =>
        {
            Some(*token)
        }
        Lookup::Found(token) if !config.matches(&token, cache) => {
            tracing::debug!(target: "auth", "cached token was issued for other settings");
            None
        }
        Lookup::Corrupt(reason) if warn => {
            tracing::warn!(
                target: "auth",
                "ignoring the token cache {}: {reason}; acquiring a new token",
                cache.path(&config.environment).display()
            );
            None
        }
        _ => None,
    }
}

/// Refreshes with the previous refresh token when there is one, else (or when
/// that fails) runs the full grant.
fn acquire(
    http: &dyn Transport,
    cache: &TokenCache,
    config: &ServiceConfig,
    previous: Option<&CachedToken>,
) -> Result<CachedToken> {
    if let Some(refresh) = previous.and_then(|t| t.refresh_token.clone()) {
        match exchange(http, cache, config, Grant::RefreshToken(refresh)) {
            Ok(token) => return Ok(token),
            Err(e) => {
                tracing::info!(target: "auth", "refresh failed ({}); running the full grant", e.message())
            }
        }
    }
    let grant = match config.grant {
        GrantKind::ClientCredentials => Grant::ClientCredentials,
        GrantKind::Password => Grant::Password {
            username: config.username.clone().unwrap_or_default(),
            password: config.password.clone().unwrap_or_else(|| Secret::new("")),
        },
    };
    exchange(http, cache, config, grant)
}

/// One exchange at the token endpoint, rediscovering the endpoint once when
/// cached metadata led nowhere.
fn exchange(
    http: &dyn Transport,
    cache: &TokenCache,
    config: &ServiceConfig,
    grant: Grant,
) -> Result<CachedToken> {
    let env = config.environment.as_str();
    let (token_url, from_cache) = token_endpoint(http, cache, config, false)?;
    match send(http, config, &token_url, grant.clone()) {
        Err(failure) if from_cache && !failure.reached => {
            tracing::info!(target: "auth", "token endpoint from cached metadata failed; discovering again");
            cache.remove_metadata(env);
            let (token_url, _) = token_endpoint(http, cache, config, true)?;
            send(http, config, &token_url, grant).map_err(Error::from)
        }
        other => other.map_err(Error::from),
    }
}

fn send(
    http: &dyn Transport,
    config: &ServiceConfig,
    token_url: &Url,
    grant: Grant,
) -> std::result::Result<CachedToken, GrantError> {
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
    let response = request_token(http, &request)?;
    let now = crate::auth::now();
    let expires_at = match response.expires_in {
        Some(secs) => Some(now.saturating_add(secs.min(i64::MAX as u64) as i64)),
        None => crate::auth::jwt_expiry(response.access_token.expose()),
    };
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
        issued_for: config.issued_for(&issued_url),
    })
}

/// The token URL: explicit, from cached metadata, or discovered (and cached).
/// The flag says whether it came from the metadata cache.
fn token_endpoint(
    http: &dyn Transport,
    cache: &TokenCache,
    config: &ServiceConfig,
    refetch: bool,
) -> Result<(Url, bool)> {
    let issuer = match &config.endpoint {
        Endpoint::Explicit(url) => return Ok((url.clone(), false)),
        Endpoint::Discover(issuer) => issuer,
    };
    let env = config.environment.as_str();
    if !refetch {
        if let Some(meta) = cache.read_metadata(env, issuer.as_str()) {
            if let Some(url) = meta.token_endpoint.as_deref() {
                return Ok((discovered_endpoint("token_endpoint", url, issuer)?, true));
            }
        }
    }
    let meta = discovery::fetch(http, "OAUTH_SERVICE_URL", issuer)?;
    // RFC 8414 §3.3: the document must describe the configured issuer.
    if meta.issuer.trim_end_matches('/') != issuer.as_str().trim_end_matches('/') {
        return Err(Error::auth(format!(
            "the metadata found at {issuer} names the issuer {:?}, not OAUTH_SERVICE_URL",
            meta.issuer
        ))
        .with_hint("set OAUTH_SERVICE_URL to the exact issuer identifier of the OAuth service, or set OAUTH_TOKEN_URL"));
    }
    let raw = meta.token_endpoint.clone().ok_or_else(|| {
        Error::auth(format!("the metadata of {issuer} has no token_endpoint"))
            .with_hint("set OAUTH_TOKEN_URL explicitly")
    })?;
    let url = discovered_endpoint("token_endpoint", &raw, issuer)?;
    if let Err(e) = cache.write_metadata(env, issuer.as_str(), &meta) {
        tracing::debug!(target: "auth", "could not cache metadata: {e}");
    }
    Ok((url, false))
}

/// After a 401: removes the cached token if it is still `failed`.
pub fn discard(ctx: &Ctx, settings: &Settings, failed: &Secret) -> Result<()> {
    let config = ServiceConfig::from_settings(settings, ctx)?;
    let cache = TokenCache::new(ctx.paths.tokens_dir());
    let _lock = cache.lock(
        &config.environment,
        config.timeout * 2 + Duration::from_secs(10),
    )?;
    match cache.read(&config.environment) {
        Lookup::Found(token) if &token.access_token == failed => {
            tracing::info!(target: "auth", "discarding the rejected token of environment {}", config.environment);
            if let Err(e) = cache.remove(&config.environment) {
                tracing::warn!(target: "auth", "could not delete {}: {e}", cache.path(&config.environment).display());
            }
        }
        _ => tracing::debug!(target: "auth", "the cache already holds another token; keeping it"),
    }
    Ok(())
}
