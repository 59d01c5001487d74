//! `lmi login sso` and `lmi logout sso`, the work behind the commands.
//!
//! Login is lock → read → (valid: report) → (expired with a refresh token:
//! refresh) → browser login → save, under a per-session lock file so that
//! concurrent logins open one browser and the others report its result
//! (kubelogin's pattern). Nothing is written before a login fully succeeds,
//! so a failed login never touches a good existing session.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use url::Url;

use crate::auth::grants::Grant;
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::http::{loggable_url, Transport};

use super::loopback::Listener;
use super::pkce::LoginSecrets;
use super::store::{Session, Store};
use super::{browser, refresh, Idp, RefreshFailure, SsoConfig};

/// How `login sso` got its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A valid session was already stored.
    Existing,
    /// The stored session was refreshed.
    Refreshed,
    /// A new login in the browser.
    LoggedIn,
}

/// Options of `login sso`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoginOptions {
    pub force: bool,
    pub no_browser: bool,
}

/// Logs in (or reports the existing session).
pub fn login(ctx: &Ctx, config: &SsoConfig, options: LoginOptions) -> Result<(Session, Outcome)> {
    let store = config.store(&ctx.paths);
    // Read first: a missing keychain fails here, before any browser opens
    // and before anything is written.
    let before = store.load()?;
    if !options.force {
        if let Some(session) = before
            .as_ref()
            .filter(|s| s.is_fresh(crate::auth::now(), config.skew))
        {
            return Ok((session.clone(), Outcome::Existing));
        }
    }
    let wait = Duration::from_secs(config.login_timeout)
        + config.http_timeout * 6
        + Duration::from_secs(30);
    let lock = store.lock("login", wait, || {
        eprintln!("Another lmi login sso is in progress; waiting for it to finish...");
    })?;
    let current = store.load()?;
    if let Some(session) = current
        .as_ref()
        .filter(|s| s.is_fresh(crate::auth::now(), config.skew))
    {
        // With --force, a session that another login just made is its result.
        let just_made = lock.waited && current != before;
        if !options.force || just_made {
            return Ok((session.clone(), Outcome::Existing));
        }
    }
    let idp = Idp::new(config);
    if !options.force {
        if let Some(session) = current.as_ref().filter(|s| s.refresh_token.is_some()) {
            match refresh_under_lock(&idp, config, &store, session) {
                Ok(fresh) => return Ok((fresh, Outcome::Refreshed)),
                Err(failure) => tracing::info!(
                    target: "sso",
                    "refreshing the session failed ({}); logging in again in the browser",
                    failure.message()
                ),
            }
        }
    }
    let session = browser_login(ctx, config, &idp, &store, options)?;
    drop(lock);
    Ok((session, Outcome::LoggedIn))
}

fn refresh_under_lock(
    idp: &Idp<'_>,
    config: &SsoConfig,
    store: &Store,
    session: &Session,
) -> Result<Session> {
    let _lock = store.lock("session", config.refresh_wait(), || {})?;
    // A REQUIRE_SSO run may have refreshed (and rotated the refresh token)
    // since we read the session: start from what is stored now.
    let current = store.load()?.unwrap_or_else(|| session.clone());
    if current.is_fresh(crate::auth::now(), config.skew) {
        return Ok(current);
    }
    let fresh = refresh(idp, &current).map_err(|f| match f {
        RefreshFailure::Rejected(e) | RefreshFailure::Failed(e) => e,
    })?;
    store.save(&fresh)?;
    Ok(fresh)
}

/// The authorization request URL (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC
/// Core §3.1.2.1), keeping any query the endpoint already has.
fn authorization_url(
    endpoint: &Url,
    config: &SsoConfig,
    redirect_uri: &str,
    secrets: &LoginSecrets,
) -> Url {
    let mut url = endpoint.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &config.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", &config.scopes)
        .append_pair("state", &secrets.state)
        .append_pair("nonce", &secrets.nonce)
        .append_pair("code_challenge", &secrets.challenge)
        .append_pair("code_challenge_method", "S256");
    url
}

fn browser_login(
    ctx: &Ctx,
    config: &SsoConfig,
    idp: &Idp<'_>,
    store: &Store,
    options: LoginOptions,
) -> Result<Session> {
    // Every endpoint is known (and checked) before the browser opens.
    let authorize = idp.authorization_endpoint()?;
    idp.token_endpoint()?;
    if config.wants_openid() {
        idp.jwks_uri()?;
    }
    let secrets = LoginSecrets::generate();
    let listener = Listener::bind(config.redirect_port)?;
    let redirect_uri = listener.redirect_uri();
    let url = authorization_url(&authorize, config, &redirect_uri, &secrets);
    tracing::debug!(target: "sso", "authorization request: {}", loggable_url(&url));

    // The URL is always shown: the browser may not start, or may be on
    // another screen.
    eprintln!(
        "To log in to {}, open this URL in a browser:\n\n    {url}\n",
        config.issuer_id
    );
    if !options.no_browser {
        if browser::open(ctx.env.get("BROWSER"), url.as_str()) {
            eprintln!("Opened your browser; finish the login there.");
        } else {
            tracing::warn!(target: "sso", "could not start a browser (set BROWSER, or open the URL above yourself)");
        }
    }

    let deadline = Instant::now() + Duration::from_secs(config.login_timeout);
    let spinner = std::io::stderr().is_terminal();
    let frames = ['|', '/', '-', '\\'];
    let mut frame = 0usize;
    let waited = listener.wait(&secrets.state, deadline, config.login_timeout, |left| {
        if spinner {
            let secs = left.as_secs();
            eprint!(
                "\r{} Waiting for the browser ({}:{:02} left, Ctrl-C to cancel) ",
                frames[frame % frames.len()],
                secs / 60,
                secs % 60
            );
            let _ = std::io::stderr().flush();
            frame += 1;
        }
    });
    if spinner {
        eprint!("\r\x1b[K");
    }
    let callback = waited?;
    tracing::info!(target: "sso", "got the authorization code; exchanging it");

    let result = exchange(idp, config, store, callback.code, secrets, &redirect_uri);
    match &result {
        Ok(session) => callback.pending.succeeded(session.user.as_deref()),
        Err(e) => callback.pending.failed(e.message()),
    }
    result
}

fn exchange(
    idp: &Idp<'_>,
    config: &SsoConfig,
    store: &Store,
    code: crate::secret::Secret,
    secrets: LoginSecrets,
    redirect_uri: &str,
) -> Result<Session> {
    let response = idp
        .token_request(Grant::AuthorizationCode {
            code,
            verifier: secrets.verifier,
            redirect_uri: redirect_uri.to_owned(),
        })
        .map_err(|e| {
            let message = e.error.message().to_owned();
            Error::auth(format!("exchanging the authorization code failed: {message}"))
                .with_hint("run lmi login sso again; if it keeps failing, check OAUTH_SSO_CLIENT_ID and the client's redirect settings at the IdP")
        })?;
    let session = idp.session_from(response, Some(&secrets.nonce), None)?;
    // Saved under the session lock, so a concurrent REQUIRE_SSO refresh
    // cannot interleave with (or remove) the new session.
    let _lock = store.lock("session", config.refresh_wait(), || {})?;
    store.save(&session)?;
    tracing::info!(
        target: "sso",
        "logged in as {} at {}",
        session.user.as_deref().unwrap_or("an unnamed user"),
        session.issuer
    );
    Ok(session)
}

/// Revokes (where the IdP allows) and forgets the session; whether a
/// session was removed, and whether a token was revoked.
pub fn logout(ctx: &Ctx, config: &SsoConfig) -> Result<(bool, bool)> {
    let store = config.store(&ctx.paths);
    let Some(session) = store.load()? else {
        // A broken entry may still be there; removing nothing is fine.
        let removed = store.remove()?;
        return Ok((removed, false));
    };
    let idp = Idp::new(config);
    let revoked = revoke(&idp, config, &session);
    store.remove()?;
    tracing::info!(target: "sso", "removed the SSO session from {}", store.describe());
    Ok((true, revoked))
}

/// RFC 7009 §2.1: revoke the refresh token (which, at most IdPs, ends its
/// access tokens too), else the access token. A failure is a warning: the
/// local session is forgotten either way.
fn revoke(idp: &Idp<'_>, config: &SsoConfig, session: &Session) -> bool {
    let endpoint = match idp.revocation_endpoint() {
        Ok(Some(url)) => url,
        Ok(None) => {
            tracing::info!(target: "sso", "the IdP has no revocation endpoint; only forgetting the session");
            return false;
        }
        Err(e) => {
            tracing::warn!(target: "sso", "could not find the IdP's revocation endpoint ({}); the session is forgotten but not revoked", e.message());
            return false;
        }
    };
    let (token, hint) = match &session.refresh_token {
        Some(token) => (token, "refresh_token"),
        None => (&session.access_token, "access_token"),
    };
    let form = [
        ("token", token.expose()),
        ("token_type_hint", hint),
        ("client_id", config.client_id.as_str()),
    ];
    match idp.http.post_form(&endpoint, &[], &form) {
        Ok(response) if (200..300).contains(&response.status) => {
            tracing::info!(target: "sso", "revoked the {hint} at {endpoint}");
            true
        }
        Ok(response) => {
            tracing::warn!(target: "sso", "the IdP did not revoke the session (HTTP {} from {endpoint}); it is forgotten locally", response.status);
            false
        }
        Err(e) => {
            tracing::warn!(target: "sso", "could not revoke the session: {}; it is forgotten locally", e.describe(idp.http.timeout));
            false
        }
    }
}
