//! Checks that talk to the environment's servers: each endpoint answers,
//! a service token is cached or can be acquired, the clock agrees with the
//! IdP's.

use url::Url;

use super::{shown_server_url, shown_url, Check, Findings};
use crate::auth::discovery;
use crate::clock::rfc3339;
use crate::commands::Ctx;
use crate::config::Endpoint;
use crate::error::Kind;
use crate::http::Transport;

/// Beyond this many seconds apart, the clocks disagree enough to matter
/// for `exp`/`iat` checks (SPEC §3.1).
const CLOCK_SKEW_LIMIT: i64 = 60;

/// GETs `url`; any HTTP status is an answer. Records the first `Date`.
pub(super) fn probe(
    transport: &dyn Transport,
    ctx: &Ctx,
    url: &Url,
    findings: &mut Findings,
) -> Result<u16, String> {
    match transport.send("GET", url, &[], None) {
        Ok(response) => {
            if findings.idp_date.is_none() {
                if let Some(date) = response.header("Date") {
                    findings.idp_date =
                        Some((shown_url(url), parse_date(date), ctx.deps.clock.now()));
                }
            }
            Ok(response.status)
        }
        Err(e) => {
            findings.unreachable.push(shown_url(url));
            Err(e.describe(transport.timeout()))
        }
    }
}

/// An HTTP-date (RFC 9110 §5.6.7) in Unix seconds; `i64::MIN` when it is
/// not one (the clock check says so).
fn parse_date(raw: &str) -> i64 {
    httpdate::parse_http_date(raw)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(i64::MIN, |d| d.as_secs() as i64)
}

/// `endpoints`: the token endpoint (or the issuer, with discovery) and
/// `API_BASE_URL` answer.
pub fn endpoints(ctx: &Ctx, findings: &mut Findings) -> Check {
    const NAME: &str = "endpoints";
    let Some(config) = ctx.config().ok() else {
        return Check::skipped(NAME, "the configuration does not resolve (see config)");
    };
    let Ok(service) = config.service() else {
        return Check::skipped(NAME, "the environment is incomplete (see environment)");
    };
    let transport = match ctx.transport() {
        Ok(t) => t,
        Err(e) => return Check::from_error(NAME, &e, "check HTTP_TIMEOUT"),
    };
    let mut seen = Vec::new();
    match &service.endpoint {
        Endpoint::Explicit(url) => {
            if let Err(why) = probe(transport, ctx, url, findings) {
                return Check::fail(
                    NAME,
                    Kind::Service,
                    format!("the token endpoint does not answer: {why}"),
                    "check OAUTH_TOKEN_URL and your network (proxy, VPN)",
                );
            }
            seen.push(format!("token endpoint {}", shown_url(url)));
        }
        Endpoint::Discover(issuer) => {
            let first = discovery::candidates(issuer).remove(0);
            if let Err(why) = probe(transport, ctx, &first, findings) {
                return Check::fail(
                    NAME,
                    Kind::Service,
                    format!("the OAuth service does not answer: {why}"),
                    "check OAUTH_SERVICE_URL and your network (proxy, VPN)",
                );
            }
            match discovery::fetch_issuer(transport, "OAUTH_SERVICE_URL", issuer, issuer.as_str()) {
                Ok(meta) => seen.push(format!(
                    "issuer {} (token endpoint {})",
                    shown_url(issuer),
                    meta.token_endpoint
                        .as_deref()
                        .map_or_else(|| "missing".to_owned(), shown_server_url)
                )),
                Err(e) => return Check::from_error(NAME, &e, "check OAUTH_SERVICE_URL"),
            }
        }
    }
    match config.api() {
        Ok(api) => {
            if let Some(base) = &api.base {
                if let Err(why) = probe(transport, ctx, base, findings) {
                    return Check::fail(
                        NAME,
                        Kind::Service,
                        format!("API_BASE_URL does not answer: {why}"),
                        "check API_BASE_URL and your network (proxy, VPN)",
                    );
                }
                seen.push(format!("API {}", shown_url(base)));
            }
        }
        Err(e) => return Check::from_error(NAME, &e, "check API_BASE_URL"),
    }
    Check::ok(
        NAME,
        format!(
            "{} answer{}",
            seen.join(", "),
            if seen.len() == 1 { "s" } else { "" }
        ),
    )
}

/// `token`: a valid token is cached, or one can be acquired (once).
pub fn token(ctx: &Ctx, findings: &Findings) -> Check {
    const NAME: &str = "token";
    let Some(config) = ctx.config().ok() else {
        return Check::skipped(NAME, "the configuration does not resolve (see config)");
    };
    if config.service().is_err() {
        return Check::skipped(NAME, "the environment is incomplete (see environment)");
    }
    if !findings.unreachable.is_empty() {
        return Check::skipped(NAME, "the OAuth service does not answer (see endpoints)");
    }
    match ctx.with_service(|auth| auth.token()) {
        Ok((token, source)) => {
            let expiry = token.expires_at.and_then(rfc3339).map_or_else(
                || "no known expiry".to_owned(),
                |e| format!("valid until {e}"),
            );
            let how = match source {
                crate::auth::service::TokenSource::Cache => "a cached token",
                crate::auth::service::TokenSource::Acquired => "a new token was acquired",
            };
            Check::ok(NAME, format!("{how}, {expiry}"))
        }
        Err(e) => Check::from_error(
            NAME,
            &e,
            "check the environment's OAuth settings (lmi config show)",
        ),
    }
}

/// `clock`: the local clock agrees with the IdP's `Date` within a minute.
pub fn clock(findings: &Findings) -> Check {
    const NAME: &str = "clock";
    let Some((url, date, local)) = &findings.idp_date else {
        return Check::warn(
            NAME,
            "no IdP answered, so the clock was not compared",
            "fix the endpoints or sso check; token expiry depends on a correct clock",
        );
    };
    if *date == i64::MIN {
        return Check::warn(
            NAME,
            format!("{url} sent a Date header that is not an HTTP date"),
            "the clock could not be compared",
        );
    }
    let skew = local - date;
    if skew.abs() > CLOCK_SKEW_LIMIT {
        let direction = if skew > 0 { "ahead of" } else { "behind" };
        return Check::warn(
            NAME,
            format!("this machine's clock is {} s {direction} the IdP's ({url})", skew.abs()),
            "set the system clock (enable NTP, e.g. timedatectl set-ntp true); token expiry and iat checks depend on it",
        );
    }
    Check::ok(
        NAME,
        format!("within {} s of the IdP's ({url})", skew.abs()),
    )
}
