//! Test doubles for the SSO logic: an HTTP transport with canned answers
//! that records what it was sent, a browser that records what it was asked
//! to open, configurations, sessions and ID tokens signed with the test
//! IdP's key.

use std::sync::Mutex;
use std::time::Duration;

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value as Json};
use url::Url;

use crate::secret::Secret;

use super::browser::Browser;
use super::store::Session;
use crate::config::{SsoConfig, StoreKind};

pub const ISSUER: &str = "https://idp.test";
pub const TOKEN_URL: &str = "https://idp.test/token";
pub const CLIENT_ID: &str = "lmi-public";
pub const SKEW: i64 = 60;

const SIGNING_KEY: &str = include_str!("../../../testidp/keys/signing.key.pem");
const SIGNING_JWK: &str = include_str!("../../../testidp/keys/signing.jwk.json");
const KID: &str = "testidp-signing-key-1";

pub use crate::auth::testing::{FakeTransport, Sent};

/// The SSO tests' view of the fake transport: a test IdP at [`ISSUER`].
pub trait FakeIdp {
    /// Serves the issuer's metadata (RFC 8414 location), naming `issuer`,
    /// and the test IdP's key set.
    fn idp(&self, issuer: &str) -> &FakeTransport;
    /// Every request so far.
    fn sent(&self) -> Vec<Sent>;
    /// The requests to the token endpoint.
    fn token_requests(&self) -> Vec<Sent>;
}

impl FakeIdp for FakeTransport {
    fn idp(&self, issuer: &str) -> &FakeTransport {
        self.answer(
            &format!("{ISSUER}/.well-known/oauth-authorization-server"),
            200,
            json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{ISSUER}/authorize"),
                "token_endpoint": TOKEN_URL,
                "jwks_uri": format!("{ISSUER}/jwks"),
            }),
        );
        let jwk: Json = serde_json::from_str(SIGNING_JWK).unwrap();
        self.answer(&format!("{ISSUER}/jwks"), 200, json!({ "keys": [jwk] }))
    }

    fn sent(&self) -> Vec<Sent> {
        self.requests()
    }

    fn token_requests(&self) -> Vec<Sent> {
        self.requests_to(TOKEN_URL)
    }
}

/// Records the URLs it is asked to open; opens nothing. `configured`
/// plays a set `$BROWSER`.
#[derive(Default)]
pub struct RecordingBrowser {
    pub opened: Mutex<Vec<String>>,
    pub configured: bool,
}

impl Browser for RecordingBrowser {
    fn open(&self, url: &str) -> bool {
        self.opened.lock().unwrap().push(url.to_owned());
        false
    }

    fn open_configured(&self, url: &str) -> Option<bool> {
        self.configured.then(|| {
            self.opened.lock().unwrap().push(url.to_owned());
            true
        })
    }
}

/// SSO without OpenID: explicit endpoints, no ID token.
pub fn plain_config() -> SsoConfig {
    SsoConfig {
        client_id: CLIENT_ID.into(),
        issuer: None,
        issuer_id: TOKEN_URL.into(),
        authorization_url: Some(Url::parse(&format!("{ISSUER}/authorize")).unwrap()),
        token_url: Some(Url::parse(TOKEN_URL).unwrap()),
        device_authorization_url: None,
        flow: crate::config::FlowSetting::Auto,
        par: crate::config::ParSetting::Auto,
        dpop: false,
        scopes: "profile offline_access".into(),
        redirect_port: 0,
        login_timeout: 5,
        store: StoreKind::Keychain,
        skew: SKEW,
        http_timeout: Duration::from_secs(5),
    }
}

/// SSO with OpenID: endpoints and keys discovered from [`ISSUER`].
pub fn oidc_config() -> SsoConfig {
    SsoConfig {
        issuer: Some(Url::parse(ISSUER).unwrap()),
        issuer_id: ISSUER.into(),
        authorization_url: None,
        token_url: None,
        scopes: "openid profile offline_access".into(),
        ..plain_config()
    }
}

/// A session of `alice` whose access token expires at `expires_at`.
pub fn session(expires_at: i64, refresh_token: Option<&str>) -> Session {
    Session {
        access_token: Secret::new("at-1"),
        refresh_token: refresh_token.map(Secret::new),
        id_token: None,
        expires_at: Some(expires_at),
        issuer: TOKEN_URL.into(),
        client_id: CLIENT_ID.into(),
        user: Some("alice@example.test".into()),
        subject: Some("alice".into()),
        obtained_at: None,
        token_endpoint: Some(TOKEN_URL.into()),
        flow: None,
        dpop: Default::default(),
    }
}

/// [`session`] as [`oidc_config`] makes it: issued by [`ISSUER`].
pub fn oidc_session(expires_at: i64, refresh_token: Option<&str>) -> Session {
    Session {
        issuer: ISSUER.into(),
        ..session(expires_at, refresh_token)
    }
}

/// An ID token for `sub` from [`ISSUER`], signed with the test IdP's key,
/// valid for ten minutes after `now` (the system time: jsonwebtoken checks
/// `exp` against it).
pub fn id_token(sub: &str, email: &str, now: i64) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.into());
    encode(
        &header,
        &json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": sub, "email": email,
                "iat": now, "exp": now + 600}),
        &EncodingKey::from_rsa_pem(SIGNING_KEY.as_bytes()).unwrap(),
    )
    .unwrap()
}
