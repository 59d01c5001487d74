//! The DPoP side of [`ServiceAuth`] (SPEC §4.3): the environment's key and
//! nonces, the proof for each request that carries a DPoP token, and the
//! nonces the answers give.

use url::Url;

use super::{ServiceAuth, TokenSource, Tokens};
use crate::auth::cache::CachedToken;
use crate::auth::dpop::Prover;
use crate::error::{Error, Result};
use crate::secret::Secret;

impl ServiceAuth<'_> {
    /// The environment's DPoP key and nonces when `OAUTH_DPOP` is on: its
    /// key file, read under the trust rules or made on first use.
    pub fn prover(&self) -> Result<Option<&Prover>> {
        if !self.config.dpop {
            return Ok(None);
        }
        self.prover
            .get_or_init(|| Prover::for_service(self.cache.dir(), self.env()))
            .as_ref()
            .map(Some)
            .map_err(Error::shallow_clone)
    }

    /// A fresh proof for sending `token` with `method url`: `None` for a
    /// Bearer token (SPEC §4.3).
    pub fn proof(&self, method: &str, url: &Url, token: &CachedToken) -> Result<Option<Secret>> {
        if !crate::auth::dpop::is_dpop(&token.token_type) {
            return Ok(None);
        }
        let Some(prover) = self.prover()? else {
            return Err(Error::config(
                "the cached token is DPoP-bound but OAUTH_DPOP is off",
            ));
        };
        let proof = prover.proof(
            method,
            url,
            Some(token.access_token.expose()),
            self.clock.now(),
        )?;
        Ok(Some(proof))
    }

    /// Learns the `DPoP-Nonce` of an answer from `url`; `true` when it is
    /// new. Nothing without DPoP.
    pub fn observe(&self, url: &Url, headers: &[(String, String)]) -> bool {
        matches!(self.prover(), Ok(Some(prover)) if prover.observe(url, headers))
    }
}

impl Tokens for ServiceAuth<'_> {
    fn token(&self) -> Result<(CachedToken, TokenSource)> {
        ServiceAuth::token(self)
    }

    fn discard(&self, failed: &Secret) -> Result<bool> {
        ServiceAuth::discard(self, failed)
    }

    fn proof(&self, method: &str, url: &Url, token: &CachedToken) -> Result<Option<Secret>> {
        ServiceAuth::proof(self, method, url, token)
    }

    fn observe(&self, url: &Url, headers: &[(String, String)]) -> bool {
        ServiceAuth::observe(self, url, headers)
    }

    fn dpop_jkt(&self) -> Result<Option<String>> {
        Ok(self.prover()?.map(Prover::jkt))
    }
}
