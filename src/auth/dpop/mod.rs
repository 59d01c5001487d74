//! DPoP (RFC 9449): tokens bound to a key that never leaves the machine
//! (SPEC §4.3).
//!
//! - `key`: the ES256 key ([`DpopKey`]): made with `p256`, kept as a private
//!   JWK, its RFC 7638 thumbprint, and the proofs it signs (a JWT signed by
//!   `jsonwebtoken`, never by hand).
//! - `key_file`: a service environment's key file, `tokens/.<env>.dpop.jwk`,
//!   created on first use and read under the trust rules of SPEC §1.
//! - `nonces`: the latest `DPoP-Nonce` of each origin, kept beside the
//!   token's metadata for the next run.
//! - `prover`: [`Prover`], a key and its nonces: the proof for each
//!   request, and every `DPoP-Nonce` an answer carries learned.
//!
//! The private key and the proofs are secrets (SPEC §7): neither is `Debug`
//! nor `Display`, and errors name the file, never what it holds.

mod key;
pub mod key_file;
pub mod nonces;
mod prover;

pub use key::{ath, htu, DpopKey, KeyProblem};
pub use nonces::{NonceFile, Nonces};
pub use prover::Prover;

/// The `token_type` of a DPoP-bound token (RFC 9449 §5).
pub const TOKEN_TYPE: &str = "DPoP";

/// The header that carries a proof, and the one a server's nonce comes in.
pub const PROOF_HEADER: &str = "DPoP";
pub const NONCE_HEADER: &str = "DPoP-Nonce";

/// The OAuth error a server answers when it wants a (fresh) nonce
/// (RFC 9449 §8, §9).
pub const USE_NONCE: &str = "use_dpop_nonce";

/// Whether a `token_type` names a DPoP token (compared case-insensitively,
/// RFC 6749 §5.1).
pub fn is_dpop(token_type: &str) -> bool {
    token_type.eq_ignore_ascii_case(TOKEN_TYPE)
}

/// Whether a `WWW-Authenticate` header asks for a DPoP nonce (RFC 9449 §9):
/// the `DPoP` scheme with `error="use_dpop_nonce"`.
pub fn asks_for_nonce(www_authenticate: &str) -> bool {
    let lower = www_authenticate.to_ascii_lowercase();
    lower.trim_start().starts_with("dpop")
        && lower.contains("use_dpop_nonce")
        && lower.contains("error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_challenges_are_recognised() {
        assert!(asks_for_nonce(
            r#"DPoP error="use_dpop_nonce", error_description="fresh nonce""#
        ));
        assert!(asks_for_nonce(
            r#"dpop algs="ES256", error="use_dpop_nonce""#
        ));
        assert!(!asks_for_nonce(r#"DPoP error="invalid_token""#));
        assert!(!asks_for_nonce(r#"Bearer error="use_dpop_nonce""#));
        assert!(is_dpop("dpop") && is_dpop("DPoP") && !is_dpop("Bearer"));
    }
}
