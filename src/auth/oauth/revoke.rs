//! Token revocation (RFC 7009 §2.1) as a public client: one form POST, and
//! what came of it. Whether a failure matters is the caller's to say.

use url::Url;

use crate::http::{Transport, TransportError};
use crate::secret::Secret;

/// Which token is revoked (`token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    RefreshToken,
    AccessToken,
}

impl TokenKind {
    pub fn hint(self) -> &'static str {
        match self {
            TokenKind::RefreshToken => "refresh_token",
            TokenKind::AccessToken => "access_token",
        }
    }
}

/// What came of a revocation request.
#[derive(Debug)]
pub enum Revocation {
    /// A 2xx answer (RFC 7009 §2.2: also for a token already invalid).
    Revoked,
    /// Another status.
    Refused(u16),
    /// No answer.
    Failed(TransportError),
}

/// The form of a revocation request.
pub fn form<'a>(token: &'a Secret, kind: TokenKind, client_id: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("token", token.expose()),
        ("token_type_hint", kind.hint()),
        ("client_id", client_id),
    ]
}

/// Asks `endpoint` to revoke `token`.
pub fn revoke(
    transport: &dyn Transport,
    endpoint: &Url,
    token: &Secret,
    kind: TokenKind,
    client_id: &str,
) -> Revocation {
    match transport.post_form(endpoint, &[], &form(token, kind, client_id)) {
        Ok(response) if (200..300).contains(&response.status) => Revocation::Revoked,
        Ok(response) => Revocation::Refused(response.status),
        Err(e) => Revocation::Failed(e),
    }
}
