//! Authentication: service grants and their cache, and the SSO session.
//!
//! - `oauth`: the wire protocol, each part once: token requests for any
//!   grant, the client-authentication step, the token response and its
//!   checks, RFC 6749 §5.2 errors, the device authorization request and
//!   revocation. The use cases below call it.
//! - `grants`: one token request (client credentials, password, refresh,
//!   authorization code, device code, RFC 8693 token exchange), logged.
//! - `client_auth`: `private_key_jwt` client assertions (RFC 7523), signed
//!   or read from a file.
//! - `token_exchange`: the RFC 8693 token exchange's subject (a file or
//!   the SSO session).
//! - `discovery`: RFC 8414 / OpenID metadata.
//! - `dpop`: DPoP (RFC 9449): the key, its file, proofs and nonces.
//! - `inspect`: a token's JWT header and claims, decoded, not verified.
//! - `cache`: token files, locks, atomic 0600 writes, healing.
//! - `service`: the environment's service token (lock → read → refresh or
//!   acquire → save) and the 401 discard, its DPoP key and proofs in
//!   `service_dpop`; `service_hint`: what to check
//!   when its token endpoint fails; `service_match`: which cached token
//!   the current settings may use.
//! - `tokens`: the `Tokens` trait commands take: this machine's
//!   `ServiceAuth`, or an agent's shared environment.
//! - `client`: the authenticated client (bearer or DPoP with a proof per
//!   request, origin pinning, redirects, the DPoP nonce retry, 401 →
//!   discard → retry once).
//! - `sso`: the interactive SSO session.

pub mod cache;
pub mod client;
pub mod client_auth;
pub mod discovery;
pub mod dpop;
pub mod grants;
pub mod inspect;
pub mod oauth;
pub mod service;
mod service_hint;
mod service_match;
pub mod sso;
#[cfg(test)]
pub(crate) mod testing;
pub mod token_exchange;
pub mod tokens;

/// The longest lifetime lmi believes: one year. A server that says
/// `expires_in: 1e308` (or a JWT `exp` in the year 292277026596) gets this,
/// and `auth token` reports the expiry actually used.
pub const MAX_LIFETIME: i64 = 365 * 24 * 3600;

/// When a token expires: `now + expires_in`, else the JWT's `exp`, else
/// unknown; never later than [`MAX_LIFETIME`] from `now`.
pub fn expires_at(now: i64, expires_in: Option<u64>, access_token: &str) -> Option<i64> {
    let latest = now.saturating_add(MAX_LIFETIME);
    match expires_in {
        Some(secs) => Some(now.saturating_add(secs.min(MAX_LIFETIME as u64) as i64)),
        None => jwt_expiry(access_token).map(|exp| exp.min(latest)),
    }
}

/// Whether something that expires at `expires_at` is still valid at `now`
/// with `skew` seconds to spare; no expiry means valid.
pub fn fresh(expires_at: Option<i64>, now: i64, skew: i64) -> bool {
    expires_at.is_none_or(|exp| now.saturating_add(skew) < exp)
}

/// [`fresh`] for a token obtained at `obtained_at`, with the skew capped at
/// half the token's lifetime: a 30 s token with the default 60 s skew would
/// otherwise be stale on arrival, and every run would fetch a new one. So a
/// 30 s token is reused for its first 15 s; long-lived tokens keep the full
/// skew. Without `obtained_at` (sessions stored by older versions) the full
/// skew applies.
pub fn fresh_capped(
    expires_at: Option<i64>,
    obtained_at: Option<i64>,
    now: i64,
    skew: i64,
) -> bool {
    let skew = match (expires_at, obtained_at) {
        (Some(exp), Some(got)) => skew.min(exp.saturating_sub(got).max(0) / 2),
        _ => skew,
    };
    fresh(expires_at, now, skew)
}

/// The `exp` claim of a JWT access token, read without validating it: lmi is
/// not the audience of the token, it only needs to know when to renew it.
pub fn jwt_expiry(token: &str) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: Option<i64>,
    }
    if token.split('.').count() != 3 {
        return None;
    }
    let mut validation = jsonwebtoken::Validation::default();
    validation.insecure_disable_signature_validation();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Exp>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&[]),
        &validation,
    )
    .ok()
    .and_then(|data| data.claims.exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_from_expires_in_or_the_jwt() {
        assert_eq!(expires_at(1_000, Some(300), "opaque"), Some(1_300));
        assert_eq!(
            expires_at(1_000, Some(u64::MAX), "opaque"),
            Some(1_000 + MAX_LIFETIME)
        );
        assert_eq!(expires_at(1_000, None, "opaque"), None);
        // {"alg":"HS256"}.{"exp":4242}.sig: the claim is read, not checked.
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQyNDJ9.c2ln";
        assert_eq!(expires_at(1_000, None, jwt), Some(4_242));
        assert_eq!(expires_at(1_000, Some(5), jwt), Some(1_005));
    }

    #[test]
    fn absurd_jwt_expiries_are_clamped() {
        // {"alg":"HS256"}.{"exp":9000000000000}.sig
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjkwMDAwMDAwMDAwMDB9.c2ln";
        assert_eq!(expires_at(1_000, None, jwt), Some(1_000 + MAX_LIFETIME));
    }

    #[test]
    fn skew_is_capped_at_half_a_short_lifetime() {
        use crate::clock::{Clock, FixedClock};
        let clock = FixedClock::at(10_000);
        let got = clock.now();
        let exp = got + 30;
        // A 30 s token with a 60 s skew: fresh for its first 15 s.
        assert!(fresh_capped(Some(exp), Some(got), clock.now(), 60));
        clock.advance(14);
        assert!(fresh_capped(Some(exp), Some(got), clock.now(), 60));
        clock.advance(1);
        assert!(!fresh_capped(Some(exp), Some(got), clock.now(), 60));
        // A one-hour token keeps the whole skew.
        let exp = got + 3_600;
        clock.advance(exp - 61 - clock.now());
        assert!(fresh_capped(Some(exp), Some(got), clock.now(), 60));
        clock.advance(1);
        assert!(!fresh_capped(Some(exp), Some(got), clock.now(), 60));
        // Unknown start: the full skew.
        assert!(!fresh_capped(Some(got + 30), None, got, 60));
        assert!(fresh_capped(None, Some(got), i64::MAX - 1, 60));
    }

    #[test]
    fn freshness_keeps_the_skew() {
        assert!(fresh(Some(1_000), 939, 60));
        assert!(!fresh(Some(1_000), 940, 60));
        assert!(fresh(None, i64::MAX - 100, 60));
    }
}
