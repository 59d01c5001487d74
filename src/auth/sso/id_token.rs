//! ID token validation (OpenID Connect Core 1.0 §3.1.3.7) with
//! `jsonwebtoken`: the signature against the issuer's JWKS (key chosen by
//! `kid`), `iss`, `aud` (lmi's client id), `exp` with a small leeway for
//! clock skew, and the `nonce` of this login.
//!
//! Only asymmetric algorithms are accepted. `alg: none` and the HMAC
//! algorithms are refused before any key is looked at: a token "signed" with
//! HS256 using the IdP's *public* key as the secret is the classic forgery.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value as Json;
use url::Url;

use crate::error::{Error, Result};
use crate::http::Transport;
use crate::secret::Secret;

/// Seconds of clock difference tolerated on `exp` (and `nbf`, `iat`).
pub const LEEWAY_SECS: u64 = 60;

/// What the ID token must say.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The issuer identifier, exactly as the IdP's metadata states it.
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The login's nonce. `None` on refresh, where OIDC Core §12.2 lets the
    /// IdP leave it out.
    pub nonce: Option<&'a str>,
    /// The time to check `iat` against (the injected clock's now).
    pub now: i64,
}

/// The claims lmi uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Identity {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    /// OIDC Core §2: the party the token was issued to.
    #[serde(default)]
    azp: Option<String>,
    /// A string or a list (RFC 7519 §4.1.3); jsonwebtoken checks that the
    /// client id is in it, lmi checks `azp` when there are several.
    #[serde(default)]
    aud: Option<Json>,
    #[serde(default)]
    iat: Option<i64>,
}

impl Identity {
    /// The user shown: `email`, else `preferred_username`, else `sub`,
    /// cleaned like other server text: an escape sequence must not reach the
    /// terminal, nor a newline forge lines in `lmi.log`.
    pub fn user(&self) -> String {
        let raw = self
            .email
            .clone()
            .filter(|e| !e.is_empty())
            .or_else(|| self.preferred_username.clone().filter(|p| !p.is_empty()))
            .unwrap_or_else(|| self.sub.clone());
        crate::redact::server_text(&raw, &[])
    }
}

/// Fetches the issuer's key set; keys lmi cannot parse are skipped.
pub fn fetch_jwks(http: &dyn Transport, jwks_uri: &Url) -> Result<Vec<Jwk>> {
    let hint = "check OAUTH_SSO_ISSUER; the IdP's jwks_uri must serve its signing keys";
    let response = http.get_json(jwks_uri).map_err(|e| {
        Error::auth(format!(
            "cannot fetch the IdP's signing keys: {}",
            e.describe(http.timeout())
        ))
        .with_hint(hint)
    })?;
    if response.status != 200 {
        return Err(Error::auth(format!(
            "the IdP's signing keys at {jwks_uri} answered HTTP {}",
            response.status
        ))
        .with_hint(hint));
    }
    let doc: Json = serde_json::from_slice(&response.body).map_err(|e| {
        Error::auth(format!(
            "the IdP's signing keys at {jwks_uri} are not JSON ({e})"
        ))
        .with_hint(hint)
    })?;
    let keys = doc
        .get("keys")
        .and_then(Json::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if keys.is_empty() {
        return Err(Error::auth(format!(
            "the IdP's key set at {jwks_uri} holds no usable key"
        ))
        .with_hint(hint));
    }
    Ok(keys)
}

fn invalid(reason: impl std::fmt::Display) -> Error {
    Error::auth(format!("the ID token from the IdP is invalid: {reason}; nothing was stored"))
        .with_hint("check OAUTH_SSO_ISSUER and OAUTH_SSO_CLIENT_ID; if they are right, the IdP or something between lmi and it is misbehaving")
}

/// Asymmetric signature algorithms an IdP may use (RFC 7518 §3.1).
fn asymmetric(alg: Algorithm) -> bool {
    use Algorithm::*;
    matches!(
        alg,
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 | ES384 | EdDSA
    )
}

/// Validates `token` against `keys`; the identity it names.
pub fn verify(token: &Secret, keys: &[Jwk], expected: &Expected<'_>) -> Result<Identity> {
    // decode_header refuses `alg: none` (jsonwebtoken has no such algorithm).
    let header = decode_header(token.expose()).map_err(|e| {
        invalid(format!(
            "unreadable header or unsupported alg ({})",
            describe(&e)
        ))
    })?;
    // RFC 7515 §4.1.11: a recipient must refuse a JWS whose `crit` names
    // extensions it does not understand, and lmi understands none.
    // jsonwebtoken's `Header` drops the parameter, so it is read here.
    if critical_extensions(token.expose()) {
        return Err(invalid(
            "its header lists critical extensions (crit) that lmi does not support",
        ));
    }
    if !asymmetric(header.alg) {
        return Err(invalid(format!(
            "it is signed with {:?}, not a public-key algorithm",
            header.alg
        )));
    }
    let candidates: Vec<&Jwk> = match &header.kid {
        Some(kid) => keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid.as_str()))
            .collect(),
        // Without a kid the key is unambiguous only when there is one.
        None if keys.len() == 1 => keys.iter().collect(),
        None => Vec::new(),
    };
    let jwk = match candidates.as_slice() {
        [one] => *one,
        [] => {
            return Err(invalid(format!(
                "no key {} in the IdP's key set",
                header
                    .kid
                    .as_deref()
                    .map(|k| format!("{k:?}"))
                    .unwrap_or_else(|| "(no kid)".into())
            )))
        }
        _ => return Err(invalid("several keys in the IdP's key set carry its kid")),
    };
    if let Some(key_alg) = jwk.common.key_algorithm {
        if format!("{key_alg:?}") != format!("{:?}", header.alg) {
            return Err(invalid(format!(
                "its alg {:?} does not match the key's alg {key_alg:?}",
                header.alg
            )));
        }
    }
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|e| invalid(format!("the IdP's key is unusable ({})", describe(&e))))?;

    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data =
        decode::<Identity>(token.expose(), &key, &validation).map_err(|e| invalid(describe(&e)))?;
    let identity = data.claims;
    // OIDC Core §3.1.3.7 (4, 5): with several audiences, `azp` must be
    // present and name this client; any `azp` must name it.
    let several = identity
        .aud
        .as_ref()
        .and_then(Json::as_array)
        .is_some_and(|a| a.len() > 1);
    match identity.azp.as_deref() {
        Some(azp) if azp != expected.client_id => {
            return Err(invalid(
                "its authorized party (azp) is another client than OAUTH_SSO_CLIENT_ID",
            ))
        }
        None if several => {
            return Err(invalid(
                "it has several audiences but no authorized party (azp)",
            ))
        }
        _ => {}
    }
    // OIDC Core §3.1.3.7 (10): `iat` may not lie in the future beyond the
    // clock skew, by the injected clock.
    if identity
        .iat
        .is_some_and(|iat| iat > expected.now.saturating_add(LEEWAY_SECS as i64))
    {
        return Err(invalid("it was issued in the future (iat)"));
    }
    if let Some(nonce) = expected.nonce {
        match identity.nonce.as_deref() {
            Some(got) if super::pkce::same(got, nonce) => {}
            Some(_) => {
                return Err(invalid(
                    "its nonce is not the one of this login (a replayed token?)",
                ))
            }
            None => return Err(invalid("it carries no nonce")),
        }
    }
    Ok(identity)
}

/// Whether the JWS header has a non-empty `crit` parameter.
fn critical_extensions(token: &str) -> bool {
    use base64::Engine;
    let Some(encoded) = token.split('.').next() else {
        return false;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded) else {
        return false;
    };
    serde_json::from_slice::<Json>(&bytes)
        .ok()
        .and_then(|h| h.get("crit").cloned())
        .is_some_and(|crit| !matches!(crit, Json::Null))
}

/// jsonwebtoken's errors in words (they never contain the token).
fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind::*;
    match e.kind() {
        InvalidSignature => "its signature does not verify against the IdP's keys".into(),
        InvalidAudience => "its audience (aud) is not this client (OAUTH_SSO_CLIENT_ID)".into(),
        InvalidIssuer => "its issuer (iss) is not OAUTH_SSO_ISSUER".into(),
        ExpiredSignature => "it has expired (exp)".into(),
        ImmatureSignature => "it is not valid yet (nbf)".into(),
        MissingRequiredClaim(c) => format!("it lacks the {c} claim"),
        InvalidAlgorithm => "its algorithm does not match the key".into(),
        InvalidToken => "it is not a well-formed JWT".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // jsonwebtoken checks `exp` against the system clock, so these tokens
    // are dated by it too.
    use crate::clock::{Clock, SystemClock};
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const PEM: &str = include_str!("../../../testidp/keys/signing.key.pem");
    const ROGUE: &str = include_str!("../../../testidp/keys/rogue.key.pem");
    const JWK: &str = include_str!("../../../testidp/keys/signing.jwk.json");
    const KID: &str = "testidp-signing-key-1";

    fn keys() -> Vec<Jwk> {
        vec![serde_json::from_str(JWK).unwrap()]
    }

    fn claims() -> Json {
        let now = SystemClock.now();
        json!({"iss": "https://idp.test", "aud": "lmi-public", "sub": "s1",
               "exp": now + 600, "iat": now, "nonce": "n1", "email": "a@x"})
    }

    fn sign(claims: &Json, pem: &str) -> Secret {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.into());
        Secret::new(
            encode(
                &header,
                claims,
                &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        )
    }

    const EXPECTED: Expected<'static> = Expected {
        issuer: "https://idp.test",
        client_id: "lmi-public",
        nonce: Some("n1"),
        now: 0,
    };

    /// [`EXPECTED`] checked at the system time (jsonwebtoken checks `exp`
    /// against it).
    fn expected() -> Expected<'static> {
        Expected {
            now: SystemClock.now(),
            ..EXPECTED
        }
    }

    /// Signs `claims` under a raw header (which jsonwebtoken's `Header`
    /// cannot express, e.g. with `crit`).
    fn sign_raw(header: &Json, claims: &Json) -> Secret {
        use base64::Engine;
        let b64 = |v: &Json| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let message = format!("{}.{}", b64(header), b64(claims));
        let key = EncodingKey::from_rsa_pem(PEM.as_bytes()).unwrap();
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256).unwrap();
        Secret::new(format!("{message}.{sig}"))
    }

    #[test]
    fn refuses_crit_foreign_azp_and_a_future_iat() {
        let header = json!({"alg": "RS256", "kid": KID, "typ": "JWT"});
        // The raw signer itself is sound: the same header without crit passes.
        verify(&sign_raw(&header, &claims()), &keys(), &expected()).unwrap();
        let mut crit = header.clone();
        crit["crit"] = json!(["exp-ext"]);
        crit["exp-ext"] = json!(true);
        let e = verify(&sign_raw(&crit, &claims()), &keys(), &expected()).unwrap_err();
        assert!(e.message().contains("crit"), "{}", e.message());

        let mut c = claims();
        c["aud"] = json!(["lmi-public", "other-app"]);
        let e = verify(&sign(&c, PEM), &keys(), &expected()).unwrap_err();
        assert!(e.message().contains("azp"), "{}", e.message());
        c["azp"] = json!("other-app");
        let e = verify(&sign(&c, PEM), &keys(), &expected()).unwrap_err();
        assert!(e.message().contains("azp"), "{}", e.message());
        c["azp"] = json!("lmi-public");
        verify(&sign(&c, PEM), &keys(), &expected()).unwrap();

        let mut c = claims();
        c["iat"] = json!(SystemClock.now() + 365 * 24 * 3600);
        let e = verify(&sign(&c, PEM), &keys(), &expected()).unwrap_err();
        assert!(e.message().contains("iat"), "{}", e.message());
        c["iat"] = json!(SystemClock.now() + 30);
        verify(&sign(&c, PEM), &keys(), &expected()).unwrap();
        // The rule reads the given clock: the same token is from the future
        // an hour earlier, and fine an hour later.
        let earlier = Expected {
            now: SystemClock.now() - 3600,
            ..expected()
        };
        let e = verify(&sign(&c, PEM), &keys(), &earlier).unwrap_err();
        assert!(e.message().contains("iat"), "{}", e.message());
        let later = Expected {
            now: SystemClock.now() + 3600,
            ..expected()
        };
        verify(&sign(&c, PEM), &keys(), &later).unwrap();
    }

    #[test]
    fn the_user_name_is_cleaned() {
        let mut c = claims();
        c["email"] = json!("a@x\u{1b}]0;pwned\u{7}\nforged log line");
        let user = verify(&sign(&c, PEM), &keys(), &expected()).unwrap().user();
        assert!(!user.chars().any(char::is_control), "{user:?}");
        assert!(user.starts_with("a@x"));
    }

    #[test]
    fn accepts_a_good_token_and_picks_the_user() {
        let id = verify(&sign(&claims(), PEM), &keys(), &expected()).unwrap();
        assert_eq!(id.user(), "a@x");
        let mut c = claims();
        c.as_object_mut().unwrap().remove("email");
        c["preferred_username"] = json!("alice");
        assert_eq!(
            verify(&sign(&c, PEM), &keys(), &expected()).unwrap().user(),
            "alice"
        );
        c.as_object_mut().unwrap().remove("preferred_username");
        c.as_object_mut().unwrap().remove("nonce");
        let refresh = Expected {
            nonce: None,
            ..expected()
        };
        assert_eq!(
            verify(&sign(&c, PEM), &keys(), &refresh).unwrap().user(),
            "s1"
        );
    }

    #[test]
    fn rejects_each_fault() {
        let now = SystemClock.now();
        let cases: Vec<(&str, Secret)> = vec![
            ("signature", sign(&claims(), ROGUE)),
            (
                "aud",
                sign(
                    &{
                        let mut c = claims();
                        c["aud"] = json!("other");
                        c
                    },
                    PEM,
                ),
            ),
            (
                "iss",
                sign(
                    &{
                        let mut c = claims();
                        c["iss"] = json!("https://evil");
                        c
                    },
                    PEM,
                ),
            ),
            (
                "exp",
                sign(
                    &{
                        let mut c = claims();
                        c["exp"] = json!(now - 3600);
                        c
                    },
                    PEM,
                ),
            ),
            (
                "nonce",
                sign(
                    &{
                        let mut c = claims();
                        c["nonce"] = json!("n2");
                        c
                    },
                    PEM,
                ),
            ),
            (
                "nonce",
                sign(
                    &{
                        let mut c = claims();
                        c.as_object_mut().unwrap().remove("nonce");
                        c
                    },
                    PEM,
                ),
            ),
        ];
        for (what, token) in cases {
            let err = verify(&token, &keys(), &expected()).unwrap_err();
            assert_eq!(err.exit_code(), 4);
            assert!(err.message().contains(what), "{what}: {}", err.message());
            assert!(!err.message().contains(token.expose()));
        }
        // Within the leeway an expired token still passes.
        let mut c = claims();
        c["exp"] = json!(now - 10);
        assert!(verify(&sign(&c, PEM), &keys(), &expected()).is_ok());
    }

    #[test]
    fn rejects_alg_none_and_hmac_with_the_public_key() {
        use base64::Engine;
        let b64 = |v: &Json| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = Secret::new(format!(
            "{}.{}.",
            b64(&json!({"alg":"none","kid":KID})),
            b64(&claims())
        ));
        assert!(verify(&none, &keys(), &expected()).is_err());
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID.into());
        let forged = encode(
            &header,
            &claims(),
            &EncodingKey::from_secret(JWK.as_bytes()),
        )
        .unwrap();
        let err = verify(&Secret::new(forged), &keys(), &expected()).unwrap_err();
        assert!(err.message().contains("HS256"), "{}", err.message());
    }

    #[test]
    fn iat_is_checked_against_the_injected_clock() {
        use crate::clock::FixedClock;
        let now = SystemClock.now();
        let mut c = claims();
        c["iat"] = json!(now + 600);
        let token = sign(&c, PEM);
        // The same token: issued in the future for a clock at `now`, fine
        // for one that reads ten minutes later (less the leeway).
        let clock = FixedClock::at(now);
        let at = |clock: &FixedClock| Expected {
            now: clock.now(),
            ..EXPECTED
        };
        let e = verify(&token, &keys(), &at(&clock)).unwrap_err();
        assert!(e.message().contains("iat"), "{}", e.message());
        clock.advance(600 - LEEWAY_SECS as i64 - 1);
        assert!(
            verify(&token, &keys(), &at(&clock)).is_err(),
            "just past the leeway"
        );
        clock.advance(1);
        verify(&token, &keys(), &at(&clock)).unwrap();
    }
}
