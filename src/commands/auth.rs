//! `lmi auth token|status|clear|inspect`; `auth proof` is in `auth_proof`.

use serde::Serialize;

use super::Ctx;
use crate::auth::cache::TokenCache;
use crate::auth::inspect::{self, Decoded};
use crate::auth::service::{self, TokenSource};
use crate::auth::sso::{self, SsoStatus};
use crate::cli::AuthCommand;
use crate::clock::rfc3339;
use crate::error::{Error, Kind, Result};
use crate::redact;

pub fn run(ctx: &Ctx, cmd: AuthCommand) -> Result<u8> {
    match cmd {
        AuthCommand::Token => token(ctx),
        AuthCommand::Status => status(ctx),
        AuthCommand::Clear { all } => clear(ctx, all),
        AuthCommand::Inspect { sso: false } => inspect(ctx),
        AuthCommand::Inspect { sso: true } => inspect_sso(ctx),
        AuthCommand::Proof { method, url } => super::auth_proof::run(ctx, &method, &url),
    }
}

#[derive(Serialize)]
struct TokenOut<'a> {
    environment: &'a str,
    access_token: &'a str,
    token_type: &'a str,
    expires_at: Option<String>,
    source: TokenSource,
}

fn token(ctx: &Ctx) -> Result<u8> {
    let (token, source) = ctx.with_service(|auth| auth.token())?;
    let config = ctx.config()?;
    let environment = config.environment().map(|e| e.as_str()).unwrap_or_default();
    if ctx.out.is_json() {
        ctx.out.json(&TokenOut {
            environment,
            // The one place a token is printed: it is the command's result.
            access_token: token.access_token.expose(),
            token_type: &token.token_type,
            expires_at: token.expires_at.and_then(rfc3339),
            source,
        })?;
    } else {
        ctx.out.text(token.access_token.expose())?;
    }
    Ok(0)
}

#[derive(Serialize)]
struct EnvState {
    name: String,
    grant_type: String,
    /// How the service client authenticates: `client_secret_basic`,
    /// `client_secret_post`, `private_key_jwt` or `none`.
    client_auth: String,
    token_cached: bool,
    expires_at: Option<String>,
    /// `Bearer`, or `DPoP` with `OAUTH_DPOP` (SPEC §4.3).
    token_type: &'static str,
}

/// `auth status`'s `sso` object: the session state as SPEC shows it.
#[derive(Serialize)]
struct SsoState {
    configured: bool,
    logged_in: bool,
    user: Option<String>,
    issuer: Option<String>,
    expires_at: Option<String>,
    refreshable: bool,
    /// `Bearer` or `DPoP`, when a session is stored (SPEC §4.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<String>,
    store: String,
}

impl SsoState {
    fn of(s: &SsoStatus) -> SsoState {
        SsoState {
            configured: s.configured,
            logged_in: s.logged_in,
            user: s.user.clone(),
            issuer: s.issuer.clone(),
            expires_at: s.expires_at.and_then(rfc3339),
            refreshable: s.refreshable,
            token_type: s.token_type.clone(),
            store: s.store.clone(),
        }
    }
}

#[derive(Serialize)]
struct StatusOut {
    sso: SsoState,
    environment: Option<EnvState>,
}

fn status(ctx: &Ctx) -> Result<u8> {
    // A broken configuration is an error here as everywhere; "no
    // environment chosen" is not, and shows as `environment: null`.
    let config = ctx.config()?;
    let status = sso_status(ctx)?;
    if let Some(name) = config.environment() {
        ctx.token_cache().check_trusted(name)?;
    }
    let environment = config.environment().map(|name| {
        let cached = service::cached_state(&ctx.token_cache(), name, config.service().ok());
        let now = ctx.deps.clock.now();
        let skew = config.expiry_skew().unwrap_or(60);
        let dpop = ctx.environment_dpop().is_ok_and(|(_, dpop)| dpop);
        EnvState {
            token_type: if dpop { "DPoP" } else { "Bearer" },
            grant_type: config.grant_name(),
            client_auth: config.client_auth_name(),
            token_cached: cached.as_ref().is_some_and(|t| t.is_fresh(now, skew)),
            expires_at: cached.and_then(|t| t.expires_at).and_then(rfc3339),
            name: name.to_string(),
        }
    });
    let out = StatusOut {
        sso: SsoState::of(&status),
        environment,
    };
    ctx.out.result(&out, || {
        let mut lines = Vec::new();
        let s = &out.sso;
        if !s.configured {
            lines.push("SSO: not configured".to_owned());
        } else if s.logged_in {
            lines.push(format!(
                "SSO: logged in as {} at {} (store: {}{})",
                s.user.as_deref().unwrap_or("?"),
                s.issuer.as_deref().unwrap_or("?"),
                s.store,
                s.expires_at
                    .as_deref()
                    .map(|e| format!(", access token expires {e}"))
                    .unwrap_or_default()
            ));
        } else {
            lines.push(format!("SSO: not logged in (store: {})", s.store));
        }
        match &out.environment {
            None => lines.push("environment: none selected".to_owned()),
            Some(e) => lines.push(format!(
                "environment {}: {} grant ({} client authentication{}), {}",
                e.name,
                e.grant_type,
                e.client_auth,
                if e.token_type == "DPoP" {
                    ", DPoP-bound tokens"
                } else {
                    ""
                },
                if e.token_cached {
                    format!(
                        "token cached until {}",
                        e.expires_at.as_deref().unwrap_or("it is rejected")
                    )
                } else {
                    "no valid token cached".to_owned()
                }
            )),
        }
        lines.join("\n")
    })?;
    if out.sso.configured && !out.sso.logged_in {
        // The keychain could not be read: logging in would fail the same way.
        if let Some((message, hint)) = &status.store_problem {
            return Err(Error::new(
                Kind::Auth,
                format!("cannot read the SSO session: {message}"),
            )
            .with_hint(hint.clone()));
        }
        return Err(Error::new(Kind::Auth, "not logged in to SSO").with_hint("run: lmi login sso"));
    }
    Ok(0)
}

/// The SSO part of `auth status`: read from the store, never refreshed.
fn sso_status(ctx: &Ctx) -> Result<SsoStatus> {
    let config = ctx.config()?;
    // The store setting is checked first, configured or not.
    let store = config.sso_store_kind()?;
    if ctx.agent()?.is_some() {
        // The agent's session (SPEC §9): the agent refreshes it, so it
        // counts as refreshable while it exists.
        let mut status = ctx.with_sso(|deps, sso| Ok(sso::status(&deps, sso)))?;
        status.configured = true;
        status.refreshable = status.logged_in;
        status.store = "agent".to_owned();
        return Ok(status);
    }
    if !config.sso_configured() {
        return Ok(SsoStatus::not_configured(store));
    }
    ctx.with_sso(|deps, sso| Ok(sso::status(&deps, sso)))
}

#[derive(Serialize)]
struct Cleared {
    cleared: Vec<String>,
}

fn clear(ctx: &Ctx, all: bool) -> Result<u8> {
    let cache = TokenCache::new(ctx.paths.tokens_dir());
    let names = if all {
        cache.environments_with_files()
    } else {
        vec![ctx.config()?.require_environment()?.clone()]
    };
    let mut cleared = Vec::new();
    // Left by a write that was killed; they may hold live tokens. Only the
    // cleared environments' own, and other stale ones with --all: a file
    // another run is writing right now is never removed.
    let mut temps: usize = names.iter().map(|name| cache.remove_temps(name)).sum();
    if all {
        temps += cache.remove_stale_temps();
    }
    if temps > 0 {
        tracing::info!(target: "auth", "removed {temps} temporary file(s) from {}", cache.dir().display());
    }
    for name in names {
        cache.remove_metadata(&name);
        // The DPoP key goes with the token it bound (SPEC §4.3).
        let key = cache.remove_dpop(&name).map_err(|e| {
            let path = crate::auth::dpop::key_file::path(cache.dir(), &name);
            Error::io("cannot delete", &path, e)
        })?;
        match cache.remove(&name) {
            Ok(removed) if removed || key => cleared.push(name.to_string()),
            Ok(_) => {}
            Err(e) => return Err(Error::io("cannot delete", &cache.path(&name), e)),
        }
    }
    let out = Cleared { cleared };
    ctx.out.result(&out, || {
        if out.cleared.is_empty() {
            "no cached tokens to clear".to_owned()
        } else {
            format!("cleared: {}", out.cleared.join(", "))
        }
    })?;
    Ok(0)
}

#[derive(Serialize)]
struct InspectOut {
    environment: String,
    #[serde(flatten)]
    decoded: Decoded,
    expires_at: Option<String>,
    scope: Option<String>,
    /// For a DPoP token: whether it is bound to the environment's key
    /// (`cnf.jkt` of a JWT, or the thumbprint recorded with an opaque one).
    #[serde(skip_serializing_if = "Option::is_none")]
    dpop_key_matches: Option<bool>,
}

/// Text for people: the decoded parts, one `name: value` per line.
fn decoded_lines(label: &str, decoded: &Decoded) -> Vec<String> {
    let mut lines = vec![format!("{label}format: {}", decoded.format)];
    for (part, map) in [("header", &decoded.header), ("claims", &decoded.claims)] {
        if let Some(map) = map {
            lines.push(format!("{label}{part}:"));
            for (k, v) in map {
                // Names and values come from the token's issuer: an escape
                // sequence or newline there must not reach the terminal.
                lines.push(redact::unsafe_chars(&format!("  {k}: {v}")));
            }
        }
    }
    lines
}

fn inspect(ctx: &Ctx) -> Result<u8> {
    let (token, jkt) = ctx.with_service(|auth| {
        let (token, _) = auth.token()?;
        let jkt = auth.dpop_jkt()?;
        Ok((token, jkt))
    })?;
    let config = ctx.config()?;
    let decoded = inspect::decode(token.access_token.expose());
    // Through an agent the key is on the agent's machine: not known here,
    // so not judged.
    let jkt = jkt.filter(|_| crate::auth::dpop::is_dpop(&token.token_type));
    let dpop_key_matches = jkt.is_some().then(|| {
        let bound = match &decoded.claims {
            Some(claims) => claims
                .get("cnf")
                .and_then(|cnf| cnf.get("jkt"))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            None => token.dpop_jkt.clone(),
        };
        bound.is_some() && bound == jkt
    });
    let out = InspectOut {
        dpop_key_matches,
        environment: config
            .environment()
            .map(ToString::to_string)
            .unwrap_or_default(),
        decoded,
        expires_at: token.expires_at.and_then(rfc3339),
        scope: token.scope.clone(),
    };
    ctx.out.result(&out, || {
        let mut lines = vec![format!("environment: {}", out.environment)];
        lines.extend(decoded_lines("", &out.decoded));
        lines.push(format!(
            "expires_at: {}",
            out.expires_at.as_deref().unwrap_or("unknown")
        ));
        let scope = out
            .scope
            .as_deref()
            .map_or_else(|| "-".to_owned(), redact::unsafe_chars);
        lines.push(format!("scope: {scope}"));
        if let Some(matches) = out.dpop_key_matches {
            lines.push(format!("dpop_key_matches: {matches}"));
        }
        lines.push("(decoded, not verified)".to_owned());
        lines.join("\n")
    })?;
    Ok(0)
}

#[derive(Serialize)]
struct IdTokenOut {
    header: Option<serde_json::Map<String, serde_json::Value>>,
    claims: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize)]
struct SsoInspectOut {
    /// `Bearer` or `DPoP` (SPEC §4.3).
    token_type: String,
    access_token: Decoded,
    /// For a DPoP session: whether the token is bound to its key.
    #[serde(skip_serializing_if = "Option::is_none")]
    dpop_key_matches: Option<bool>,
    id_token: Option<IdTokenOut>,
}

fn inspect_sso(ctx: &Ctx) -> Result<u8> {
    let session = ctx.with_sso(|deps, _| deps.store.load())?;
    let Some(session) = session else {
        return Err(Error::new(Kind::Auth, "not logged in to SSO").with_hint("run: lmi login sso"));
    };
    let access_token = inspect::decode(session.access_token.expose());
    let out = SsoInspectOut {
        token_type: session
            .dpop
            .token_type
            .clone()
            .unwrap_or_else(|| "Bearer".to_owned()),
        dpop_key_matches: sso::dpop::key_matches(&session, access_token.claims.as_ref()),
        access_token,
        id_token: session.id_token.as_ref().map(|t| {
            let decoded = inspect::decode(t.expose());
            IdTokenOut {
                header: decoded.header,
                claims: decoded.claims,
            }
        }),
    };
    ctx.out.result(&out, || {
        let mut lines = vec![format!("token_type: {}", out.token_type)];
        lines.extend(decoded_lines("access_token ", &out.access_token));
        if let Some(matches) = out.dpop_key_matches {
            lines.push(format!("dpop_key_matches: {matches}"));
        }
        match &out.id_token {
            Some(id) => {
                let decoded = Decoded {
                    format: "jwt",
                    header: id.header.clone(),
                    claims: id.claims.clone(),
                };
                lines.extend(decoded_lines("id_token ", &decoded));
            }
            None => lines.push("id_token: none".to_owned()),
        }
        lines.push("(decoded, not verified)".to_owned());
        lines.join("\n")
    })?;
    Ok(0)
}

#[cfg(test)]
#[path = "auth_tests.rs"]
pub(crate) mod tests;
