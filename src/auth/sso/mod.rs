//! The interactive SSO session (SPEC §5): configuration, the IdP's
//! endpoints, session state for `auth status`, the silent refresh and the
//! `REQUIRE_SSO` gate.
//!
//! - `pkce`: PKCE verifier/challenge, `state`, `nonce`.
//! - `loopback`: the `127.0.0.1` redirect listener (RFC 8252 §7.3).
//! - `browser`: `$BROWSER` or the platform opener.
//! - `id_token`: ID token validation against the issuer's JWKS.
//! - `store`: the keychain entry (or opt-in file) and the lock files.
//! - `flow`: `login sso` and `logout sso`.

pub mod browser;
pub mod flow;
pub mod id_token;
pub mod loopback;
pub mod pkce;
pub mod store;

use std::cell::OnceCell;
use std::time::Duration;

use serde::Serialize;
use url::Url;

use crate::auth::discovery::{self, Metadata};
use crate::auth::grants::{request_token, AuthMethod, Grant, TokenRequest, TokenResponse};
use crate::commands::Ctx;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::{discovered_endpoint, secure_endpoint, Http};
use crate::output::rfc3339;
use crate::paths::Paths;
use crate::secret::Secret;

use store::{Session, Store, StoreKind};

/// `auth status`'s `sso` object.
#[derive(Debug, Serialize)]
pub struct SsoStatus {
    pub configured: bool,
    pub logged_in: bool,
    pub user: Option<String>,
    pub issuer: Option<String>,
    pub expires_at: Option<String>,
    pub refreshable: bool,
    pub store: String,
    /// Why the store could not be read (message, hint); not part of the JSON.
    #[serde(skip)]
    pub store_problem: Option<(String, String)>,
}

/// Validated SSO settings; building them needs no network.
#[derive(Debug, Clone)]
pub struct SsoConfig {
    pub client_id: String,
    /// `OAUTH_SSO_ISSUER`, when set.
    pub issuer: Option<Url>,
    /// The issuer as configured (without a trailing `/`), or the token URL
    /// when no issuer is set: names the session and the keychain account.
    pub issuer_id: String,
    pub authorization_url: Option<Url>,
    pub token_url: Option<Url>,
    pub scopes: String,
    pub redirect_port: u16,
    pub login_timeout: u64,
    pub store: StoreKind,
    pub skew: i64,
    pub http_timeout: Duration,
}

const DEFAULT_SCOPES: &str = "openid profile email offline_access";

impl SsoConfig {
    pub fn from_settings(settings: &Settings, paths: &Paths) -> Result<SsoConfig> {
        // The SSO session is one per IdP and client, shared by every
        // environment: its keys belong in the main file.
        let main = paths.main_config();
        let where_to_set = |key: &str| {
            format!(
                "set {key} in {} (the SSO session is shared by all environments) or as an environment variable",
                main.display()
            )
        };
        let client_id = settings
            .get("OAUTH_SSO_CLIENT_ID")
            .ok_or_else(|| {
                Error::config("OAUTH_SSO_CLIENT_ID is not set: SSO is not configured")
                    .with_hint(where_to_set("OAUTH_SSO_CLIENT_ID (and OAUTH_SSO_ISSUER)"))
            })?
            .trim()
            .to_owned();
        let issuer = settings
            .get("OAUTH_SSO_ISSUER")
            .map(|raw| secure_endpoint("OAUTH_SSO_ISSUER", raw))
            .transpose()?;
        let authorization_url = settings
            .get("OAUTH_SSO_AUTHORIZATION_URL")
            .map(|raw| secure_endpoint("OAUTH_SSO_AUTHORIZATION_URL", raw))
            .transpose()?;
        let token_url = settings
            .get("OAUTH_SSO_TOKEN_URL")
            .map(|raw| secure_endpoint("OAUTH_SSO_TOKEN_URL", raw))
            .transpose()?;
        let scopes = settings
            .get("OAUTH_SSO_SCOPES")
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SCOPES.to_owned());
        let issuer_id = match (&issuer, &token_url, &authorization_url) {
            (Some(_), _, _) => settings
                .get("OAUTH_SSO_ISSUER")
                .unwrap_or_default()
                .trim()
                .trim_end_matches('/')
                .to_owned(),
            (None, Some(token), Some(_)) => token.to_string(),
            _ => return Err(Error::config("OAUTH_SSO_ISSUER is not set")
                .with_hint(where_to_set(
                "OAUTH_SSO_ISSUER (or both OAUTH_SSO_AUTHORIZATION_URL and OAUTH_SSO_TOKEN_URL)",
            ))),
        };
        if issuer.is_none() && wants_openid(&scopes) {
            // The ID token is checked against the issuer and its JWKS.
            return Err(Error::config(
                "OAUTH_SSO_ISSUER is not set, and lmi needs it to validate the ID token that the openid scope asks for",
            )
            .with_hint(where_to_set("OAUTH_SSO_ISSUER")));
        }
        let port = settings.u64("OAUTH_SSO_REDIRECT_PORT")?;
        let redirect_port = u16::try_from(port).map_err(|_| {
            Error::config(format!("OAUTH_SSO_REDIRECT_PORT {port} is not a TCP port"))
                .with_hint("use 0 (any free port) or a port between 1024 and 65535")
        })?;
        Ok(SsoConfig {
            client_id,
            issuer,
            issuer_id,
            authorization_url,
            token_url,
            scopes,
            redirect_port,
            login_timeout: settings.u64("OAUTH_SSO_LOGIN_TIMEOUT")?.max(1),
            store: StoreKind::parse(settings.get("OAUTH_SSO_TOKEN_STORE"))?,
            skew: settings.u64("TOKEN_EXPIRY_SKEW")? as i64,
            http_timeout: Duration::from_secs(settings.u64("HTTP_TIMEOUT")?.max(1)),
        })
    }

    pub fn store(&self, paths: &Paths) -> Store {
        Store::new(
            self.store,
            &paths.data_dir,
            &self.client_id,
            &self.issuer_id,
        )
    }

    pub fn wants_openid(&self) -> bool {
        wants_openid(&self.scopes)
    }

    /// How long a refresh may hold the session lock, with room to spare.
    pub(crate) fn refresh_wait(&self) -> Duration {
        self.http_timeout * 4 + Duration::from_secs(10)
    }
}

fn wants_openid(scopes: &str) -> bool {
    scopes.split_whitespace().any(|s| s == "openid")
}

/// The IdP's endpoints: explicit settings first, the rest discovered once
/// (RFC 8414, then OpenID Discovery) when first needed.
pub struct Idp<'a> {
    config: &'a SsoConfig,
    pub http: Http,
    metadata: OnceCell<Option<Metadata>>,
}

impl<'a> Idp<'a> {
    pub fn new(config: &'a SsoConfig) -> Idp<'a> {
        Idp {
            config,
            http: Http::new(config.http_timeout),
            metadata: OnceCell::new(),
        }
    }

    /// The issuer's metadata; `None` when no issuer is configured.
    fn metadata(&self) -> Result<Option<&Metadata>> {
        if let Some(meta) = self.metadata.get() {
            return Ok(meta.as_ref());
        }
        let fetched = match &self.config.issuer {
            None => None,
            Some(issuer) => {
                let meta = discovery::fetch(&self.http, "OAUTH_SSO_ISSUER", issuer)?;
                // RFC 8414 §3.3 / OIDC Discovery §4.3: the document must be
                // the configured issuer's, or tokens could be mixed up.
                if meta.issuer.trim_end_matches('/') != self.config.issuer_id {
                    return Err(Error::auth(format!(
                        "the IdP's metadata names the issuer {:?}, not OAUTH_SSO_ISSUER {:?}",
                        meta.issuer, self.config.issuer_id
                    ))
                    .with_hint("set OAUTH_SSO_ISSUER to the exact issuer identifier of your IdP"));
                }
                Some(meta)
            }
        };
        Ok(self.metadata.get_or_init(|| fetched).as_ref())
    }

    fn discovered(
        &self,
        field: &str,
        value: impl Fn(&Metadata) -> Option<&String>,
    ) -> Result<Option<Url>> {
        let issuer = self.config.issuer.as_ref();
        match (self.metadata()?.and_then(&value), issuer) {
            (Some(raw), Some(issuer)) => Ok(Some(discovered_endpoint(field, raw, issuer)?)),
            (Some(raw), None) => Ok(Some(secure_endpoint(
                &format!("{field} (discovered)"),
                raw,
            )?)),
            (None, _) => Ok(None),
        }
    }

    pub fn authorization_endpoint(&self) -> Result<Url> {
        if let Some(url) = &self.config.authorization_url {
            return Ok(url.clone());
        }
        self.discovered("authorization_endpoint", |m| {
            m.authorization_endpoint.as_ref()
        })?
        .ok_or_else(|| {
            Error::auth(format!(
                "the metadata of {} has no authorization_endpoint",
                self.config.issuer_id
            ))
            .with_hint("set OAUTH_SSO_AUTHORIZATION_URL explicitly")
        })
    }

    pub fn token_endpoint(&self) -> Result<Url> {
        if let Some(url) = &self.config.token_url {
            return Ok(url.clone());
        }
        self.discovered("token_endpoint", |m| m.token_endpoint.as_ref())?
            .ok_or_else(|| {
                Error::auth(format!(
                    "the metadata of {} has no token_endpoint",
                    self.config.issuer_id
                ))
                .with_hint("set OAUTH_SSO_TOKEN_URL explicitly")
            })
    }

    pub fn jwks_uri(&self) -> Result<Url> {
        self.discovered("jwks_uri", |m| m.jwks_uri.as_ref())?
            .ok_or_else(|| {
                Error::auth(format!(
                    "the metadata of {} has no jwks_uri, so lmi cannot check the ID token",
                    self.config.issuer_id
                ))
                .with_hint("check OAUTH_SSO_ISSUER")
            })
    }

    pub fn revocation_endpoint(&self) -> Result<Option<Url>> {
        self.discovered("revocation_endpoint", |m| m.revocation_endpoint.as_ref())
    }

    /// The `iss` an ID token must carry: the metadata's issuer, verbatim.
    fn expected_issuer(&self) -> Result<String> {
        Ok(self
            .metadata()?
            .map(|m| m.issuer.clone())
            .unwrap_or_else(|| self.config.issuer_id.clone()))
    }

    /// Validates an ID token; `nonce` is `None` on refresh.
    pub fn validate_id_token(
        &self,
        token: &Secret,
        nonce: Option<&str>,
    ) -> Result<id_token::Identity> {
        let issuer = self.expected_issuer()?;
        let keys = id_token::fetch_jwks(&self.http, &self.jwks_uri()?)?;
        id_token::verify(
            token,
            &keys,
            &id_token::Expected {
                issuer: &issuer,
                client_id: &self.config.client_id,
                nonce,
            },
        )
    }

    /// A token request at the SSO token endpoint as the public client
    /// (RFC 8252 §8.4: a native app holds no secret).
    pub fn token_request(
        &self,
        grant: Grant,
    ) -> std::result::Result<TokenResponse, crate::auth::grants::GrantError> {
        let token_url = self
            .token_endpoint()
            .map_err(|error| crate::auth::grants::GrantError {
                error,
                oauth_error: None,
                reached: false,
            })?;
        request_token(
            &self.http,
            &TokenRequest {
                token_url: &token_url,
                client_id: &self.config.client_id,
                client_secret: None,
                auth_method: AuthMethod::Post,
                grant,
                scopes: None,
                audience: None,
            },
        )
    }

    /// The session a token response describes. `previous` supplies what a
    /// refresh response may leave out (refresh token, ID token, user).
    pub fn session_from(
        &self,
        response: TokenResponse,
        nonce: Option<&str>,
        previous: Option<&Session>,
    ) -> Result<Session> {
        let now = crate::auth::now();
        let expires_at = match response.expires_in {
            Some(secs) => Some(now.saturating_add(secs.min(i64::MAX as u64) as i64)),
            None => crate::auth::jwt_expiry(response.access_token.expose()),
        };
        let kept = |p: &Session| (p.id_token.clone(), p.user.clone(), p.subject.clone());
        let (id_token, user, subject) = match response.id_token {
            // An ID token nobody asked for, with no issuer to check it
            // against: it cannot be validated, so it is not kept.
            Some(_) if !self.config.wants_openid() && self.config.issuer.is_none() => {
                tracing::debug!(target: "sso", "ignoring an unrequested ID token (no OAUTH_SSO_ISSUER to validate it)");
                previous.map(kept).unwrap_or((None, None, None))
            }
            Some(token) => {
                let identity = self.validate_id_token(&token, nonce)?;
                // OIDC Core §12.2: a refreshed ID token must name the same
                // user as the session's.
                if let Some(before) = previous.and_then(|p| p.subject.as_deref()) {
                    if before != identity.sub {
                        return Err(Error::auth(
                            "the IdP's refreshed ID token is for another user than the session's; nothing was stored",
                        )
                        .with_hint("run: lmi login sso"));
                    }
                }
                let user = identity.user();
                (Some(token), Some(user), Some(identity.sub))
            }
            None => match previous {
                Some(p) => kept(p),
                // OIDC Core §3.1.3.3: a token response to an openid
                // request carries an ID token; without one lmi cannot tell
                // who logged in.
                None if self.config.wants_openid() => {
                    return Err(Error::auth(
                        "the IdP returned no ID token although the openid scope was requested; nothing was stored",
                    )
                    .with_hint("check OAUTH_SSO_SCOPES and the client's settings at the IdP"))
                }
                None => (None, None, None),
            },
        };
        Ok(Session {
            access_token: response.access_token,
            refresh_token: response
                .refresh_token
                .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            id_token,
            expires_at,
            issuer: self.config.issuer_id.clone(),
            client_id: self.config.client_id.clone(),
            user,
            subject,
        })
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
    tracing::info!(target: "sso", "refreshing the SSO session of {}", session.user.as_deref().unwrap_or("unknown user"));
    let response = idp
        .token_request(Grant::RefreshToken(refresh_token))
        .map_err(|e| {
            if e.oauth_error.as_deref() == Some("invalid_grant") {
                RefreshFailure::Rejected(e.error)
            } else {
                RefreshFailure::Failed(e.error)
            }
        })?;
    idp.session_from(response, None, Some(session))
        .map_err(RefreshFailure::Failed)
}

/// The SSO state for `auth status`: no network, no refresh.
pub fn status(ctx: &Ctx, settings: Option<&Settings>) -> Result<SsoStatus> {
    let configured = settings.is_some_and(|s| s.get("OAUTH_SSO_CLIENT_ID").is_some());
    let kind = StoreKind::parse(settings.and_then(|s| s.get("OAUTH_SSO_TOKEN_STORE")))?;
    let mut out = SsoStatus {
        configured,
        logged_in: false,
        user: None,
        issuer: None,
        expires_at: None,
        refreshable: false,
        store: kind.name().to_owned(),
        store_problem: None,
    };
    let Some(settings) = settings.filter(|_| configured) else {
        return Ok(out);
    };
    let config = SsoConfig::from_settings(settings, &ctx.paths)?;
    let session = match config.store(&ctx.paths).load() {
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
        out.logged_in = session.exists(crate::auth::now(), config.skew);
        out.refreshable = session.refresh_token.is_some();
        out.expires_at = session.expires_at.and_then(rfc3339);
        out.user = session.user;
        out.issuer = Some(session.issuer);
    }
    Ok(out)
}

fn login_hint() -> &'static str {
    "run: lmi login sso"
}

/// The gate for `REQUIRE_SSO=true` environments: a valid session, refreshed
/// silently when its access token has expired.
pub fn require_session(ctx: &Ctx, settings: &Settings) -> Result<()> {
    let config = SsoConfig::from_settings(settings, &ctx.paths)?;
    let environment = settings
        .environment()
        .map(|e| format!("environment {:?}", e.as_str()))
        .unwrap_or_else(|| "this environment".to_owned());
    let store = config.store(&ctx.paths);
    let Some(session) = store.load()? else {
        return Err(Error::auth(format!(
            "{environment} requires an SSO session (REQUIRE_SSO), and you are not logged in"
        ))
        .with_hint(login_hint()));
    };
    if session.is_fresh(crate::auth::now(), config.skew) {
        tracing::debug!(target: "sso", "SSO session is valid");
        return Ok(());
    }
    if session.refresh_token.is_none() {
        return Err(Error::auth(format!(
            "{environment} requires an SSO session (REQUIRE_SSO), and yours has expired"
        ))
        .with_hint(login_hint()));
    }
    let _lock = store.lock("session", config.refresh_wait(), || {
        tracing::info!(target: "sso", "another lmi process is refreshing the SSO session; waiting")
    })?;
    // Another process may have refreshed while we waited.
    let Some(session) = store.load()? else {
        return Err(Error::auth(format!(
            "{environment} requires an SSO session (REQUIRE_SSO), and you are not logged in"
        ))
        .with_hint(login_hint()));
    };
    if session.is_fresh(crate::auth::now(), config.skew) {
        return Ok(());
    }
    let idp = Idp::new(&config);
    match refresh(&idp, &session) {
        Ok(fresh) => {
            store.save(&fresh)?;
            tracing::info!(target: "sso", "refreshed the SSO session");
            Ok(())
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
                "{environment} requires an SSO session (REQUIRE_SSO), and refreshing yours failed: {}",
                failure.error().message()
            ))
            .with_hint(login_hint()))
        }
    }
}
