//! Which cached service token may be used: what a token was issued for
//! (endpoint, client, grant, user, scopes, audience, a token exchange's
//! subject) against the current settings, and the token state `auth
//! status` shows.

use url::Url;

use crate::auth::cache::{CachedToken, IssuedFor, Lookup, TokenCache};
use crate::auth::dpop;
use crate::config::{Endpoint, EnvName, ServiceConfig};

/// What a cached token must have been issued for to be used. For a
/// discovered endpoint the service URL stands for the token URL.
pub(crate) fn issued_for(
    config: &ServiceConfig,
    token_url: &str,
    subject: Option<&str>,
) -> IssuedFor {
    IssuedFor {
        token_url: token_url.to_owned(),
        client_id: config.client_id.clone(),
        grant_type: config.grant.name().to_owned(),
        username: config.username.clone(),
        scopes: config.scopes.clone(),
        audience: config.audience.clone(),
        subject: subject.map(str::to_owned),
    }
}

/// Whether a cached token was issued for these settings. For a discovered
/// endpoint the token must come from the endpoint that this service URL's
/// cached metadata names, so a changed OAUTH_SERVICE_URL is a miss.
/// `subject` is the token exchange's current subject (`None` otherwise).
pub(crate) fn matches(
    config: &ServiceConfig,
    token: &CachedToken,
    cache: &TokenCache,
    subject: Option<&str>,
) -> bool {
    let ours = |url: &str| issued_for(config, url, subject) == token.issued_for;
    match &config.endpoint {
        Endpoint::Explicit(url) => ours(url.as_str()),
        Endpoint::Discover(issuer) => cache
            .read_metadata(&config.environment, issuer.as_str())
            .and_then(|meta| meta.token_endpoint)
            .and_then(|raw| Url::parse(&raw).ok())
            .is_some_and(|endpoint| ours(endpoint.as_str())),
    }
}

/// Whether a cached token is bound as the settings ask (SPEC §4.3): with
/// `OAUTH_DPOP`, a DPoP token bound to the key whose thumbprint is `jkt`
/// (none: no key, so no token); without, not a DPoP token.
pub(crate) fn bound_as_configured(
    config: &ServiceConfig,
    token: &CachedToken,
    jkt: Option<&str>,
) -> bool {
    if config.dpop {
        dpop::is_dpop(&token.token_type) && jkt.is_some() && token.dpop_jkt.as_deref() == jkt
    } else {
        !dpop::is_dpop(&token.token_type)
    }
}

/// The service token state for `auth status` (no network). A token counts
/// as cached only if `auth token` would use it: issued for the current
/// settings (when they are complete enough to tell). A token exchange's
/// subject is not checked: that would read the subject file or keychain.
pub fn cached_state(
    cache: &TokenCache,
    environment: &EnvName,
    config: Option<&ServiceConfig>,
) -> Option<CachedToken> {
    match cache.read(environment) {
        // Only a refresh token is left after a 401: no token to show.
        Lookup::Found(token) if token.access_token.is_empty() => None,
        Lookup::Found(token) => match config {
            Some(config)
                if !matches(config, &token, cache, token.issued_for.subject.as_deref())
                    || !bound_as_configured(config, &token, key_jkt(cache, config).as_deref()) =>
            {
                None
            }
            _ => Some(*token),
        },
        _ => None,
    }
}

/// The thumbprint of the environment's DPoP key, if it has a usable one.
fn key_jkt(cache: &TokenCache, config: &ServiceConfig) -> Option<String> {
    if !config.dpop {
        return None;
    }
    dpop::key_file::load(cache.dir(), &config.environment)
        .ok()
        .flatten()
        .map(|key| key.thumbprint())
}
