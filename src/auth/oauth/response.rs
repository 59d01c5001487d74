//! A successful token response (RFC 6749 §5.1), checked before anything
//! keeps it: a printable access token, a token type lmi can use, a
//! lifetime that is a number of seconds. And the one size bound on any
//! authorization server's answer.

use serde_json::Value as Json;

use crate::http::SMALL_BODY_LIMIT;
use crate::redact;
use crate::secret::Secret;

use super::error::GrantFailure;

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: Secret,
    /// `Bearer` or `DPoP`, in that spelling.
    pub token_type: String,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<Secret>,
    pub scope: Option<String>,
    pub id_token: Option<Secret>,
}

impl TokenResponse {
    /// When the access token expires, for a response received at `now`:
    /// `expires_in`, else the JWT's `exp`, clamped to
    /// [`crate::auth::MAX_LIFETIME`].
    pub fn expires_at(&self, now: i64) -> Option<i64> {
        crate::auth::expires_at(now, self.expires_in, self.access_token.expose())
    }
}

/// Refuses an answer larger than the transport's bound for authorization
/// servers ([`SMALL_BODY_LIMIT`], SPEC §4); the real transport stops
/// reading there, this keeps any other transport to it too.
pub fn check_size(body: &[u8]) -> std::result::Result<(), String> {
    if body.len() as u64 > SMALL_BODY_LIMIT {
        return Err("a response larger than 1 MiB".to_owned());
    }
    Ok(())
}

/// RFC 6749 A.12: `VSCHAR = %x20-7E`.
fn is_vschar(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// Reads a 2xx token response; the failure says what is wrong with it
/// (never quoting a token).
pub fn parse_token_response(body: &[u8]) -> std::result::Result<TokenResponse, GrantFailure> {
    let bad = |what: String| GrantFailure::Malformed(what);
    let text = String::from_utf8_lossy(body);
    let json: Option<Json> = serde_json::from_str(&text).ok();
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
        // RFC 9449 §5; whether it was asked for is checked by the caller
        // (`dpop::check_token_type`).
        Some(Json::String(s)) if s.eq_ignore_ascii_case("dpop") => "DPoP".to_owned(),
        None | Some(Json::Null) => "Bearer".to_owned(),
        Some(Json::String(s)) => {
            return Err(bad(format!(
                "token_type {:?}, which lmi does not support (only Bearer and DPoP)",
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
