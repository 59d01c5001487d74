//! What goes wrong at an authorization server: the RFC 6749 §5.2 error body
//! (read here and nowhere else), and the typed failure of a token request.
//! The server's words are cleaned of control characters and of anything
//! secret lmi sent before they reach a message.

use serde_json::Value as Json;

use crate::error::Error;
use crate::redact;
use crate::secret::Secret;

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

impl OAuthError {
    /// `code`, then `: description` when the server gave one.
    pub fn summary(&self) -> String {
        format!(
            "{}{}",
            self.code,
            self.description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        )
    }
}

/// What a non-2xx answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorBody {
    /// An OAuth error (RFC 6749 §5.2).
    OAuth(OAuthError),
    /// Something else: the start of the (cleaned) body.
    Other(String),
}

/// The most characters of a server's body that a message quotes.
const SNIPPET: usize = 200;

/// Reads a non-2xx answer. Only 400 and 401 carry OAuth errors (§5.2);
/// any other status is the server's trouble, whatever its body says.
/// Every text is cleaned, with `echo` (what lmi sent) scrubbed.
pub fn parse_error(status: u16, body: &[u8], echo: &[&Secret]) -> ErrorBody {
    let text = String::from_utf8_lossy(body);
    let json: Option<Json> = serde_json::from_str(&text).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(Json::as_str)
            .map(|v| redact::server_text(v, echo))
    };
    let snippet = snippet(&text, echo);
    match field("error").filter(|_| matches!(status, 400 | 401)) {
        Some(code) => ErrorBody::OAuth(OAuthError {
            code,
            description: field("error_description"),
            uri: field("error_uri"),
            status,
            body: snippet,
        }),
        None => ErrorBody::Other(snippet),
    }
}

/// The start of a server's text, cleaned, as messages quote it.
pub fn snippet(text: &str, echo: &[&Secret]) -> String {
    redact::server_text(text, echo)
        .chars()
        .take(SNIPPET)
        .collect()
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
    /// A DPoP request answered with a token not bound to the key (RFC 9449
    /// §5: the server ignored the proof).
    NotBound { token_type: String },
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
            GrantFailure::Refused(_)
            | GrantFailure::Malformed(_)
            | GrantFailure::NotBound { .. } => true,
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
                "token endpoint {url} refused the request (HTTP {}): {}",
                e.status,
                e.summary()
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
            GrantFailure::NotBound { token_type } => format!(
                "token endpoint {url} answered a DPoP request with a {token_type} token: \
                 the server did not bind the token to lmi's DPoP key"
            ),
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
