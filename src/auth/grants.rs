//! Token requests to an OAuth token endpoint (RFC 6749 §4.1.3, §4.3, §4.4, §6).
//!
//! One function, [`request_token`], sends any grant with either client
//! authentication method and turns every failure into an authentication
//! error that says what went wrong, quoting the server's `error` and
//! `error_description` (§5.2). Nothing here writes to disk: callers cache a
//! token only after a successful exchange.

use base64::Engine;
use serde_json::Value as Json;
use url::Url;

use crate::error::Error;
use crate::http::Transport;
use crate::secret::{clean_external, Secret};

pub use crate::config::AuthMethod;

/// The grant to send.
#[derive(Debug, Clone)]
pub enum Grant {
    ClientCredentials,
    Password {
        username: String,
        password: Secret,
    },
    RefreshToken(Secret),
    AuthorizationCode {
        code: Secret,
        verifier: Secret,
        redirect_uri: String,
    },
    /// A device-code poll (RFC 8628 §3.4).
    DeviceCode(Secret),
}

impl Grant {
    pub fn name(&self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::Password { .. } => "password",
            Grant::RefreshToken(_) => "refresh_token",
            Grant::AuthorizationCode { .. } => "authorization_code",
            Grant::DeviceCode(_) => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }
}

/// A token request.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    pub token_url: &'a Url,
    pub client_id: &'a str,
    /// `None` for a public client, which sends only `client_id`.
    pub client_secret: Option<&'a Secret>,
    pub auth_method: AuthMethod,
    pub grant: Grant,
    pub scopes: Option<&'a str>,
    pub audience: Option<&'a str>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: Secret,
    pub token_type: String,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<Secret>,
    pub scope: Option<String>,
    pub id_token: Option<Secret>,
}

/// The server's error response (RFC 6749 §5.2), with the server's text
/// already scrubbed of anything lmi sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: String,
    pub description: Option<String>,
    pub uri: Option<String>,
    pub status: u16,
    /// The response body (scrubbed, at most a few hundred characters).
    pub body: String,
}

/// What went wrong at the token endpoint.
#[derive(Debug)]
pub enum GrantFailure {
    /// No endpoint to ask (discovery or configuration failed).
    NoEndpoint(Error),
    /// The endpoint could not be reached or did not answer in time.
    Unreachable {
        error: crate::http::TransportError,
        timeout: std::time::Duration,
    },
    /// The server refused with an OAuth error.
    Refused(OAuthError),
    /// Another HTTP status, with the start of the (scrubbed) body.
    Status {
        status: u16,
        reason: String,
        body: String,
    },
    /// A 2xx answer that is not a usable token response.
    Malformed(String),
}

/// Why a token request failed: the failure, and the endpoint it concerns.
/// The message names no configuration key: the caller, who knows which keys
/// configured this request, adds the hint ([`GrantError::into_error`]).
#[derive(Debug)]
pub struct GrantError {
    /// The endpoint as logs show it.
    pub url: String,
    /// Boxed: a failure is rare, and the `Ok` path stays small.
    pub failure: Box<GrantFailure>,
}

impl GrantError {
    /// The OAuth `error` code, when the server sent one.
    pub fn oauth_code(&self) -> Option<&str> {
        match self.failure.as_ref() {
            GrantFailure::Refused(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The server was reached and answered at this endpoint (a missing
    /// endpoint, 404 or 405, is worth rediscovering).
    pub fn reached(&self) -> bool {
        match self.failure.as_ref() {
            GrantFailure::NoEndpoint(_) | GrantFailure::Unreachable { .. } => false,
            GrantFailure::Status { status, .. } => !matches!(status, 404 | 405),
            GrantFailure::Refused(_) | GrantFailure::Malformed(_) => true,
        }
    }

    /// The one-line description of what went wrong.
    pub fn message(&self) -> String {
        let url = &self.url;
        match self.failure.as_ref() {
            GrantFailure::NoEndpoint(e) => e.message().to_owned(),
            GrantFailure::Unreachable { error, timeout } => {
                format!("token request failed: {}", error.describe(*timeout))
            }
            GrantFailure::Refused(e) => format!(
                "token endpoint {url} refused the request (HTTP {}): {}{}",
                e.status,
                e.code,
                e.description
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            GrantFailure::Status {
                status,
                reason,
                body,
            } => format!(
                "token endpoint {url} answered HTTP {status} {reason}{}",
                if body.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", body.trim())
                }
            ),
            GrantFailure::Malformed(what) => format!("token endpoint {url} returned {what}"),
        }
    }

    /// The authentication error, with the hint `hint` gives for this failure
    /// (`None` keeps the hint of an endpoint error, or gives none).
    pub fn into_error(self, hint: impl FnOnce(&GrantFailure) -> Option<String>) -> Error {
        let message = self.message();
        let hint = hint(&self.failure);
        let mut error = match *self.failure {
            GrantFailure::NoEndpoint(e) => e,
            GrantFailure::Unreachable { error, .. } => Error::auth(message).with_cause(error),
            _ => Error::auth(message),
        };
        if let Some(hint) = hint {
            error = error.with_hint(hint);
        }
        error
    }
}

fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Sends the request and parses the answer.
pub fn request_token(
    http: &dyn Transport,
    req: &TokenRequest<'_>,
) -> std::result::Result<TokenResponse, GrantError> {
    let mut form: Vec<(&str, &str)> = vec![("grant_type", req.grant.name())];
    match &req.grant {
        Grant::ClientCredentials => {}
        Grant::Password { username, password } => {
            form.push(("username", username));
            form.push(("password", password.expose()));
        }
        Grant::RefreshToken(token) => form.push(("refresh_token", token.expose())),
        Grant::AuthorizationCode {
            code,
            verifier,
            redirect_uri,
        } => {
            form.push(("code", code.expose()));
            form.push(("code_verifier", verifier.expose()));
            form.push(("redirect_uri", redirect_uri));
        }
        Grant::DeviceCode(code) => form.push(("device_code", code.expose())),
    }
    if let Some(scopes) = req.scopes.filter(|s| !s.trim().is_empty()) {
        form.push(("scope", scopes));
    }
    if let Some(audience) = req.audience.filter(|s| !s.trim().is_empty()) {
        form.push(("audience", audience));
    }
    let mut headers = Vec::new();
    // The Basic credential, in both forms a server might echo it back.
    let mut basic: Vec<Secret> = Vec::new();
    match (req.client_secret, req.auth_method) {
        (Some(secret), AuthMethod::Basic) => {
            let pair = format!(
                "{}:{}",
                form_encode(req.client_id),
                form_encode(secret.expose())
            );
            let encoded = base64::engine::general_purpose::STANDARD.encode(&pair);
            headers.push(("Authorization".to_owned(), format!("Basic {encoded}")));
            basic.push(Secret::new(pair));
            basic.push(Secret::new(encoded));
        }
        (Some(secret), AuthMethod::Post) => {
            form.push(("client_id", req.client_id));
            form.push(("client_secret", secret.expose()));
        }
        (None, _) => form.push(("client_id", req.client_id)),
    }

    let shown_url = crate::http::loggable_url(req.token_url);
    if matches!(req.grant, Grant::DeviceCode(_)) {
        // A poll every few seconds: one line each only at -vv.
        tracing::debug!(target: "auth", "polling {shown_url} for the device login's tokens");
    } else {
        tracing::info!(target: "auth", "requesting a token ({} grant) from {shown_url}", req.grant.name());
    }
    let fail = |failure: GrantFailure| GrantError {
        url: shown_url.clone(),
        failure: Box::new(failure),
    };
    let response = http
        .post_form(req.token_url, &headers, &form)
        .map_err(|error| {
            fail(GrantFailure::Unreachable {
                error,
                timeout: http.timeout(),
            })
        })?;

    // Anything the server echoes back goes through scrub before it is shown.
    let mut secrets: Vec<&Secret> = req.client_secret.into_iter().chain(basic.iter()).collect();
    match &req.grant {
        Grant::Password { password, .. } => secrets.push(password),
        Grant::RefreshToken(t) => secrets.push(t),
        Grant::AuthorizationCode { code, verifier, .. } => {
            secrets.push(code);
            secrets.push(verifier);
        }
        Grant::DeviceCode(code) => secrets.push(code),
        Grant::ClientCredentials => {}
    }
    let text = String::from_utf8_lossy(&response.body).into_owned();
    let json: Option<Json> = serde_json::from_str(&text).ok();

    if !(200..300).contains(&response.status) {
        // RFC 6749 §5.2: token errors come as 400 (or 401 for client
        // authentication); anything else is the server's trouble, not ours.
        let oauth_status = matches!(response.status, 400 | 401);
        let field = |name: &str| {
            json.as_ref()
                .and_then(|j| j.get(name))
                .and_then(Json::as_str)
                .map(|v| clean_external(v, &secrets))
        };
        let snippet: String = clean_external(&text, &secrets).chars().take(200).collect();
        if let Some(code) = field("error").filter(|_| oauth_status) {
            return Err(fail(GrantFailure::Refused(OAuthError {
                code,
                description: field("error_description"),
                uri: field("error_uri"),
                status: response.status,
                body: snippet,
            })));
        }
        return Err(fail(GrantFailure::Status {
            status: response.status,
            reason: response.reason.clone(),
            body: snippet,
        }));
    }

    let bad = |what: String| fail(GrantFailure::Malformed(what));
    let Some(Json::Object(obj)) = json else {
        return Err(bad("a response that is not a JSON object".into()));
    };
    let access_token = match obj.get("access_token") {
        Some(Json::String(s)) if !s.is_empty() => Secret::new(s.clone()),
        Some(_) => return Err(bad("an access_token that is not a non-empty string".into())),
        None => return Err(bad("no access_token".into())),
    };
    let token_type = match obj.get("token_type") {
        Some(Json::String(s)) => s.clone(),
        None => "Bearer".to_owned(),
        Some(_) => return Err(bad("a token_type that is not a string".into())),
    };
    let expires_in = match obj.get("expires_in") {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(v), _, _) => Some(v),
            (None, Some(_), _) => return Err(bad(format!("a negative expires_in ({n})"))),
            (None, None, Some(f)) if f >= 0.0 => Some(f as u64),
            _ => return Err(bad(format!("a negative expires_in ({n})"))),
        },
        Some(other) => {
            return Err(bad(format!(
                "an expires_in that is not a number of seconds ({other})"
            )))
        }
    };
    let opt_secret = |key: &str| match obj.get(key) {
        Some(Json::String(s)) if !s.is_empty() => Some(Secret::new(s.clone())),
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type,
        expires_in,
        refresh_token: opt_secret("refresh_token"),
        scope: obj.get("scope").and_then(Json::as_str).map(str::to_owned),
        id_token: opt_secret("id_token"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::auth::testing::FakeTransport;

    fn request<'a>(url: &'a Url, secret: &'a Secret) -> TokenRequest<'a> {
        TokenRequest {
            token_url: url,
            client_id: "cli",
            client_secret: Some(secret),
            auth_method: AuthMethod::Post,
            grant: Grant::ClientCredentials,
            scopes: None,
            audience: None,
        }
    }

    #[test]
    fn failures_are_typed_and_scrubbed() {
        let url = Url::parse("http://127.0.0.1:9/token").unwrap();
        let secret = Secret::new("hunter2-secret");
        let t = FakeTransport::default();
        t.reply(
            401,
            r#"{"error":"invalid_client","error_description":"bad hunter2-secret","error_uri":"https://e/x"}"#,
        );
        let e = request_token(&t, &request(&url, &secret)).unwrap_err();
        assert_eq!(e.oauth_code(), Some("invalid_client"));
        match e.failure.as_ref() {
            GrantFailure::Refused(o) => {
                assert_eq!(o.status, 401);
                assert_eq!(o.uri.as_deref(), Some("https://e/x"));
                assert!(!o.description.as_deref().unwrap().contains("hunter2"));
                assert!(!o.body.contains("hunter2"));
            }
            other => panic!("{other:?}"),
        }
        assert!(e.reached());
        let error = e.into_error(|_| Some("check the client".into()));
        assert_eq!(error.hint(), Some("check the client"));
        assert!(
            error.message().contains("invalid_client: bad [redacted]")
                || !error.message().contains("hunter2")
        );

        t.reply(404, "nope");
        let e = request_token(&t, &request(&url, &secret)).unwrap_err();
        assert!(!e.reached(), "a 404 is worth rediscovering");
        assert!(e.oauth_code().is_none());

        // No canned answer left: the endpoint is unreachable.
        let e = request_token(&t, &request(&url, &secret)).unwrap_err();
        assert!(matches!(*e.failure, GrantFailure::Unreachable { .. }));
        assert!(
            e.into_error(|_| None).hint().is_none(),
            "hints are the caller's"
        );

        t.reply(200, r#"{"token_type":"Bearer"}"#);
        let e = request_token(&t, &request(&url, &secret)).unwrap_err();
        assert!(
            e.message().ends_with("returned no access_token"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c/ä"), "a+b%3Ac%2F%C3%A4");
    }
}
