//! [`Tokens`]: where an invocation's service tokens come from, and how a
//! DPoP token gets its proofs. `ServiceAuth` answers from this machine's
//! configuration and cache; an agent that shares the environment answers
//! for a client (SPEC §9).

use serde::Serialize;
use url::Url;

use crate::auth::cache::CachedToken;
use crate::error::Result;
use crate::secret::Secret;

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenSource {
    Cache,
    Acquired,
}

/// Where an invocation's service tokens come from: `ServiceAuth` (this
/// machine's configuration and cache), or an agent that shares the
/// environment (SPEC §9), which acquires and caches them itself.
pub trait Tokens {
    /// The environment's token: a valid cached one, else a new one.
    fn token(&self) -> Result<(CachedToken, TokenSource)>;
    /// After a 401: drops `failed` if it is still the current token
    /// (compare-and-discard), so the next [`Tokens::token`] gets another;
    /// `true` when it was dropped.
    fn discard(&self, failed: &Secret) -> Result<bool>;
    /// A fresh DPoP proof for sending `token` with `method url`; `None` for
    /// a Bearer token (SPEC §4.3).
    fn proof(&self, method: &str, url: &Url, token: &CachedToken) -> Result<Option<Secret>>;
    /// Learns the `DPoP-Nonce` of an answer from `url`; `true` when it is
    /// new.
    fn observe(&self, url: &Url, headers: &[(String, String)]) -> bool;
    /// The RFC 7638 thumbprint of the key that proves this environment's
    /// DPoP tokens; `None` without DPoP.
    fn dpop_jkt(&self) -> Result<Option<String>>;
}
