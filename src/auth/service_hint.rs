//! What to check when the service's token endpoint fails (SPEC §4): the
//! hint that names the keys that configured the failed request.

use crate::auth::grants::GrantFailure;
use crate::config::{AuthMethod, GrantKind, ServiceConfig};

/// The keys that make up the client's credentials.
const CLIENT_HINT: &str = "check OAUTH_CLIENT_ID, the client secret or key (OAUTH_CLIENT_SECRET) and OAUTH_CLIENT_AUTH_METHOD";

/// What to check when the service's token endpoint fails: the keys that
/// configured the request.
pub(super) fn service_hint(config: &ServiceConfig, failure: &GrantFailure) -> Option<String> {
    if let GrantFailure::Refused(e) = failure {
        match (e.code.as_str(), config.auth_method, config.grant) {
            ("invalid_client" | "unauthorized_client", AuthMethod::PrivateKeyJwt, _) => {
                return Some(
                    "check OAUTH_CLIENT_ID and OAUTH_CLIENT_KEY_FILE / OAUTH_CLIENT_KEY_ID (the IdP \
                     must hold the public key), or that OAUTH_CLIENT_ASSERTION_FILE is current"
                        .to_owned(),
                )
            }
            ("invalid_grant", _, GrantKind::TokenExchange) => {
                return Some(
                    "the IdP refused the subject token: check OAUTH_SUBJECT_TOKEN_FILE and \
                     OAUTH_SUBJECT_TOKEN_TYPE, or, exchanging the SSO session, run: lmi login sso"
                        .to_owned(),
                )
            }
            _ => {}
        }
    }
    let hint = match failure {
        GrantFailure::NoEndpoint(_) => return None,
        GrantFailure::Unreachable { .. } => {
            "check OAUTH_TOKEN_URL / OAUTH_SERVICE_URL and your network, then try again"
        }
        GrantFailure::Refused(e) => match e.code.as_str() {
            "invalid_client" | "unauthorized_client" => CLIENT_HINT,
            "invalid_grant" => "check OAUTH_USERNAME and OAUTH_PASSWORD",
            "invalid_scope" => "check OAUTH_SCOPES",
            "use_dpop_nonce" => {
                "the server asked for a new DPoP nonce twice in a row; try again, and if it \
                 persists, its DPoP nonces are misconfigured"
            }
            "invalid_dpop_proof" => {
                "the server refused lmi's DPoP proof; check that the machine's clock is right"
            }
            _ => "check the environment's OAuth settings (lmi config show)",
        },
        GrantFailure::Status {
            status: 404 | 405, ..
        } => {
            "is that the token endpoint? check OAUTH_TOKEN_URL (or OAUTH_SERVICE_URL for discovery)"
        }
        // RFC 6749 §5.2: the server refused the client's credentials, with
        // or without an OAuth error body (an empty 403 is common).
        GrantFailure::Status {
            status: 401 | 403, ..
        } => CLIENT_HINT,
        GrantFailure::Status { .. } => {
            "the OAuth service may be down; try again, or check OAUTH_TOKEN_URL"
        }
        GrantFailure::Malformed(_) => {
            "the server is not a working OAuth 2.0 token endpoint; check OAUTH_TOKEN_URL"
        }
        GrantFailure::NotBound { .. } => {
            "the client is not set up for DPoP at the IdP (ask for DPoP-bound access tokens \
             for it), or set OAUTH_DPOP=false"
        }
    };
    Some(hint.to_owned())
}
