//! `lmi auth token|status|clear`.

use serde::Serialize;

use super::Ctx;
use crate::auth::cache::TokenCache;
use crate::auth::service::{self, TokenSource};
use crate::auth::sso::{self, SsoStatus};
use crate::cli::AuthCommand;
use crate::error::{Error, Kind, Result};
use crate::output::rfc3339;

pub fn run(ctx: &Ctx, cmd: AuthCommand) -> Result<u8> {
    match cmd {
        AuthCommand::Token => token(ctx),
        AuthCommand::Status => status(ctx),
        AuthCommand::Clear { all } => clear(ctx, all),
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
    token_cached: bool,
    expires_at: Option<String>,
}

#[derive(Serialize)]
struct StatusOut {
    sso: SsoStatus,
    environment: Option<EnvState>,
}

fn status(ctx: &Ctx) -> Result<u8> {
    // A broken configuration is an error here as everywhere; "no
    // environment chosen" is not, and shows as `environment: null`.
    let config = ctx.config()?;
    let sso = sso_status(ctx)?;
    let environment = config.environment().map(|name| {
        let cached =
            service::cached_state(&ctx.token_cache(), name.as_str(), config.service().ok());
        let now = ctx.deps.clock.now();
        let skew = config.expiry_skew().unwrap_or(60);
        EnvState {
            grant_type: config.grant_name(),
            token_cached: cached.as_ref().is_some_and(|t| t.is_fresh(now, skew)),
            expires_at: cached.and_then(|t| t.expires_at).and_then(rfc3339),
            name: name.to_string(),
        }
    });
    let out = StatusOut { sso, environment };
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
                "environment {}: {} grant, {}",
                e.name,
                e.grant_type,
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
        if let Some((message, hint)) = &out.sso.store_problem {
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
        cache.environments()
    } else {
        vec![ctx.config()?.require_environment()?.to_string()]
    };
    let mut cleared = Vec::new();
    for name in names {
        cache.remove_metadata(&name);
        match cache.remove(&name) {
            Ok(true) => cleared.push(name),
            Ok(false) => {}
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
