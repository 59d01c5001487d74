//! Token requests to an OAuth token endpoint (RFC 6749 §4.1.3, §4.3, §4.4,
//! §6; RFC 8693 §2.1 token exchange).
//!
//! One function, [`request_token`], sends any grant with any client
//! authentication method (a secret, a signed assertion per RFC 7523 §2.2,
//! or none) and turns every failure into an authentication
//! error that says what went wrong, quoting the server's `error` and
//! `error_description` (§5.2). Nothing here writes to disk: callers cache a
//! token only after a successful exchange.

use base64::Engine;
use serde_json::Value as Json;
use url::Url;

use crate::error::Error;
use crate::http::Transport;
use crate::redact;
use crate::secret::Secret;

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
    /// RFC 8693 §2.1: another token, exchanged for an access token.
    TokenExchange {
        subject_token: Secret,
        subject_token_type: String,
    },
}

/// `grant_type` of the token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type lmi asks a token exchange for (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

impl Grant {
    pub fn name(&self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::Password { .. } => "password",
            Grant::RefreshToken(_) => "refresh_token",
            Grant::AuthorizationCode { .. } => "authorization_code",
            Grant::DeviceCode(_) => "urn:ietf:params:oauth:grant-type:device_code",
            Grant::TokenExchange { .. } => TOKEN_EXCHANGE_GRANT,
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
    /// The client assertion of [`AuthMethod::PrivateKeyJwt`], made for this
    /// request (its `aud` is `token_url`).
    pub client_assertion: Option<&'a Secret>,
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

/// RFC 6749 A.12: `VSCHAR = %x20-7E`.
fn is_vschar(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
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
        Grant::TokenExchange {
            subject_token,
            subject_token_type,
        } => {
            form.push(("subject_token", subject_token.expose()));
            form.push(("subject_token_type", subject_token_type));
            form.push(("requested_token_type", ACCESS_TOKEN_TYPE));
        }
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
        // RFC 7523 §2.2: the assertion authenticates the client; no secret
        // is sent even when one is configured.
        (_, AuthMethod::PrivateKeyJwt) => {
            form.push(("client_id", req.client_id));
            if let Some(assertion) = req.client_assertion {
                form.push(("client_assertion_type", JWT_BEARER_ASSERTION));
                form.push(("client_assertion", assertion.expose()));
            }
        }
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

    let shown_url = crate::redact::url(req.token_url);
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
    let mut secrets: Vec<&Secret> = req
        .client_secret
        .into_iter()
        .chain(basic.iter())
        .chain(req.client_assertion)
        .collect();
    match &req.grant {
        Grant::Password { password, .. } => secrets.push(password),
        Grant::RefreshToken(t) => secrets.push(t),
        Grant::AuthorizationCode { code, verifier, .. } => {
            secrets.push(code);
            secrets.push(verifier);
        }
        Grant::DeviceCode(code) => secrets.push(code),
        Grant::TokenExchange { subject_token, .. } => secrets.push(subject_token),
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
                .map(|v| redact::server_text(v, &secrets))
        };
        let snippet: String = redact::server_text(&text, &secrets)
            .chars()
            .take(200)
            .collect();
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
        Some(Json::String(s)) if !s.is_empty() && s.bytes().all(is_vschar) => Secret::new(s.clone()),
        // RFC 6749 A.12: access-token = 1*VSCHAR. Anything else (ESC, BEL,
        // CR/LF) would reach terminals and headers; nothing is cached.
        Some(Json::String(s)) if !s.is_empty() => {
            return Err(bad(
                "an access_token with characters a token cannot have (RFC 6749 A.12 allows only printable ASCII)".into(),
            ))
        }
        Some(_) => return Err(bad("an access_token that is not a non-empty string".into())),
        None => return Err(bad("no access_token".into())),
    };
    let token_type = match obj.get("token_type") {
        // RFC 6750 §4: the scheme is case-insensitive; lmi sends `Bearer`.
        Some(Json::String(s)) if s.eq_ignore_ascii_case("bearer") => "Bearer".to_owned(),
        None | Some(Json::Null) => "Bearer".to_owned(),
        Some(Json::String(s)) => {
            return Err(bad(format!(
                "token_type {:?}, which lmi does not support (only Bearer; DPoP and MAC tokens are refused)",
                redact::server_text(&s.chars().take(40).collect::<String>(), &[])
            )))
        }
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
            client_assertion: None,
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
    fn assertions_and_exchanges_are_sent_and_scrubbed() {
        let url = Url::parse("http://127.0.0.1:9/token").unwrap();
        let secret = Secret::new("never-sent-secret");
        let assertion = Secret::new("eyJ.assertion-value.sig");
        let subject = Secret::new("subject-token-value");
        let t = FakeTransport::default();
        t.reply(
            400,
            r#"{"error":"invalid_grant","error_description":"bad subject-token-value from eyJ.assertion-value.sig"}"#,
        );
        let req = TokenRequest {
            auth_method: AuthMethod::PrivateKeyJwt,
            client_assertion: Some(&assertion),
            grant: Grant::TokenExchange {
                subject_token: subject.clone(),
                subject_token_type: "urn:ietf:params:oauth:token-type:jwt".into(),
            },
            scopes: Some("read"),
            ..request(&url, &secret)
        };
        let e = request_token(&t, &req).unwrap_err();
        let sent = t.requests().pop().unwrap();
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(sent.body.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(form["grant_type"], TOKEN_EXCHANGE_GRANT);
        assert_eq!(form["subject_token"], "subject-token-value");
        assert_eq!(form["requested_token_type"], ACCESS_TOKEN_TYPE);
        assert_eq!(form["client_assertion_type"], JWT_BEARER_ASSERTION);
        assert_eq!(form["client_assertion"], "eyJ.assertion-value.sig");
        assert_eq!(form["client_id"], "cli");
        assert_eq!(form["scope"], "read");
        assert!(!form.contains_key("client_secret") && sent.header("Authorization").is_none());
        let message = e.message();
        assert!(
            message.contains("invalid_grant: bad [redacted] from [redacted]"),
            "{message}"
        );
    }

    #[test]
    fn control_characters_and_unknown_token_types_are_refused() {
        let url = Url::parse("http://127.0.0.1:9/token").unwrap();
        let secret = Secret::new("hunter2-secret");
        let t = FakeTransport::default();
        for body in [
            r#"{"access_token":"tok\u001b[2J","token_type":"Bearer"}"#,
            r#"{"access_token":"tok\r\nX: y","token_type":"Bearer"}"#,
            r#"{"access_token":"tok","token_type":"mac"}"#,
            r#"{"access_token":"tok","token_type":"Bearer extra"}"#,
            r#"{"access_token":"tok","token_type":"DPoP"}"#,
        ] {
            t.reply(200, body);
            let e = request_token(&t, &request(&url, &secret)).unwrap_err();
            assert!(matches!(*e.failure, GrantFailure::Malformed(_)), "{body}");
            assert!(!e.message().contains('\u{1b}'), "{}", e.message());
        }
        for (body, kind) in [
            (r#"{"access_token":"tok","token_type":"bEaReR"}"#, "Bearer"),
            (r#"{"access_token":"tok"}"#, "Bearer"),
        ] {
            t.reply(200, body);
            let ok = request_token(&t, &request(&url, &secret)).unwrap();
            assert_eq!(ok.token_type, kind);
        }
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c/ä"), "a+b%3Ac%2F%C3%A4");
    }
}
