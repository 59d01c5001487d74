//! The stored session over time: the silent refresh (RFC 6749 §6), the
//! state `auth status` shows, and the gate of `REQUIRE_SSO=true`
//! environments (lock → read → valid, or refresh → save).

use crate::auth::grants::Grant;
use crate::error::{Error, Result};

use super::binding;
use super::deps::SsoDeps;
use super::dpop;
use super::idp::Idp;
use super::store::Session;
use crate::config::{SsoConfig, StoreKind};

/// What the stored session says, for `auth status` (which shows it; this is
/// plain data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoStatus {
    pub configured: bool,
    pub logged_in: bool,
    pub user: Option<String>,
    pub issuer: Option<String>,
    /// When the access token expires, in seconds since the Unix epoch.
    pub expires_at: Option<i64>,
    pub refreshable: bool,
    /// `Bearer` or `DPoP` (SPEC §4.3), when logged in.
    pub token_type: Option<String>,
    /// The store's name (`keychain`, `file`, `memory`).
    pub store: String,
    /// Why the store could not be read (message, hint).
    pub store_problem: Option<(String, String)>,
}

impl SsoStatus {
    /// The state when SSO is not configured; `store` is the store that
    /// `OAUTH_SSO_TOKEN_STORE` names all the same.
    pub fn not_configured(store: StoreKind) -> SsoStatus {
        SsoStatus {
            configured: false,
            logged_in: false,
            user: None,
            issuer: None,
            expires_at: None,
            refreshable: false,
            token_type: None,
            store: store.name().to_owned(),
            store_problem: None,
        }
    }
}

/// Why a refresh failed.
pub enum RefreshFailure {
    /// The IdP said `invalid_grant`: the refresh token is dead.
    Rejected(Error),
    /// Anything else (network, server error, a bad ID token).
    Failed(Error),
}

impl RefreshFailure {
    pub fn error(&self) -> &Error {
        match self {
            RefreshFailure::Rejected(e) | RefreshFailure::Failed(e) => e,
        }
    }
}

/// Refreshes `session` (RFC 6749 §6); the caller stores the result.
pub fn refresh(idp: &Idp<'_>, session: &Session) -> std::result::Result<Session, RefreshFailure> {
    let Some(refresh_token) = session.refresh_token.clone() else {
        return Err(RefreshFailure::Failed(Error::auth(
            "the SSO session holds no refresh token",
        )));
    };
    // The refresh token goes only to the endpoint that issued it (SPEC §5).
    let endpoint = idp.token_endpoint().map_err(RefreshFailure::Failed)?;
    if let Some(why) = binding::mismatch(session, idp.config(), Some(&endpoint)) {
        return Err(RefreshFailure::Failed(binding::refused(&why)));
    }
    // A bound session is refreshed with proofs of its own key (SPEC §4.3).
    if let Some(why) = dpop::mismatch(session, idp.config()) {
        return Err(RefreshFailure::Failed(binding::refused(why)));
    }
    let prover = dpop::stored_prover(session).map_err(RefreshFailure::Failed)?;
    let idp = idp.with_dpop(prover.as_ref());
    tracing::info!(target: "sso", "refreshing the SSO session of {}", session.user.as_deref().unwrap_or("unknown user"));
    let response = idp
        .token_request(Grant::RefreshToken(refresh_token))
        .map_err(|e| {
            if e.oauth_code() == Some("invalid_grant") {
                RefreshFailure::Rejected(e.into_error(Idp::hint))
            } else {
                RefreshFailure::Failed(e.into_error(Idp::hint))
            }
        })?;
    idp.session_from(response, None, Some(session))
        .map_err(RefreshFailure::Failed)
}

/// The SSO state for `auth status` when SSO is configured: no network, no
/// refresh. (Without configuration: [`SsoStatus::not_configured`].)
pub fn status(deps: &SsoDeps<'_>, config: &SsoConfig) -> SsoStatus {
    let mut out = SsoStatus {
        configured: true,
        ..SsoStatus::not_configured(config.store)
    };
    let session = match deps.store.load() {
        Ok(session) => session,
        Err(e) => {
            // Status reports what it can; the caller turns this into the
            // error (with the keychain's own hint) after printing.
            tracing::debug!(target: "sso", "{}", e.message());
            out.store_problem = Some((
                e.message().to_owned(),
                e.hint().unwrap_or_default().to_owned(),
            ));
            None
        }
    };
    if let Some(session) = session {
        out.logged_in = session.exists(deps.clock.now(), config.skew);
        out.refreshable = session.refresh_token.is_some();
        out.token_type = Some(
            session
                .dpop
                .token_type
                .clone()
                .unwrap_or_else(|| "Bearer".to_owned()),
        );
        out.expires_at = session.expires_at;
        out.user = session.user;
        out.issuer = Some(session.issuer);
    }
    out
}

fn login_hint() -> &'static str {
    "run: lmi login sso"
}

/// The gate for `REQUIRE_SSO=true` environments: a valid session, refreshed
/// silently when its access token has expired. `environment` names the
/// environment in messages.
pub fn require_session(
    deps: &SsoDeps<'_>,
    config: &SsoConfig,
    environment: Option<&str>,
) -> Result<()> {
    let environment = environment
        .map(|e| format!("environment {e:?}"))
        .unwrap_or_else(|| "this environment".to_owned());
    let purpose = format!("{environment} requires an SSO session (REQUIRE_SSO)");
    current_session(deps, config, &purpose, Need::AccessToken).map(|_| ())
}

/// The session with a valid access token, refreshed silently (and saved)
/// when it has expired; otherwise an authentication error that starts with
/// `why` (what needs the session) and says to log in.
pub fn valid_session(deps: &SsoDeps<'_>, config: &SsoConfig, why: &str) -> Result<Session> {
    current_session(deps, config, why, Need::AccessToken)
}

/// What a caller needs of the session for it to count as usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A valid access token (the `REQUIRE_SSO` gate, token exchange).
    AccessToken,
    /// A valid access token and a valid ID token (`credential kubectl
    /// --sso`, for clusters that authenticate with OIDC).
    IdToken,
}

fn no_id_token(purpose: &str) -> Error {
    Error::auth(format!(
        "{purpose}, and your session holds no valid ID token"
    ))
    .with_hint("make sure OAUTH_SSO_SCOPES includes openid, then run: lmi login sso --force")
}

/// Whether the session holds an ID token valid for `skew` more seconds. An
/// ID token is a JWT with `exp` (OIDC Core §2); it was validated when it was
/// stored, so only its age is checked here.
fn id_token_valid(session: &Session, now: i64, skew: i64) -> bool {
    session
        .id_token
        .as_ref()
        .is_some_and(|t| crate::auth::fresh(crate::auth::jwt_expiry(t.expose()), now, skew))
}

fn usable(session: &Session, need: Need, now: i64, skew: i64) -> bool {
    session.is_fresh(now, skew)
        && match need {
            Need::AccessToken => true,
            Need::IdToken => id_token_valid(session, now, skew),
        }
}

/// The session, refreshed silently (under the session lock) when it no
/// longer has what `need` asks for. `purpose` starts every error message
/// ("environment \"prod\" requires an SSO session (REQUIRE_SSO)"); each
/// error is an authentication error with the `lmi login sso` hint.
pub fn current_session(
    deps: &SsoDeps<'_>,
    config: &SsoConfig,
    purpose: &str,
    need: Need,
) -> Result<Session> {
    let store = deps.store;
    let not_logged_in =
        || Error::auth(format!("{purpose}, and you are not logged in")).with_hint(login_hint());
    let Some(session) = store.load()? else {
        return Err(not_logged_in());
    };
    // Made under other settings: not used (the endpoint is compared here
    // when it is configured, else before a refresh sends anything).
    if let Some(why) = binding::mismatch(&session, config, config.token_url.as_ref()) {
        let e = binding::refused(&why);
        let hint = e.hint().unwrap_or(login_hint()).to_owned();
        return Err(Error::auth(format!("{purpose}, but {}", e.message())).with_hint(hint));
    }
    if usable(&session, need, deps.clock.now(), config.skew) {
        tracing::debug!(target: "sso", "SSO session is valid");
        return Ok(session);
    }
    if need == Need::IdToken && session.id_token.is_none() {
        // A login without `openid` has none, and a refresh will not add one.
        return Err(no_id_token(purpose));
    }
    if session.refresh_token.is_none() {
        return Err(
            Error::auth(format!("{purpose}, and yours has expired")).with_hint(login_hint())
        );
    }
    let _lock = store.lock("session", config.refresh_wait(), || {
        tracing::info!(target: "sso", "another lmi process is refreshing the SSO session; waiting")
    })?;
    // Another process may have refreshed while we waited.
    let Some(session) = store.load()? else {
        return Err(not_logged_in());
    };
    if usable(&session, need, deps.clock.now(), config.skew) {
        return Ok(session);
    }
    let idp = Idp::new(config, deps.transport, deps.clock);
    match refresh(&idp, &session) {
        Ok(fresh) => {
            store.save(&fresh)?;
            tracing::info!(target: "sso", "refreshed the SSO session");
            // What the IdP just issued is the freshest there is: it is used
            // even when its lifetime is shorter than the skew. Only an ID
            // token that is missing or already past `exp` is refused.
            if need == Need::IdToken && !id_token_valid(&fresh, deps.clock.now(), 0) {
                return Err(no_id_token(purpose));
            }
            Ok(fresh)
        }
        Err(failure) => {
            let still_ours = store
                .load()
                .ok()
                .flatten()
                .is_some_and(|s| s.refresh_token == session.refresh_token);
            if matches!(failure, RefreshFailure::Rejected(_)) && still_ours {
                // The refresh token is dead: keeping it would make the
                // session look alive to `auth status`. (Under the session
                // lock, so only a session that still holds it is removed.)
                if let Err(e) = store.remove() {
                    tracing::warn!(target: "sso", "could not remove the expired SSO session: {}", e.message());
                }
            }
            Err(Error::auth(format!(
                "{purpose}, and refreshing yours failed: {}",
                failure.error().message()
            ))
            .with_hint(login_hint()))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::sso::store::{MemoryStore, SessionStore, Store};
    use crate::auth::sso::testing::*;
    use crate::clock::{Clock, FixedClock, SystemClock};
    use crate::secret::Secret;

    const T: i64 = 1_800_000_000;

    /// The seams of one test, with the handles it looks at afterwards.
    struct World {
        clock: FixedClock,
        http: FakeTransport,
        browser: RecordingBrowser,
        memory: MemoryStore,
        store: Store,
    }

    impl World {
        fn new(now: i64, session: Option<Session>) -> World {
            let memory = session.map(MemoryStore::holding).unwrap_or_default();
            World {
                clock: FixedClock::at(now),
                http: FakeTransport::default(),
                browser: RecordingBrowser::default(),
                store: Store::memory(memory.clone()),
                memory,
            }
        }

        fn deps(&self) -> SsoDeps<'_> {
            SsoDeps {
                clock: &self.clock,
                sleeper: &self.clock,
                transport: &self.http,
                browser: &self.browser,
                store: &self.store,
                terminal: &crate::terminal::NullTerminal,
            }
        }

        fn gate(&self, config: &SsoConfig) -> Result<()> {
            require_session(&self.deps(), config, Some("prod"))
        }

        fn stored(&self) -> Option<Session> {
            self.memory.load().unwrap()
        }
    }

    fn refreshed(access: &str, expires_in: u64, refresh: Option<&str>) -> serde_json::Value {
        let mut body =
            json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in});
        if let Some(r) = refresh {
            body["refresh_token"] = json!(r);
        }
        body
    }

    #[test]
    fn a_valid_session_passes_the_gate_without_a_request() {
        let w = World::new(T, Some(session(T + 3600, Some("rt-1"))));
        w.gate(&plain_config()).unwrap();
        assert!(w.http.sent().is_empty());
        assert_eq!(w.stored(), Some(session(T + 3600, Some("rt-1"))));
    }

    #[test]
    fn an_expired_access_token_is_refreshed_once_and_saved() {
        let w = World::new(T, Some(session(T - 10, Some("rt-1"))));
        w.http
            .answer(TOKEN_URL, 200, refreshed("at-2", 300, Some("rt-2")));
        w.gate(&plain_config()).unwrap();
        let sent = w.http.token_requests();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].method, "POST");
        assert_eq!(
            sent[0].field("grant_type").as_deref(),
            Some("refresh_token")
        );
        assert_eq!(sent[0].field("refresh_token").as_deref(), Some("rt-1"));
        assert_eq!(sent[0].field("client_id").as_deref(), Some(CLIENT_ID));
        let stored = w.stored().unwrap();
        assert_eq!(stored.access_token, Secret::new("at-2"));
        assert_eq!(stored.refresh_token, Some(Secret::new("rt-2")));
        assert_eq!(stored.expires_at, Some(T + 300));
        // What the response leaves out comes from the old session.
        assert_eq!(stored.user.as_deref(), Some("alice@example.test"));
        assert_eq!(stored.subject.as_deref(), Some("alice"));
        // The saved session is valid now: the next run sends nothing.
        w.gate(&plain_config()).unwrap();
        assert_eq!(w.http.token_requests().len(), 1);
    }

    #[test]
    fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
        let w = World::new(T, Some(session(T - 10, Some("rt-1"))));
        w.http.answer(TOKEN_URL, 200, refreshed("at-2", 300, None));
        w.gate(&plain_config()).unwrap();
        let stored = w.stored().unwrap();
        assert_eq!(stored.access_token, Secret::new("at-2"));
        assert_eq!(stored.refresh_token, Some(Secret::new("rt-1")));
    }

    #[test]
    fn a_rejected_refresh_token_removes_the_session() {
        let w = World::new(T, Some(session(T - 10, Some("rt-1"))));
        w.http.answer(
            TOKEN_URL,
            400,
            json!({"error": "invalid_grant", "error_description": "refresh token expired"}),
        );
        let err = w.gate(&plain_config()).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(
            err.message().contains("environment \"prod\"")
                && err.message().contains("refreshing yours failed")
                && err.message().contains("refresh token expired"),
            "{}",
            err.message()
        );
        assert_eq!(err.hint(), Some("run: lmi login sso"));
        assert!(!err.message().contains("rt-1"));
        assert_eq!(w.http.token_requests().len(), 1);
        assert_eq!(w.stored(), None);
    }

    #[test]
    fn any_other_refresh_failure_keeps_the_session() {
        let w = World::new(T, Some(session(T - 10, Some("rt-1"))));
        w.http
            .answer(TOKEN_URL, 503, json!({"error": "temporarily_unavailable"}));
        let err = w.gate(&plain_config()).unwrap_err();
        assert_eq!(err.hint(), Some("run: lmi login sso"));
        assert_eq!(w.stored(), Some(session(T - 10, Some("rt-1"))));
    }

    #[test]
    fn no_session_or_no_refresh_token_fails_the_gate_without_a_request() {
        let w = World::new(T, None);
        let err = w.gate(&plain_config()).unwrap_err();
        assert!(
            err.message().contains("you are not logged in"),
            "{}",
            err.message()
        );
        assert_eq!(err.hint(), Some("run: lmi login sso"));
        let w2 = World::new(T, Some(session(T - 10, None)));
        let err = w2.gate(&plain_config()).unwrap_err();
        assert!(
            err.message().contains("yours has expired"),
            "{}",
            err.message()
        );
        assert!(w.http.sent().is_empty() && w2.http.sent().is_empty());
        // An expired session without a refresh token is left for login.
        assert!(w2.stored().is_some());
    }

    #[test]
    fn a_token_expiring_within_the_skew_counts_as_expired() {
        let w = World::new(T, Some(session(T + 100, Some("rt-1"))));
        w.http.answer(TOKEN_URL, 200, refreshed("at-2", 300, None));
        w.clock.advance(100 - SKEW - 1);
        w.gate(&plain_config()).unwrap();
        assert!(
            w.http.sent().is_empty(),
            "still fresh one second before the skew"
        );
        w.clock.advance(1);
        w.gate(&plain_config()).unwrap();
        assert_eq!(w.http.token_requests().len(), 1);
        assert_eq!(w.stored().unwrap().expires_at, Some(T + 100 - SKEW + 300));
    }

    #[test]
    fn a_refreshed_id_token_must_name_the_same_user() {
        // ID tokens are checked against the system time (jsonwebtoken).
        let now = SystemClock.now();
        let refresh_with = |sub: &str| {
            let w = World::new(now, Some(oidc_session(now - 10, Some("rt-1"))));
            w.http.idp(ISSUER).answer(
                TOKEN_URL,
                200,
                json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 300,
                       "id_token": id_token(sub, &format!("{sub}@example.test"), now)}),
            );
            let result = w.gate(&oidc_config());
            (w, result)
        };
        let (w, result) = refresh_with("alice");
        result.unwrap();
        assert_eq!(w.stored().unwrap().access_token, Secret::new("at-2"));
        assert!(w
            .http
            .sent()
            .iter()
            .any(|s| s.url == format!("{ISSUER}/jwks")));

        let (w, result) = refresh_with("mallory");
        let err = result.unwrap_err();
        assert!(
            err.message().contains("for another user"),
            "{}",
            err.message()
        );
        assert_eq!(err.hint(), Some("run: lmi login sso"));
        // Nothing was stored, and the session (still alice's) is kept.
        assert_eq!(w.stored(), Some(oidc_session(now - 10, Some("rt-1"))));
    }

    #[test]
    fn a_session_stored_without_subject_is_checked_against_its_id_tokens_sub() {
        let now = SystemClock.now();
        let refresh_with = |sub: &str| {
            // The old shape: no `subject`, an ID token for alice.
            let mut old = oidc_session(now - 10, Some("rt-1"));
            old.subject = None;
            old.id_token = Some(Secret::new(id_token("alice", "a@example.test", now - 60)));
            let w = World::new(now, Some(old.clone()));
            w.http.idp(ISSUER).answer(
                TOKEN_URL,
                200,
                json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 300,
                       "id_token": id_token(sub, "a@example.test", now)}),
            );
            let result = w.gate(&oidc_config());
            (w, old, result)
        };
        let (w, old, result) = refresh_with("mallory");
        let err = result.unwrap_err();
        assert!(
            err.message().contains("for another user"),
            "{}",
            err.message()
        );
        assert_eq!(w.stored(), Some(old));
        let (w, _, result) = refresh_with("alice");
        result.unwrap();
        assert_eq!(w.stored().unwrap().subject.as_deref(), Some("alice"));
    }

    #[test]
    fn a_session_made_at_another_token_endpoint_is_not_used() {
        let w = World::new(T, Some(session(T - 10, Some("rt-1"))));
        let elsewhere = SsoConfig {
            token_url: Some(url::Url::parse("https://elsewhere.test/token").unwrap()),
            ..plain_config()
        };
        let err = w.gate(&elsewhere).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(
            err.message().contains("https://elsewhere.test/token")
                && err.message().contains("other settings"),
            "{}",
            err.message()
        );
        assert!(err.hint().unwrap().contains("lmi login sso"));
        assert!(w.http.sent().is_empty(), "the refresh token went nowhere");
        // A valid one is not used either.
        let w = World::new(T, Some(session(T + 3600, Some("rt-1"))));
        w.gate(&elsewhere).unwrap_err();
        // Discovered elsewhere (the metadata names another endpoint): the
        // refresh sends nothing to it.
        let mut old = oidc_session(T - 10, Some("rt-1"));
        old.token_endpoint = Some("https://idp.test/old-token".into());
        let w = World::new(T, Some(old));
        w.http.idp(ISSUER);
        w.gate(&oidc_config()).unwrap_err();
        assert!(w.http.token_requests().is_empty());
    }

    #[test]
    fn an_expired_id_token_is_refreshed_although_the_access_token_is_valid() {
        let now = SystemClock.now();
        let stale = id_token("alice", "alice@example.test", now - 700);
        let mut stored = oidc_session(now + 3600, Some("rt-1"));
        stored.id_token = Some(Secret::new(stale.clone()));
        let w = World::new(now, Some(stored));
        let fresh = id_token("alice", "alice@example.test", now);
        w.http.idp(ISSUER).answer(
            TOKEN_URL,
            200,
            json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 300, "id_token": fresh}),
        );
        // The access-token gate is satisfied without a request...
        w.gate(&oidc_config()).unwrap();
        assert!(w.http.token_requests().is_empty());
        // ...while the ID token is stale, so it is refreshed.
        let got = current_session(&w.deps(), &oidc_config(), "kubectl", Need::IdToken).unwrap();
        assert_eq!(got.id_token, Some(Secret::new(fresh.clone())));
        assert_eq!(w.http.token_requests().len(), 1);
        assert_eq!(w.stored().unwrap().id_token, Some(Secret::new(fresh)));
        // Now valid: no further request.
        current_session(&w.deps(), &oidc_config(), "kubectl", Need::IdToken).unwrap();
        assert_eq!(w.http.token_requests().len(), 1);
    }

    #[test]
    fn a_session_without_an_id_token_is_refused_without_a_request() {
        let w = World::new(T, Some(session(T + 3600, Some("rt-1"))));
        let err =
            current_session(&w.deps(), &plain_config(), "kubectl", Need::IdToken).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(
            err.message().starts_with("kubectl, ") && err.message().contains("no valid ID token"),
            "{}",
            err.message()
        );
        assert!(err.hint().unwrap().contains("openid"));
        assert!(w.http.sent().is_empty());
    }

    #[test]
    fn status_reads_the_store_with_the_clock() {
        let w = World::new(T, Some(session(T + 30, Some("rt-1"))));
        let s = status(&w.deps(), &plain_config());
        assert!(s.configured && s.logged_in && s.refreshable);
        assert_eq!(s.user.as_deref(), Some("alice@example.test"));
        assert_eq!(s.store, "keychain");
        let w = World::new(T, Some(session(T + 30, None)));
        assert!(
            !status(&w.deps(), &plain_config()).logged_in,
            "within the skew"
        );
        w.clock.advance(-1000);
        assert!(status(&w.deps(), &plain_config()).logged_in);
        assert!(w.http.sent().is_empty());
        let none = SsoStatus::not_configured(StoreKind::File);
        assert!(!none.configured && !none.logged_in && none.store == "file");
    }

    #[test]
    fn status_reports_an_unreadable_store() {
        struct Broken;
        impl SessionStore for Broken {
            fn load(&self) -> Result<Option<Session>> {
                Err(Error::auth("no keychain here").with_hint("use a file"))
            }
            fn save(&self, _: &Session) -> Result<()> {
                unreachable!()
            }
            fn remove(&self) -> Result<bool> {
                unreachable!()
            }
            fn describe(&self) -> String {
                "broken".into()
            }
        }
        let mut w = World::new(T, None);
        w.store = Store::new(Box::new(Broken), None);
        let s = status(&w.deps(), &plain_config());
        assert!(s.configured && !s.logged_in);
        assert_eq!(
            s.store_problem,
            Some(("no keychain here".into(), "use a file".into()))
        );
    }
}
