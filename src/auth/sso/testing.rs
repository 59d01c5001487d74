//! Test doubles for the SSO logic: an HTTP transport with canned answers
//! that records what it was sent, a browser that records what it was asked
//! to open, configurations, sessions and ID tokens signed with the test
//! IdP's key.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value as Json};
use url::Url;

use crate::http::{Response, Transport, TransportError};
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

/// One request the transport received.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: String,
    pub url: String,
    /// The form fields of a form POST.
    pub form: Vec<(String, String)>,
}

impl Sent {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Canned answers (status, JSON body) for one URL, in order.
type Answers = VecDeque<(u16, Json)>;

/// Answers by URL from queues of canned responses (the last one of a queue
/// repeats); anything else is a 404. Records every request.
#[derive(Default)]
pub struct FakeTransport {
    routes: Mutex<Vec<(String, Answers)>>,
    sent: Mutex<Vec<Sent>>,
}

impl FakeTransport {
    /// Queues `body` with `status` as an answer at `url`.
    pub fn answer(&self, url: &str, status: u16, body: Json) -> &FakeTransport {
        let mut routes = self.routes.lock().unwrap();
        match routes.iter_mut().find(|(u, _)| u == url) {
            Some((_, queue)) => queue.push_back((status, body)),
            None => routes.push((url.to_owned(), VecDeque::from([(status, body)]))),
        }
        self
    }

    /// Serves the issuer's metadata (RFC 8414 location), naming `issuer`,
    /// and the test IdP's key set.
    pub fn idp(&self, issuer: &str) -> &FakeTransport {
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

    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// The requests to the token endpoint.
    pub fn token_requests(&self) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|s| s.url == TOKEN_URL)
            .collect()
    }
}

impl Transport for FakeTransport {
    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }

    fn send(
        &self,
        method: &str,
        url: &Url,
        _headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, TransportError> {
        let form = url::form_urlencoded::parse(body.as_deref().unwrap_or_default())
            .into_owned()
            .collect();
        self.sent.lock().unwrap().push(Sent {
            method: method.to_owned(),
            url: url.to_string(),
            form,
        });
        let mut routes = self.routes.lock().unwrap();
        let (status, body) = match routes.iter_mut().find(|(u, _)| u == url.as_str()) {
            Some((_, queue)) if queue.len() > 1 => queue.pop_front().unwrap(),
            Some((_, queue)) => queue.front().cloned().unwrap(),
            None => (404, json!({})),
        };
        Ok(Response {
            status,
            reason: String::new(),
            version: "HTTP/1.1".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        })
    }
}

/// Records the URLs it is asked to open; opens nothing.
#[derive(Default)]
pub struct RecordingBrowser {
    pub opened: Mutex<Vec<String>>,
}

impl Browser for RecordingBrowser {
    fn open(&self, url: &str) -> bool {
        self.opened.lock().unwrap().push(url.to_owned());
        false
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
