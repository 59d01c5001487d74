//! `lmi credential kubectl|git` (SPEC §8): the environment's token, handed
//! to a tool through that tool's own credential protocol.
//!
//! What belongs here: one file per protocol. `kubectl` prints an
//! `ExecCredential` (client.authentication.k8s.io); `git` speaks
//! git-credential(1) on stdin and stdout. Both take the token from
//! [`Ctx::with_service`] (cache rules, lock, `REQUIRE_SSO`), so a tool that
//! asks often costs no token request while the cached one is valid. Stdout
//! carries only the credential: on any failure it stays empty, and the
//! error goes to stderr as everywhere else. Neither ever prompts.

mod git;
mod kubectl;

use super::Ctx;
use crate::cli::CredentialCommand;
use crate::error::{Error, Result};

pub fn run(ctx: &Ctx, cmd: CredentialCommand) -> Result<u8> {
    match cmd {
        CredentialCommand::Kubectl { sso } => kubectl::run(ctx, sso),
        CredentialCommand::Git { action } => git::run(ctx, action, &mut std::io::stdin().lock()),
    }
}

/// A DPoP environment's tokens are useless without a proof per request,
/// which neither kubectl nor git can make (SPEC §4.3): a configuration
/// error, before any token is asked for or anything printed.
fn refuse_dpop(ctx: &Ctx, tool: &str) -> Result<()> {
    let (environment, dpop) = ctx.environment_dpop()?;
    if !dpop {
        return Ok(());
    }
    Err(Error::config(format!(
        "environment {} uses DPoP-bound tokens (OAUTH_DPOP=true), and {tool} cannot send DPoP \
         proofs: a token alone would be refused",
        environment
    ))
    .with_hint(format!(
        "use a Bearer environment for {tool}, or call the service with lmi api (or curl with lmi auth proof)"
    )))
}
