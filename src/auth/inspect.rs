//! Reading a token for `lmi auth inspect`: a JWT's header and claims
//! (RFC 7519, in the JWS compact serialization of RFC 7515 §7.1), decoded
//! and NOT verified; anything else is opaque.
//!
//! Only the first two segments are decoded; the signature is never read
//! or returned, and neither is the token. Nothing here checks a signature,
//! an issuer or an expiry: this is for a person looking at what a token
//! says, never for deciding whether to trust it.

use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};

/// What a token says about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoded {
    /// `jwt` or `opaque`.
    pub format: &'static str,
    pub header: Option<Map<String, Value>>,
    pub claims: Option<Map<String, Value>>,
}

impl Decoded {
    fn opaque() -> Decoded {
        Decoded {
            format: "opaque",
            header: None,
            claims: None,
        }
    }
}

/// One base64url segment (padding tolerated) as a JSON object.
fn segment(part: &str) -> Option<Map<String, Value>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Decodes `token` without verifying anything.
pub fn decode(token: &str) -> Decoded {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Decoded::opaque();
    }
    match (segment(parts[0]), segment(parts[1])) {
        (Some(header), Some(claims)) if header.contains_key("alg") => Decoded {
            format: "jwt",
            header: Some(header),
            claims: Some(claims),
        },
        _ => Decoded::opaque(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn jwt_header_and_claims_without_the_signature() {
        let token = format!(
            "{}.{}.c2lnbmF0dXJl",
            b64(r#"{"alg":"RS256","kid":"k1","x-extra":1}"#),
            b64(r#"{"sub":"svc","exp":4242,"scope":"read"}"#)
        );
        let decoded = decode(&token);
        assert_eq!(decoded.format, "jwt");
        assert_eq!(decoded.header.as_ref().unwrap()["kid"], "k1");
        assert_eq!(decoded.header.as_ref().unwrap()["x-extra"], 1);
        assert_eq!(decoded.claims.as_ref().unwrap()["exp"], 4242);
        let shown = serde_json::to_string(&decoded).unwrap();
        assert!(!shown.contains("c2lnbmF0dXJl") && !shown.contains("signature"));
    }

    #[test]
    fn anything_else_is_opaque() {
        for token in [
            "opaque-random-string",
            "a.b.c",
            &format!("{}.{}.s", b64("[1]"), b64("{}")),
            &format!("{}.{}.s", b64(r#"{"typ":"x"}"#), b64("{}")),
            &format!("{}.{}", b64(r#"{"alg":"none"}"#), b64("{}")),
        ] {
            assert_eq!(decode(token), Decoded::opaque(), "{token}");
        }
    }
}
