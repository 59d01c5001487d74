//! The per-login random values: the PKCE verifier and its S256 challenge
//! (RFC 7636 §4.1–4.2), `state` (RFC 6749 §10.12, CSRF) and the OpenID
//! `nonce` (OIDC Core §3.1.2.1, replay), all from the `oauth2` crate's
//! generators — no hand-rolled randomness or hashing here.

use oauth2::{CsrfToken, PkceCodeChallenge};

use crate::secret::Secret;

/// The values of one authorization request.
#[derive(Debug)]
pub struct LoginSecrets {
    /// Sent only to the token endpoint, never shown or logged.
    pub verifier: Secret,
    /// `BASE64URL(SHA256(verifier))`, sent in the authorization URL.
    pub challenge: String,
    /// Echoed back on the callback; a mismatch means a forged callback.
    pub state: String,
    /// Must come back inside the ID token of this login.
    pub nonce: String,
}

impl LoginSecrets {
    pub fn generate() -> LoginSecrets {
        // 32 random bytes → a 43-character verifier (RFC 7636 §4.1 minimum
        // entropy), with the matching S256 challenge.
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        LoginSecrets {
            verifier: Secret::new(verifier.secret().as_str()),
            challenge: challenge.as_str().to_owned(),
            state: CsrfToken::new_random().secret().clone(),
            nonce: CsrfToken::new_random().secret().clone(),
        }
    }
}

/// Compares two strings in time that does not depend on where they differ,
/// so an attacker probing the callback learns nothing from response timing.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_matches_verifier_and_values_differ() {
        let a = LoginSecrets::generate();
        let b = LoginSecrets::generate();
        assert_eq!(a.verifier.expose().len(), 43);
        let verifier = oauth2::PkceCodeVerifier::new(a.verifier.expose().to_owned());
        assert_eq!(
            PkceCodeChallenge::from_code_verifier_sha256(&verifier).as_str(),
            a.challenge
        );
        assert_ne!(a.verifier, b.verifier);
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.state, a.nonce);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }

    /// RFC 7636 Appendix B: the S256 transform the IdP will check.
    #[test]
    fn rfc7636_appendix_b() {
        let verifier =
            oauth2::PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(
            PkceCodeChallenge::from_code_verifier_sha256(&verifier).as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
