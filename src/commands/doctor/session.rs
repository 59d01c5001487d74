//! Checks of the SSO side: the keychain answers in time, and the SSO
//! issuer's metadata and signing keys load.

use super::network::probe;
use super::{shown_server_url, Check, Findings};
use crate::auth::sso::id_token::fetch_jwks;
use crate::auth::sso::Idp;
use crate::commands::Ctx;
use crate::error::Kind;

/// `keychain`: the session store answers within its time limit.
pub fn keychain(ctx: &Ctx) -> Check {
    const NAME: &str = "keychain";
    let Some(config) = ctx.config().ok() else {
        return Check::skipped(NAME, "the configuration does not resolve (see config)");
    };
    if !config.sso_configured() {
        return Check::ok(NAME, "not used (SSO is not configured)");
    }
    if let Err(e) = config.sso_store_kind() {
        return Check::from_error(NAME, &e, "set OAUTH_SSO_TOKEN_STORE to keychain or file");
    }
    // The store bounds every keychain call (3 s).
    match ctx.with_sso(|deps, _| Ok((deps.store.describe(), deps.store.load()))) {
        Err(e) => Check::from_error(NAME, &e, "check the SSO settings"),
        Ok((place, Ok(Some(session)))) => Check::ok(
            NAME,
            format!(
                "{place} answers and holds the session of {}",
                session.user.as_deref().unwrap_or("an unknown user")
            ),
        ),
        Ok((place, Ok(None))) => Check::warn(
            NAME,
            format!("{place} answers; no SSO session is stored"),
            "run: lmi login sso",
        ),
        Ok((_, Err(e))) => Check::from_error(
            NAME,
            &e,
            "opt in to a private file with OAUTH_SSO_TOKEN_STORE=file",
        ),
    }
}

/// `sso`: the issuer's metadata and JWKS load (when SSO is configured).
pub fn sso(ctx: &Ctx, findings: &mut Findings) -> Check {
    const NAME: &str = "sso";
    let Some(config) = ctx.config().ok() else {
        return Check::skipped(NAME, "the configuration does not resolve (see config)");
    };
    if !config.sso_configured() {
        return Check::ok(NAME, "not configured");
    }
    let sso = match config.sso() {
        Ok(sso) => sso,
        Err(e) => return Check::from_error(NAME, &e, "check the OAUTH_SSO_* settings"),
    };
    let transport = match ctx.transport() {
        Ok(t) => t,
        Err(e) => return Check::from_error(NAME, &e, "check HTTP_TIMEOUT"),
    };
    if let Some(issuer) = &sso.issuer {
        let first = crate::auth::discovery::candidates(issuer).remove(0);
        if let Err(why) = probe(transport, ctx, &first, findings) {
            return Check::fail(
                NAME,
                Kind::Service,
                format!("the SSO issuer does not answer: {why}"),
                "check OAUTH_SSO_ISSUER and your network (proxy, VPN)",
            );
        }
    }
    let idp = Idp::new(sso, transport, ctx.deps.clock.as_ref());
    let jwks = match idp.jwks_uri() {
        Ok(url) => url,
        Err(e) => return Check::from_error(NAME, &e, "check OAUTH_SSO_ISSUER"),
    };
    match fetch_jwks(transport, &jwks) {
        Ok(keys) => Check::ok(
            NAME,
            format!(
                "metadata of {} and its signing keys ({} key{}) load",
                shown_server_url(&sso.issuer_id),
                keys.len(),
                if keys.len() == 1 { "" } else { "s" }
            ),
        ),
        Err(e) => Check::from_error(NAME, &e, "check OAUTH_SSO_ISSUER"),
    }
}
