//! Configuration of the test servers: who the clients and users are and how
//! the IdP and API misbehave. [`Behaviour`] (alias [`Options`]) is given to
//! [`crate::TestServer::start`] and can be changed at runtime with
//! [`crate::TestServer::set`]; every request reads the current value.

use std::time::Duration;

/// Options for [`crate::TestServer::start`]; the same struct as the runtime
/// [`Behaviour`], so `Options { jwt_access_tokens: true, ..Options::default() }`
/// works.
pub type Options = Behaviour;

/// An OAuth client registered at the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    /// `None` for a public client (no client authentication, only `client_id`)
    /// or a `private_key_jwt` client.
    pub secret: Option<String>,
    /// A `private_key_jwt` client's public key (RFC 7523 §2.2): PEM (SPKI RSA
    /// or EC, or PKCS#1 RSA) or a JWK as JSON text. Such a client must send a
    /// signed `client_assertion`; it has no secret.
    pub key: Option<String>,
}

impl Client {
    /// A confidential client with a secret.
    pub fn confidential(id: &str, secret: &str) -> Self {
        Client {
            id: id.to_string(),
            secret: Some(secret.to_string()),
            key: None,
        }
    }

    /// A `private_key_jwt` client that authenticates with assertions signed
    /// by the private half of `public_key` (PEM or JWK JSON; see
    /// [`crate::keys::CLIENT_RSA_PUBLIC_PEM`] and its siblings).
    pub fn with_key(id: &str, public_key: &str) -> Self {
        Client {
            id: id.to_string(),
            secret: None,
            key: Some(public_key.to_string()),
        }
    }

    /// No secret and no key: only `client_id` is sent.
    pub(crate) fn is_public(&self) -> bool {
        self.secret.is_none() && self.key.is_none()
    }

    /// A public client (no secret); allowed for the password,
    /// authorization_code and refresh_token grants.
    pub fn public(id: &str) -> Self {
        Client {
            id: id.to_string(),
            secret: None,
            key: None,
        }
    }
}

/// A resource owner for the password grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub password: String,
    pub email: String,
}

impl User {
    pub fn new(username: &str, password: &str, email: &str) -> Self {
        User {
            username: username.to_string(),
            password: password.to_string(),
            email: email.to_string(),
        }
    }
}

/// The identity `/authorize` auto-approves as, and the claims of its ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoUser {
    pub sub: String,
    /// Omitted from the ID token when `None`.
    pub email: Option<String>,
    /// Omitted from the ID token when `None`.
    pub preferred_username: Option<String>,
}

impl Default for SsoUser {
    fn default() -> Self {
        SsoUser {
            sub: "alice-sub".to_string(),
            email: Some("alice@example.test".to_string()),
            preferred_username: Some("alice".to_string()),
        }
    }
}

/// Which discovery documents the IdP serves (the others answer 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WellKnown {
    /// Both `/.well-known/oauth-authorization-server` and
    /// `/.well-known/openid-configuration`.
    #[default]
    Both,
    /// Only `/.well-known/oauth-authorization-server` (RFC 8414).
    OAuthOnly,
    /// Only `/.well-known/openid-configuration`.
    OpenIdOnly,
    /// Neither.
    None,
}

/// How every `POST /token` fails (after being counted and recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// 401 `{"error":"invalid_client","error_description":"Client authentication failed"}`.
    InvalidClient,
    /// 400 `{"error":"invalid_grant",...}`.
    InvalidGrant,
    /// 500 with a plain-text body.
    ServerError,
    /// 200 with `<html>oops</html>`.
    NotJson,
    /// 200 `{"token_type":"Bearer"}`.
    NoAccessToken,
    /// 200, a valid token but `"expires_in":"3600"` (a string).
    ExpiresInString,
    /// 200, a valid token but `"expires_in":-5`.
    ExpiresInNegative,
    /// Sleep, then answer normally.
    Slow(Duration),
}

/// How the ID token of an authorization_code (or SSO refresh) response is
/// broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenFault {
    /// Signed with a different ("rogue") RSA key that carries the same `kid`.
    BadSignature,
    /// `aud` is not the client id.
    WrongAudience,
    /// `iss` is not the IdP URL.
    WrongIssuer,
    /// `exp` one hour in the past.
    Expired,
    /// `nonce` differs from the one sent to `/authorize`.
    WrongNonce,
    /// Unsigned token with header `alg: none`.
    AlgNone,
    /// No `id_token` in the response at all.
    Missing,
}

/// How a device-flow poll fails (see [`Behaviour::device_failing_polls`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollFailure {
    /// This HTTP status with a plain-text body (e.g. 503).
    Status(u16),
    /// The connection is closed without an answer.
    Close,
}

/// How the device authorization grant ends once the user code is approved
/// and the pending polls are over (instead of issuing tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDenial {
    /// 400 `access_denied` (RFC 8628 §3.5).
    AccessDenied,
    /// 400 `expired_token`.
    ExpiredToken,
}

/// How `POST /device_authorization` fails (after being counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAuthorizationFailure {
    /// 401 `invalid_client`.
    InvalidClient,
    /// 400 `invalid_scope`.
    InvalidScope,
    /// 500 with a plain-text body.
    ServerError,
    /// 200 with `<html>oops</html>`.
    NotJson,
    /// 200, a normal answer without this field (e.g. `"device_code"`).
    MissingField(String),
    /// 200, a normal answer where this field has the wrong JSON type (a
    /// number becomes a string, a string a number).
    WrongType(String),
}

/// The `iss` parameter `/authorize` adds to its redirect (RFC 9207 §2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AuthorizationIss {
    /// No `iss` (as before RFC 9207).
    #[default]
    Omit,
    /// `iss` = the issuer (the IdP URL).
    Correct,
    /// `iss` = `https://mix-up.example.test`, another issuer.
    Wrong,
    /// `iss` = this value.
    Value(String),
}

/// Everything that shapes the servers' answers. Mutable at runtime through
/// [`crate::TestServer::set`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Registered clients. Default: confidential `("lmi-client", "lmi-secret")`
    /// and public `"lmi-public"`.
    pub clients: Vec<Client>,
    /// Password-grant users. Default: `alice` / `wonderland`.
    pub users: Vec<User>,
    /// The user `/authorize` approves as.
    pub sso_user: SsoUser,
    /// `expires_in` of access tokens, also their server-side lifetime.
    /// `None` omits `expires_in` and the opaque token never expires (a JWT
    /// then still carries `exp` = now + 3600). Default `Some(3600)`.
    pub token_lifetime: Option<u64>,
    /// RS256 JWT access tokens instead of opaque random strings. Default false.
    pub jwt_access_tokens: bool,
    /// Issue refresh tokens for the password, authorization_code and
    /// refresh_token grants. Default true.
    pub issue_refresh_tokens: bool,
    /// Issue refresh tokens for the client_credentials grant. Default false.
    pub refresh_for_client_credentials: bool,
    /// Which discovery documents are served. Default [`WellKnown::Both`].
    pub well_known: WellKnown,
    /// Make every token request fail in this way. Default `None`.
    pub token_failure: Option<TokenFailure>,
    /// The refresh_token grant answers 400 invalid_grant. Default false.
    pub refresh_failure: bool,
    /// The API answers 401 to everything that needs a token. Default false.
    pub api_always_401: bool,
    /// Break the ID token. Default `None`.
    pub id_token_fault: Option<IdTokenFault>,
    /// `/authorize` redirects back with `error` and `error_description`
    /// (e.g. `("access_denied", "The user denied the request")`).
    pub authorize_error: Option<(String, String)>,
    /// Serve and advertise `/revoke`. Default true.
    pub revocation_endpoint: bool,
    /// `/revoke` answers 500 (after authenticating the client) and revokes
    /// nothing. Default false.
    pub revocation_failure: bool,

    // --- device authorization grant (RFC 8628) ---------------------------
    /// Advertise `device_authorization_endpoint` in the metadata (the
    /// endpoint is served either way). Default true.
    pub device_endpoint_in_metadata: bool,
    /// `interval` of the device authorization response; `None` omits it.
    /// Default `Some(5)`.
    pub device_interval: Option<u64>,
    /// `expires_in` of the device authorization response, also the device
    /// code's server-side lifetime. Default 600.
    pub device_expires_in: u64,
    /// Include `verification_uri_complete`. Default true.
    pub device_verification_uri_complete: bool,
    /// Answer `authorization_pending` this many times per device code before
    /// anything else. Default 0.
    pub device_pending_polls: usize,
    /// Approve without a user: true (default) ends the pending answers after
    /// `device_pending_polls`; false keeps answering `authorization_pending`
    /// until the user code is confirmed at `/device` (or with
    /// [`crate::TestServer::approve_device`]).
    pub device_auto_approve: bool,
    /// Polls (numbered from 1 per device code) answered `slow_down`, e.g.
    /// `vec![2]` or `(1..=3).collect()`. Default empty.
    pub device_slow_down_polls: Vec<usize>,
    /// End with this error instead of tokens. Default `None`.
    pub device_denial: Option<DeviceDenial>,
    /// The first this-many polls of each device code fail as
    /// `device_poll_failure` says. Default 0.
    pub device_failing_polls: usize,
    /// How the failing polls fail. Default `PollFailure::Status(503)`.
    pub device_poll_failure: PollFailure,
    /// Make `POST /device_authorization` fail. Default `None`.
    pub device_authorization_failure: Option<DeviceAuthorizationFailure>,

    // --- RFC 9207 -----------------------------------------------------------
    /// The `iss` of `/authorize` redirects (success and error). Default
    /// [`AuthorizationIss::Omit`].
    pub authorization_iss: AuthorizationIss,
    /// `authorization_response_iss_parameter_supported` in the metadata;
    /// `None` leaves it out. Default `None`.
    pub iss_parameter_supported: Option<bool>,

    // --- private_key_jwt (RFC 7523) ---------------------------------------
    /// The longest a client assertion may live: `exp` later than now + this
    /// is refused. Default 60.
    pub client_assertion_max_lifetime: u64,
    /// Every response (IdP, API, other) carries a `Date` header this many seconds away
    /// from the real time (a server whose clock is off). Default `None`:
    /// the real time.
    pub date_offset: Option<i64>,
    /// Pushed authorization requests (RFC 9126). Default: served, not
    /// advertised, not required.
    pub par: crate::par::Par,
    /// DPoP (RFC 9449) at the token endpoint and the API. Default: no
    /// client needs it.
    pub dpop: crate::dpop::DpopBehaviour,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            clients: vec![
                Client::confidential("lmi-client", "lmi-secret"),
                Client::public("lmi-public"),
            ],
            users: vec![User::new("alice", "wonderland", "alice@example.test")],
            sso_user: SsoUser::default(),
            token_lifetime: Some(3600),
            jwt_access_tokens: false,
            issue_refresh_tokens: true,
            refresh_for_client_credentials: false,
            well_known: WellKnown::Both,
            token_failure: None,
            refresh_failure: false,
            api_always_401: false,
            id_token_fault: None,
            authorize_error: None,
            revocation_endpoint: true,
            revocation_failure: false,
            device_endpoint_in_metadata: true,
            device_interval: Some(5),
            device_expires_in: 600,
            device_verification_uri_complete: true,
            device_pending_polls: 0,
            device_auto_approve: true,
            device_slow_down_polls: Vec::new(),
            device_denial: None,
            device_failing_polls: 0,
            device_poll_failure: PollFailure::Status(503),
            device_authorization_failure: None,
            authorization_iss: AuthorizationIss::Omit,
            iss_parameter_supported: None,
            client_assertion_max_lifetime: 60,
            date_offset: None,
            par: crate::par::Par::default(),
            dpop: crate::dpop::DpopBehaviour::default(),
        }
    }
}

impl Behaviour {
    pub(crate) fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.id == id)
    }

    pub(crate) fn user(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == username)
    }
}
