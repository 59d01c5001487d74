//! Authentication: service grants and their cache, and the SSO session.
//!
//! - `grants`: RFC 6749 token requests (client credentials, password,
//!   refresh, authorization code) and their error handling.
//! - `discovery`: RFC 8414 / OpenID metadata.
//! - `cache`: token files, locks, atomic 0600 writes, healing.
//! - `service`: the environment's service token (lock → read → refresh or
//!   acquire → save) and the 401 discard.
//! - `client`: the authenticated client (bearer, origin pinning, redirects,
//!   401 → discard → retry once).
//! - `clock`: the time seam.
//! - `sso`: the interactive SSO session.

pub mod cache;
pub mod client;
pub mod clock;
pub mod discovery;
pub mod grants;
pub mod service;
pub mod sso;
#[cfg(test)]
pub(crate) mod testing;

/// Seconds since the Unix epoch (the system clock; code with a [`clock::Clock`]
/// at hand asks that instead).
pub fn now() -> i64 {
    clock::Clock::now(&clock::SystemClock)
}

/// When a token expires: `now + expires_in`, else the JWT's `exp`, else
/// unknown.
pub fn expires_at(now: i64, expires_in: Option<u64>, access_token: &str) -> Option<i64> {
    match expires_in {
        Some(secs) => Some(now.saturating_add(secs.min(i64::MAX as u64) as i64)),
        None => jwt_expiry(access_token),
    }
}

/// Whether something that expires at `expires_at` is still valid at `now`
/// with `skew` seconds to spare; no expiry means valid.
pub fn fresh(expires_at: Option<i64>, now: i64, skew: i64) -> bool {
    expires_at.is_none_or(|exp| now.saturating_add(skew) < exp)
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
        assert_eq!(expires_at(1_000, Some(u64::MAX), "opaque"), Some(i64::MAX));
        assert_eq!(expires_at(1_000, None, "opaque"), None);
        // {"alg":"HS256"}.{"exp":4242}.sig: the claim is read, not checked.
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQyNDJ9.c2ln";
        assert_eq!(expires_at(1_000, None, jwt), Some(4_242));
        assert_eq!(expires_at(1_000, Some(5), jwt), Some(1_005));
    }

    #[test]
    fn freshness_keeps_the_skew() {
        assert!(fresh(Some(1_000), 939, 60));
        assert!(!fresh(Some(1_000), 940, 60));
        assert!(fresh(None, i64::MAX - 100, 60));
    }
}
