//! Token exchange (RFC 8693) at the token endpoint: the subject token is a
//! JWT of the test CI issuer ([`crate::keys::ci_token`]) or of this IdP (type
//! `...:jwt` or `...:id_token`), or an access token this IdP issued (type
//! `...:access_token`); an optional actor token becomes the `act` claim. The
//! issued access token carries the subject's `sub`.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{json, Value};

use crate::behaviour::{Behaviour, Client};
use crate::http::Reply;
use crate::keys;
use crate::mint::mint;
use crate::record::RecordedRequest;
use crate::state::{now_ms, RefreshGrant, Shared};

/// `grant_type` of a token exchange.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Token type of an OAuth access token (RFC 8693 §3).
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Token type of a JWT.
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// Token type of an OpenID Connect ID token.
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

/// Who a subject (or actor) token stands for.
struct Subject {
    sub: String,
    scope: Option<String>,
}

fn invalid_request(description: &str) -> Reply {
    Reply::oauth_error(400, "invalid_request", description)
}

/// A `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` request
/// (the client is already authenticated).
pub(crate) fn exchange(
    shared: &Arc<Shared>,
    b: &Behaviour,
    client: &Client,
    req: &RecordedRequest,
) -> Reply {
    shared.log().token_exchanges += 1;
    let Some(subject_token) = req.param("subject_token").filter(|t| !t.is_empty()) else {
        return invalid_request("Missing subject_token");
    };
    let Some(subject_type) = req.param("subject_token_type").filter(|t| !t.is_empty()) else {
        return invalid_request("Missing subject_token_type");
    };
    if let Some(requested) = req.param("requested_token_type") {
        if requested != TOKEN_TYPE_ACCESS_TOKEN {
            return invalid_request(&format!(
                "requested_token_type {requested} is not supported; only {TOKEN_TYPE_ACCESS_TOKEN}"
            ));
        }
    }
    let subject = match validate(shared, subject_token, subject_type, "subject") {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let act = match (req.param("actor_token"), req.param("actor_token_type")) {
        (None, None) => None,
        (Some(token), Some(kind)) => match validate(shared, token, kind, "actor") {
            Ok(actor) => Some(json!({ "sub": actor.sub })),
            Err(reply) => return reply,
        },
        _ => return invalid_request("actor_token and actor_token_type go together"),
    };
    let grant = RefreshGrant {
        client_id: client.id.clone(),
        sub: subject.sub,
        scope: req.param("scope").map(str::to_string).or(subject.scope),
        audience: req.param("audience").map(str::to_string),
        sso: false,
        act,
    };
    // No refresh token: the client exchanges again (RFC 8693 §2.2.1 leaves
    // it to the server).
    let mut body = mint(shared, b, &grant, false, None);
    body.insert("issued_token_type".into(), json!(TOKEN_TYPE_ACCESS_TOKEN));
    Reply::json(200, &Value::Object(body)).no_store()
}

/// Validates a subject or actor token of the given type.
fn validate(shared: &Shared, token: &str, kind: &str, role: &str) -> Result<Subject, Reply> {
    let refuse =
        |why: &str| Reply::oauth_error(400, "invalid_grant", &format!("The {role} token {why}"));
    match kind {
        TOKEN_TYPE_ACCESS_TOKEN => {
            let info = shared
                .store()
                .access
                .get(token.trim())
                .cloned()
                .ok_or_else(|| refuse("is unknown or was revoked"))?;
            if info.expires_at_ms.is_some_and(|exp| now_ms() >= exp) {
                return Err(refuse("has expired"));
            }
            Ok(Subject {
                sub: info.sub,
                scope: info.scope,
            })
        }
        TOKEN_TYPE_JWT | TOKEN_TYPE_ID_TOKEN => {
            let header =
                jsonwebtoken::decode_header(token).map_err(|_| refuse("is not a valid JWT"))?;
            if header.alg != Algorithm::RS256 {
                return Err(refuse("is not signed with RS256"));
            }
            // The unverified issuer picks the key; the signature then decides.
            let iss = token
                .split('.')
                .nth(1)
                .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
                .and_then(|c| serde_json::from_slice::<Value>(&c).ok())
                .and_then(|c| c["iss"].as_str().map(str::to_string))
                .ok_or_else(|| refuse("has no issuer"))?;
            let mut validation = Validation::new(Algorithm::RS256);
            validation.leeway = 0;
            validation.set_issuer(&[iss.as_str()]);
            validation.set_required_spec_claims(&["exp", "iss", "sub"]);
            let key = if iss == keys::CI_ISSUER {
                validation.set_audience(&[keys::CI_AUDIENCE, shared.idp_url.as_str()]);
                keys::ci_decoding_key()
            } else if iss == shared.idp_url {
                // This IdP's own ID tokens and JWT access tokens name various
                // audiences (client ids, APIs).
                validation.validate_aud = false;
                keys::decoding_key()
            } else {
                return Err(refuse(&format!("comes from an untrusted issuer ({iss})")));
            };
            let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
                .map_err(|e| match e.kind() {
                    ErrorKind::ExpiredSignature => refuse("has expired"),
                    ErrorKind::InvalidSignature => refuse("has an invalid signature"),
                    ErrorKind::InvalidAudience => refuse("is not meant for this server (aud)"),
                    _ => refuse(&format!("is invalid: {e}")),
                })?
                .claims;
            let sub = claims["sub"]
                .as_str()
                .ok_or_else(|| refuse("has no sub"))?
                .to_string();
            Ok(Subject {
                sub,
                scope: claims["scope"].as_str().map(str::to_string),
            })
        }
        other => Err(invalid_request(&format!(
            "{role}_token_type {other} is not supported"
        ))),
    }
}
