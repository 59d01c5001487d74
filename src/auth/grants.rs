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
}

impl Grant {
    pub fn name(&self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::Password { .. } => "password",
            Grant::RefreshToken(_) => "refresh_token",
            Grant::AuthorizationCode { .. } => "authorization_code",
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

/// Why a token request failed; `oauth_error` is set when the server answered
/// with an RFC 6749 §5.2 error (so callers can tell `invalid_grant` apart).
#[derive(Debug)]
pub struct GrantError {
    pub error: Error,
    pub oauth_error: Option<String>,
    /// The server was reached and answered at this endpoint (a missing
    /// endpoint, 404, is worth rediscovering).
    pub reached: bool,
}

impl From<GrantError> for Error {
    fn from(value: GrantError) -> Self {
        value.error
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
    tracing::info!(target: "auth", "requesting a token ({} grant) from {shown_url}", req.grant.name());
    let url = shown_url.as_str();
    let response = http
        .post_form(req.token_url, &headers, &form)
        .map_err(|e| GrantError {
            error: Error::auth(format!(
                "token request failed: {}",
                e.describe(http.timeout())
            ))
            .with_hint("check OAUTH_TOKEN_URL / OAUTH_SERVICE_URL and your network, then try again")
            .with_cause(e),
            oauth_error: None,
            reached: false,
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
        Grant::ClientCredentials => {}
    }
    let text = String::from_utf8_lossy(&response.body).into_owned();
    let json: Option<Json> = serde_json::from_str(&text).ok();

    if !(200..300).contains(&response.status) {
        // RFC 6749 §5.2: token errors come as 400 (or 401 for client
        // authentication); anything else is the server's trouble, not ours.
        let oauth_status = matches!(response.status, 400 | 401);
        if let Some(error) = json
            .as_ref()
            .filter(|_| oauth_status)
            .and_then(|j| j.get("error"))
            .and_then(Json::as_str)
        {
            let description = json
                .as_ref()
                .and_then(|j| j.get("error_description"))
                .and_then(Json::as_str)
                .map(|d| format!(": {}", clean_external(d, &secrets)))
                .unwrap_or_default();
            let hint = match error {
                "invalid_client" | "unauthorized_client" => {
                    "check OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET and OAUTH_CLIENT_AUTH_METHOD"
                }
                "invalid_grant" => "check OAUTH_USERNAME and OAUTH_PASSWORD",
                "invalid_scope" => "check OAUTH_SCOPES",
                _ => "check the environment's OAuth settings (lmi config show)",
            };
            return Err(GrantError {
                error: Error::auth(format!(
                    "token endpoint {url} refused the request (HTTP {}): {}{description}",
                    response.status,
                    clean_external(error, &secrets)
                ))
                .with_hint(hint),
                oauth_error: Some(error.to_owned()),
                reached: true,
            });
        }
        let snippet: String = clean_external(&text, &secrets).chars().take(200).collect();
        return Err(GrantError {
            error: Error::auth(format!(
                "token endpoint {url} answered HTTP {} {}{}",
                response.status,
                response.reason,
                if snippet.trim().is_empty() { String::new() } else { format!(": {}", snippet.trim()) }
            ))
            .with_hint(if matches!(response.status, 404 | 405) {
                "is that the token endpoint? check OAUTH_TOKEN_URL (or OAUTH_SERVICE_URL for discovery)"
            } else {
                "the OAuth service may be down; try again, or check OAUTH_TOKEN_URL"
            }),
            oauth_error: None,
            reached: response.status != 404 && response.status != 405,
        });
    }

    let bad = |what: String| GrantError {
        error: Error::auth(format!("token endpoint {url} returned {what}")).with_hint(
            "the server is not a working OAuth 2.0 token endpoint; check OAUTH_TOKEN_URL",
        ),
        oauth_error: None,
        reached: true,
    };
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

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c/ä"), "a+b%3Ac%2F%C3%A4");
    }
}
