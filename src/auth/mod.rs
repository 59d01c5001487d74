//! Authentication: service grants and their cache, and the SSO session.
//!
//! - `grants`: RFC 6749 token requests (client credentials, password,
//!   refresh, authorization code) and their error handling.
//! - `discovery`: RFC 8414 / OpenID metadata.
//! - `cache`: token files, locks, atomic 0600 writes, healing.
//! - `service`: the environment's service token (lock → read → refresh or
//!   acquire → save) and the 401 discard.
//! - `sso`: the interactive SSO session.

pub mod cache;
pub mod clock;
pub mod discovery;
pub mod grants;
pub mod service;
pub mod sso;

/// Seconds since the Unix epoch (the system clock; code with a [`clock::Clock`]
/// at hand asks that instead).
pub fn now() -> i64 {
    clock::Clock::now(&clock::SystemClock)
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
