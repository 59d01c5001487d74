//! `lmi auth proof [-X METHOD] URL` (SPEC §4.3): a DPoP proof for the
//! environment's token and one request, for scripts that call the service
//! themselves. The URL follows `lmi api`'s origin rule; the token is
//! acquired as `auth token` would, for the proof's `ath`; the origin's
//! latest nonce goes in. The proof is the command's result, printed only
//! to stdout.

use serde::Serialize;

use super::Ctx;
use crate::error::{Error, Result};

#[derive(Serialize)]
struct ProofOut<'a> {
    dpop: &'a str,
    htm: &'a str,
    htu: String,
}

pub fn run(ctx: &Ctx, method: &str, path: &str) -> Result<u8> {
    let config = ctx.config()?;
    let (environment, dpop) = ctx.environment_dpop()?;
    if !dpop {
        return Err(Error::config(format!(
            "environment {} does not use DPoP: OAUTH_DPOP is not on, so its tokens need no proof",
            environment
        ))
        .with_hint(
            "send the token as a Bearer token, or set OAUTH_DPOP=true if the IdP binds this client's tokens",
        ));
    }
    let (method, url) = super::api::method_and_url(config.api()?, method, path)?;
    let proof = ctx.with_service(|auth| {
        let (token, _) = auth.token()?;
        auth.proof(&method, &url, &token)?
            .ok_or_else(|| Error::internal("the environment's DPoP token has no proof"))
    })?;
    let out = ProofOut {
        dpop: proof.expose(),
        htm: &method,
        htu: crate::auth::dpop::htu(&url),
    };
    if ctx.out.is_json() {
        ctx.out.json(&out)?;
    } else {
        ctx.out.text(proof.expose())?;
    }
    Ok(0)
}
