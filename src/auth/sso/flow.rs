//! `lmi login sso` and `lmi logout sso`, the work behind the commands.
//!
//! Login is lock → read → (valid: report) → (expired with a refresh token:
//! refresh) → choose the flow → browser or device login → save, under a per-session lock file so that
//! concurrent logins open one browser and the others report its result
//! (kubelogin's pattern). Nothing is written before a login fully succeeds,
//! so a failed login never touches a good existing session.

use std::time::{Duration, Instant};

use crate::auth::grants::Grant;
use crate::auth::oauth::{
    self,
    error::GrantFailure,
    revoke::{Revocation, TokenKind},
};
use crate::error::{Error, Result};
use crate::redact;
use crate::secret::Secret;

use super::binding;
use super::choice::{choose, Flow, Surroundings};
use super::deps::SsoDeps;
use super::device;
use super::dpop;
use super::idp::Idp;
use super::loopback::Listener;
use super::par;
use super::pkce::LoginSecrets;
use super::session::{refresh, RefreshFailure};
use super::store::Session;
use super::waiting::WaitingLine;
use crate::config::SsoConfig;

/// How `login sso` got its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A valid session was already stored.
    Existing,
    /// The stored session was refreshed.
    Refreshed,
    /// A new login, through this flow.
    LoggedIn(Flow),
}

/// Options of `login sso`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoginOptions {
    pub force: bool,
    pub no_browser: bool,
    /// `--device`: the device flow, whatever `OAUTH_SSO_FLOW` says.
    pub device: bool,
    /// What the environment says about showing a browser (for `auto`).
    pub surroundings: Surroundings,
}

/// Logs in (or reports the existing session).
pub fn login(
    deps: &SsoDeps<'_>,
    config: &SsoConfig,
    options: LoginOptions,
) -> Result<(Session, Outcome)> {
    let store = deps.store;
    // Read first: a missing keychain fails here, before any browser opens
    // and before anything is written.
    let before = store.load()?;
    // A session made under other settings is not reported as current, nor
    // refreshed: a new login replaces it (SPEC §5).
    let bound = |s: &&Session| {
        binding::mismatch(s, config, config.token_url.as_ref()).is_none()
            && dpop::mismatch(s, config).is_none()
    };
    if !options.force {
        if let Some(session) = before
            .as_ref()
            .filter(bound)
            .filter(|s| s.is_fresh(deps.clock.now(), config.skew))
        {
            return Ok((session.clone(), Outcome::Existing));
        }
    }
    let wait = Duration::from_secs(config.login_timeout)
        + config.http_timeout * 6
        + Duration::from_secs(30);
    let lock = store.lock("login", wait, || {
        deps.terminal
            .notice("Another lmi login sso is in progress; waiting for it to finish...");
    })?;
    let current = store.load()?;
    if let Some(session) = current
        .as_ref()
        .filter(bound)
        .filter(|s| s.is_fresh(deps.clock.now(), config.skew))
    {
        // With --force, a session that another login just made is its result.
        let just_made = lock.waited && current != before;
        if !options.force || just_made {
            return Ok((session.clone(), Outcome::Existing));
        }
    }
    let idp = Idp::new(config, deps.transport, deps.clock);
    if !options.force {
        // A session bound otherwise than OAUTH_SSO_DPOP says is replaced,
        // not refreshed.
        let refreshable =
            |s: &&Session| s.refresh_token.is_some() && dpop::mismatch(s, config).is_none();
        if let Some(session) = current.as_ref().filter(refreshable) {
            match refresh_under_lock(deps, &idp, config, session) {
                Ok(fresh) => return Ok((fresh, Outcome::Refreshed)),
                Err(failure) => tracing::info!(
                    target: "sso",
                    "refreshing the session failed ({}); logging in again in the browser",
                    failure.message()
                ),
            }
        }
    }
    // A store that cannot keep the session (a locked keyring) fails now,
    // before the user logs in for nothing.
    store.check_writable()?;
    // With OAUTH_SSO_DPOP the new session's key, which every request of
    // this login proves possession of.
    let prover = dpop::login_prover(config, current.as_ref())?;
    let idp = &idp.with_dpop(prover.as_ref());
    let choice = choose(config.flow, options.device, &options.surroundings, || {
        idp.device_authorization_endpoint()
    })?;
    tracing::info!(target: "sso", "login flow: {} ({})", choice.flow.name(), choice.reason);
    let session = match &choice.device_endpoint {
        Some(endpoint) => {
            let session = device::login(deps, config, idp, endpoint, options)?;
            store_new(deps, idp, config, session, choice.flow)?
        }
        None => browser_login(deps, config, idp, options)?,
    };
    drop(lock);
    // The session this login replaced stays valid at the IdP until its
    // refresh token is revoked; no `logout` could reach it afterwards.
    if let Some(old) = current.as_ref().filter(|old| replaced(old, &session)) {
        revoke_replaced(idp, config, old);
    }
    Ok((session, Outcome::LoggedIn(choice.flow)))
}

fn refresh_under_lock(
    deps: &SsoDeps<'_>,
    idp: &Idp<'_>,
    config: &SsoConfig,
    session: &Session,
) -> Result<Session> {
    let store = deps.store;
    let _lock = store.lock("session", config.refresh_wait(), || {})?;
    // A REQUIRE_SSO run may have refreshed (and rotated the refresh token)
    // since we read the session: start from what is stored now.
    let current = store.load()?.unwrap_or_else(|| session.clone());
    if current.is_fresh(deps.clock.now(), config.skew) {
        return Ok(current);
    }
    let fresh = refresh(idp, &current).map_err(|f| match f {
        RefreshFailure::Rejected(e) | RefreshFailure::Failed(e) => e,
    })?;
    store.save(&fresh)?;
    Ok(fresh)
}

/// The authorization request's parameters (RFC 6749 §4.1.1, RFC 7636
/// §4.3, OIDC Core §3.1.2.1), in the URL or pushed (SPEC §5.2).
fn authorization_params<'a>(
    config: &'a SsoConfig,
    redirect_uri: &'a str,
    secrets: &'a LoginSecrets,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", &config.client_id),
        ("redirect_uri", redirect_uri),
        ("scope", &config.scopes),
        ("state", &secrets.state),
        ("nonce", &secrets.nonce),
        ("code_challenge", &secrets.challenge),
        ("code_challenge_method", "S256"),
    ]
}

fn browser_login(
    deps: &SsoDeps<'_>,
    config: &SsoConfig,
    idp: &Idp<'_>,
    options: LoginOptions,
) -> Result<Session> {
    // Every endpoint is known (and checked) before the browser opens.
    let authorize = idp.authorization_endpoint()?;
    idp.token_endpoint()?;
    if config.wants_openid() {
        idp.jwks_uri()?;
    }
    let iss = idp.authorization_response_iss()?;
    let pushing = par::plan(idp, config)?;
    let secrets = LoginSecrets::generate();
    let listener = Listener::bind(config.redirect_port)?;
    let redirect_uri = listener.redirect_uri();
    let jkt = idp.dpop().map(|p| p.jkt());
    let mut params = authorization_params(config, &redirect_uri, &secrets);
    if let Some(jkt) = &jkt {
        // RFC 9449 §10: the code is bound to the key that will redeem it.
        params.push(("dpop_jkt", jkt));
    }
    let echo = [
        Secret::new(secrets.state.as_str()),
        Secret::new(secrets.nonce.as_str()),
    ];
    let url = pushing.authorization_url(idp, &authorize, &params, &[&echo[0], &echo[1]])?;
    tracing::debug!(target: "sso", "authorization request: {}", redact::url(&url));

    // The URL is always shown: the browser may not start, or may be on
    // another screen.
    deps.terminal.notice(&format!(
        "To log in to {}, open this URL in a browser:\n\n    {url}\n",
        config.issuer_id
    ));
    if !options.no_browser {
        if deps.browser.open(url.as_str()) {
            deps.terminal
                .notice("Opened your browser; finish the login there.");
        } else {
            tracing::warn!(target: "sso", "could not start a browser (set BROWSER, or open the URL above yourself)");
        }
    }

    let deadline = Instant::now() + Duration::from_secs(config.login_timeout);
    let mut line = WaitingLine::new(deps.terminal, "the browser");
    let waited = listener.wait(
        &secrets.state,
        iss.as_ref(),
        deadline,
        config.login_timeout,
        |left| line.tick(left),
    );
    line.clear();
    let callback = waited.map_err(|e| pushing.explain(e))?;
    tracing::info!(target: "sso", "got the authorization code; exchanging it");

    let result = redeem_code(deps, idp, config, callback.code, secrets, &redirect_uri);
    match &result {
        Ok(session) => callback.pending.succeeded(session.user.as_deref()),
        Err(e) => callback.pending.failed(e.message()),
    }
    result
}

fn redeem_code(
    deps: &SsoDeps<'_>,
    idp: &Idp<'_>,
    config: &SsoConfig,
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
            let message = e.message();
            let hint = match e.failure.as_ref() {
                failure @ GrantFailure::NotBound { .. } => Idp::hint(failure).unwrap_or_default(),
                _ => "run lmi login sso again; if it keeps failing, check OAUTH_SSO_CLIENT_ID and the client's redirect settings at the IdP".to_owned(),
            };
            Error::auth(format!("exchanging the authorization code failed: {message}; nothing was stored"))
                .with_hint(hint)
        })?;
    let session = idp.session_from(response, Some(&secrets.nonce), None)?;
    store_new(deps, idp, config, session, Flow::Browser)
}

/// Stores a new login's session, whichever flow made it.
fn store_new(
    deps: &SsoDeps<'_>,
    idp: &Idp<'_>,
    config: &SsoConfig,
    mut session: Session,
    flow: Flow,
) -> Result<Session> {
    session.flow = Some(flow.name().to_owned());
    // Saved under the session lock, so a concurrent REQUIRE_SSO refresh
    // cannot interleave with (or remove) the new session.
    let _lock = deps.store.lock("session", config.refresh_wait(), || {})?;
    if let Err(e) = deps.store.save(&session) {
        // Tokens nobody keeps should not stay valid at the IdP (RFC 7009).
        let revoked = revoke(idp, config, &session);
        let what = if revoked {
            "; the new tokens were revoked"
        } else {
            ""
        };
        let hint = e.hint().map(str::to_owned);
        let mut error = Error::auth(format!("{}{what}", e.message()));
        if let Some(hint) = hint {
            error = error.with_hint(hint);
        }
        return Err(error);
    }
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
pub fn logout(deps: &SsoDeps<'_>, config: &SsoConfig) -> Result<(bool, bool)> {
    let store = deps.store;
    let Some(session) = store.load()? else {
        // A broken entry may still be there; removing nothing is fine.
        let removed = store.remove()?;
        return Ok((removed, false));
    };
    let idp = Idp::new(config, deps.transport, deps.clock);
    // A session made under other settings: its tokens go nowhere else.
    let revoked = match binding::mismatch(&session, config, idp.token_endpoint().ok().as_ref()) {
        None => revoke(&idp, config, &session),
        Some(why) => {
            tracing::warn!(target: "sso", "the stored SSO session {why}; it is forgotten, not revoked");
            false
        }
    };
    store.remove()?;
    tracing::info!(target: "sso", "removed the SSO session from {}", store.describe());
    Ok((true, revoked))
}

/// Whether `new` replaced `old` with other tokens (not the same session
/// read back, as when a concurrent login's result is reported).
fn replaced(old: &Session, new: &Session) -> bool {
    old.refresh_token.is_some() && old.refresh_token != new.refresh_token
}

/// Revokes the refresh token of a session a new login replaced, only at the
/// IdP that issued it (the binding of SPEC §5). A failure is a warning: the
/// new session is stored either way.
fn revoke_replaced(idp: &Idp<'_>, config: &SsoConfig, old: &Session) {
    let endpoint = idp.token_endpoint().ok();
    match binding::mismatch(old, config, endpoint.as_ref()) {
        None => {
            if revoke(idp, config, old) {
                tracing::info!(target: "sso", "revoked the session this login replaced");
            }
        }
        Some(why) => {
            tracing::info!(target: "sso", "the replaced SSO session {why}; not revoked there");
        }
    }
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
    let (token, kind) = match &session.refresh_token {
        Some(token) => (token, TokenKind::RefreshToken),
        None => (&session.access_token, TokenKind::AccessToken),
    };
    let hint = kind.hint();
    match oauth::revoke::revoke(idp.transport, &endpoint, token, kind, &config.client_id) {
        Revocation::Revoked => {
            tracing::info!(target: "sso", "revoked the {hint} at {endpoint}");
            true
        }
        Revocation::Refused(status) => {
            tracing::warn!(target: "sso", "the IdP did not revoke the session (HTTP {status} from {endpoint}); it is forgotten locally");
            false
        }
        Revocation::Failed(e) => {
            tracing::warn!(target: "sso", "could not revoke the session: {}; it is forgotten locally", e.describe(idp.transport.timeout()));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::sso::store::{MemoryStore, SessionStore, Store};
    use crate::auth::sso::testing::*;
    use crate::clock::FixedClock;
    use crate::secret::Secret;

    const T: i64 = 1_800_000_000;

    fn login_with(session: Session, http: &FakeTransport) -> (Result<(Session, Outcome)>, usize) {
        let memory = MemoryStore::holding(session);
        let store = Store::memory(memory.clone());
        let browser = RecordingBrowser::default();
        let clock = FixedClock::at(T);
        let deps = SsoDeps {
            clock: &clock,
            sleeper: &clock,
            transport: http,
            browser: &browser,
            store: &store,
            terminal: &crate::terminal::NullTerminal,
        };
        let result = login(&deps, &plain_config(), LoginOptions::default());
        if let Ok((session, _)) = &result {
            assert_eq!(memory.load().unwrap().as_ref(), Some(session));
        }
        let opened = browser.opened.lock().unwrap().len();
        (result, opened)
    }

    #[test]
    fn a_valid_session_is_reported_without_a_browser_or_a_request() {
        let http = FakeTransport::default();
        let (result, opened) = login_with(session(T + 3600, Some("rt-1")), &http);
        let (got, outcome) = result.unwrap();
        assert_eq!(outcome, Outcome::Existing);
        assert_eq!(got, session(T + 3600, Some("rt-1")));
        assert_eq!(opened, 0);
        assert!(http.sent().is_empty());
    }

    fn deps_with<'a>(
        store: &'a Store,
        http: &'a FakeTransport,
        browser: &'a RecordingBrowser,
        clock: &'a FixedClock,
    ) -> SsoDeps<'a> {
        SsoDeps {
            clock,
            sleeper: clock,
            transport: http,
            browser,
            store,
            terminal: &crate::terminal::NullTerminal,
        }
    }

    #[test]
    fn a_store_that_cannot_save_fails_before_the_browser_opens() {
        let http = FakeTransport::default();
        let store = Store::memory(MemoryStore::failing(true));
        let browser = RecordingBrowser::default();
        let clock = FixedClock::at(T);
        let deps = deps_with(&store, &http, &browser, &clock);
        let e = login(&deps, &plain_config(), LoginOptions::default()).unwrap_err();
        assert!(e.message().contains("locked"), "{}", e.message());
        assert!(browser.opened.lock().unwrap().is_empty());
        assert!(http.token_requests().is_empty());
    }

    #[test]
    fn logout_revokes_only_a_session_bound_to_todays_settings() {
        let revoke = format!("{ISSUER}/revoke");
        let logout_of = |stored: Session| {
            let http = FakeTransport::default();
            http.answer(
                &format!("{ISSUER}/.well-known/oauth-authorization-server"),
                200,
                json!({"issuer": ISSUER, "token_endpoint": TOKEN_URL, "revocation_endpoint": revoke}),
            );
            http.answer(&revoke, 200, json!({}));
            let store = Store::memory(MemoryStore::holding(stored));
            let (browser, clock) = (RecordingBrowser::default(), FixedClock::at(T));
            let deps = deps_with(&store, &http, &browser, &clock);
            let result = logout(&deps, &oidc_config()).unwrap();
            (result, http.requests_to(&revoke).len())
        };
        assert_eq!(logout_of(oidc_session(T, Some("rt-1"))), ((true, true), 1));
        // Made at another token endpoint: forgotten, its token sent nowhere.
        let mut elsewhere = oidc_session(T, Some("rt-1"));
        elsewhere.token_endpoint = Some("https://old.test/token".into());
        assert_eq!(logout_of(elsewhere), ((true, false), 0));
    }

    #[test]
    fn an_expired_session_is_refreshed_without_a_browser() {
        let http = FakeTransport::default();
        http.answer(
            TOKEN_URL,
            200,
            json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 60}),
        );
        let (result, opened) = login_with(session(T - 1, Some("rt-1")), &http);
        let (got, outcome) = result.unwrap();
        assert_eq!(outcome, Outcome::Refreshed);
        assert_eq!(got.access_token, Secret::new("at-2"));
        assert_eq!(got.expires_at, Some(T + 60));
        assert_eq!(http.token_requests().len(), 1);
        assert_eq!(opened, 0);
    }
}
