//! The DPoP step of a token request (RFC 9449 §5, §8): a fresh proof in a
//! `DPoP` header on every attempt, every `DPoP-Nonce` of the answer
//! learned, one more attempt when the server asks for a nonce
//! (`use_dpop_nonce`), and a `DPoP` token type required of the answer.

use crate::auth::dpop::{self, Prover};
use crate::error::Result;

use super::request::FormRequest;
use super::response::TokenResponse;
use super::{GrantFailure, OAuthError};

/// The key that proves possession for a token request, and the time the
/// proofs say they were made.
#[derive(Debug, Clone, Copy)]
pub struct DpopStep<'a> {
    pub prover: &'a Prover,
    pub now: i64,
}

impl DpopStep<'_> {
    /// Adds a fresh proof for this POST to `request`; the proof is scrubbed
    /// from anything the server says.
    pub fn apply(&self, request: &mut FormRequest<'_>) -> Result<()> {
        let proof = self.prover.proof("POST", request.url, None, self.now)?;
        request
            .headers
            .push((dpop::PROOF_HEADER.to_owned(), proof.expose().to_owned()));
        request.echo.push(proof);
        Ok(())
    }
}

/// Whether a refusal asks for a DPoP nonce (RFC 9449 §8).
pub fn wants_nonce(failure: &GrantFailure) -> bool {
    matches!(failure, GrantFailure::Refused(OAuthError { code, .. }) if code == dpop::USE_NONCE)
}

/// A DPoP request needs a DPoP token; a request without DPoP cannot use
/// one (lmi would send it with no proof).
pub fn check_token_type(
    response: TokenResponse,
    dpop: bool,
) -> std::result::Result<TokenResponse, GrantFailure> {
    match (dpop, dpop::is_dpop(&response.token_type)) {
        (true, false) => Err(GrantFailure::NotBound {
            token_type: response.token_type,
        }),
        (false, true) => Err(GrantFailure::Malformed(
            "token_type \"DPoP\", a token bound to a key, to a request without a DPoP proof".into(),
        )),
        _ => Ok(response),
    }
}
