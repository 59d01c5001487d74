//! Token requests to an OAuth token endpoint, the use case the service
//! tokens and the SSO session share: one log line, then the OAuth core
//! (`auth::oauth`) builds the request for any grant and client
//! authentication method, sends it and reads the answer. Every failure is a
//! typed [`GrantError`] quoting the server's `error` and
//! `error_description` (RFC 6749 §5.2); the caller adds the hint. Nothing
//! here writes to disk: callers cache a token only after a successful
//! request.

pub use crate::auth::oauth::{
    Grant, GrantError, GrantFailure, OAuthError, TokenRequest, TokenResponse, ACCESS_TOKEN_TYPE,
    JWT_BEARER_ASSERTION, TOKEN_EXCHANGE_GRANT,
};
pub use crate::config::AuthMethod;

use crate::auth::oauth::send_token_request;
use crate::http::Transport;

/// Sends the request and reads the answer.
pub fn request_token(
    http: &dyn Transport,
    req: &TokenRequest<'_>,
) -> std::result::Result<TokenResponse, GrantError> {
    let shown_url = crate::redact::url(req.token_url);
    if matches!(req.grant, Grant::DeviceCode(_)) {
        // A poll every few seconds: one line each only at -vv.
        tracing::debug!(target: "auth", "polling {shown_url} for the device login's tokens");
    } else {
        tracing::info!(target: "auth", "requesting a token ({} grant) from {shown_url}", req.grant.name());
    }
    send_token_request(http, req)
}
