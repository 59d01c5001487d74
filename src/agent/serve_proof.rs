//! The `proof` op (SPEC §4.3, §9): a DPoP proof made with a shared
//! environment's key, which never leaves the agent's machine. The agent
//! signs only for the access token it holds for that environment and only
//! for a URL at the environment's own origins (`API_BASE_URL`'s and
//! `API_ALLOWED_ORIGINS`), the origins `lmi api` would send the token to:
//! a client cannot make the key vouch for a request to anyone else. A
//! nonce a client learned is used and kept for the next proof.

use url::Url;

use super::{wire, Serve};
use crate::agent::protocol::{ErrorCode, ProofAnswer, WireError};
use crate::error::Error;
use crate::http::origin;
use crate::secret::Secret;

/// What a `proof` request asks for.
pub struct ProofAsk<'a> {
    pub environment: &'a str,
    pub htm: &'a str,
    pub htu: &'a str,
    pub access_token: &'a Secret,
    pub nonce: Option<&'a str>,
}

impl Serve {
    pub(super) fn proof(&self, ask: &ProofAsk<'_>) -> Result<ProofAnswer, WireError> {
        let config = self.shared_config(ask.environment)?;
        let bad = |why: String| WireError::new(ErrorCode::BadRequest, why);
        let url = Url::parse(ask.htu)
            .map_err(|e| bad(format!("htu is not a URL: {e}")))
            .and_then(|url| match url.scheme() {
                "http" | "https" => Ok(url),
                _ => Err(bad("htu is not an http or https URL".into())),
            })?;
        if ask.htm.is_empty()
            || ask.htm.len() > 16
            || !ask.htm.bytes().all(|b| b.is_ascii_uppercase())
        {
            return Err(bad("htm is not an HTTP method name".into()));
        }
        let api = config.api().map_err(|e| wire(&e, ErrorCode::Config))?;
        let wanted = origin(&url);
        let own =
            api.base.as_ref().is_some_and(|b| origin(b) == wanted) || api.allowed.contains(&wanted);
        if !own {
            return Err(WireError::new(
                ErrorCode::Config,
                format!(
                    "{wanted} is not an origin of environment {}; the agent signs DPoP proofs only for API_BASE_URL's origin and API_ALLOWED_ORIGINS",
                    ask.environment
                ),
            )
            .with_hint("send the request to the service's own origin, or add it to API_ALLOWED_ORIGINS where the agent runs"));
        }
        let dpop = self
            .with_service(&config, |auth| {
                let Some(prover) = auth.prover()? else {
                    return Err(Error::config(format!(
                        "environment {} does not use DPoP where the agent runs (OAUTH_DPOP is not on)",
                        ask.environment
                    )));
                };
                let (held, _) = auth.token()?;
                if &held.access_token != ask.access_token {
                    return Err(Error::auth(format!(
                        "the token to prove is not the one the agent holds for environment {}",
                        ask.environment
                    ))
                    .with_hint("ask the agent for the environment's token again (run the command again)"));
                }
                // A client's nonce is the origin's latest: kept (in the
                // nonce file) for the proofs of clients that learned none,
                // as a local run keeps it for the next.
                if let Some(nonce) = ask.nonce {
                    let header = (crate::auth::dpop::NONCE_HEADER.to_owned(), nonce.to_owned());
                    prover.observe(&url, &[header]);
                }
                let nonce = prover.nonce(&url);
                prover.key().proof(
                    ask.htm,
                    &url,
                    nonce.as_deref(),
                    Some(ask.access_token.expose()),
                    self.clock.now(),
                )
            })
            .map_err(|e| wire(&e, ErrorCode::Auth))?;
        tracing::info!(target: "agent", "signed a DPoP proof for environment {} ({} {wanted})", ask.environment, ask.htm);
        Ok(ProofAnswer { dpop })
    }
}
