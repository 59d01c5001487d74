//! `lmi doctor` (SPEC §3.1): every check it can make, each reported with a
//! status, what was found and what to do about it.
//!
//! The checks run in a fixed order (`config`, `environment`, `endpoints`,
//! `token`, `keychain`, `sso`, `clock`, `log`); a failing one never stops
//! the others. Each is a function returning a [`Check`]; what one check
//! learns that a later one needs (an unreachable IdP, the IdP's `Date`) is
//! kept in [`Findings`], so an unreachable host costs one time-out, not
//! one per check. The exit code is that of the first failing check's
//! domain. Nothing here prints a secret or a token: details are built from
//! names, URLs, times and lmi's own (scrubbed) error messages.
//!
//! - `local`: the config files, the environment, the log file.
//! - `network`: the endpoints, the service token, the clock.
//! - `session`: the keychain and the SSO issuer.

mod local;
mod network;
mod session;

use std::time::Duration;

use serde::Serialize;
use url::Url;

use super::Ctx;
use crate::error::{Error, Kind, Result};
use crate::redact;

/// The longest doctor waits for any one HTTP exchange (HTTP_TIMEOUT when
/// that is shorter), so that a host that swallows packets cannot hold it
/// for minutes.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check's result.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub hint: Option<String>,
    /// The error domain of a failure (its exit code).
    #[serde(skip)]
    pub domain: Kind,
}

impl Check {
    pub fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            detail: detail.into(),
            hint: None,
            domain: Kind::Internal,
        }
    }

    pub fn warn(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Warn,
            detail: detail.into(),
            hint: Some(hint.into()),
            domain: Kind::Internal,
        }
    }

    pub fn fail(
        name: &'static str,
        domain: Kind,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            hint: Some(hint.into()),
            domain,
        }
    }

    /// A failure from one of lmi's errors: its message, hint and domain.
    pub fn from_error(name: &'static str, error: &Error, fallback_hint: &str) -> Check {
        Check::fail(
            name,
            error.kind(),
            error.message(),
            error.hint().unwrap_or(fallback_hint),
        )
    }

    /// A check that could not run because an earlier one failed.
    pub fn skipped(name: &'static str, because: &str) -> Check {
        Check::warn(
            name,
            format!("not checked: {because}"),
            "fix the failing check above, then run lmi doctor again",
        )
    }
}

/// A URL as doctor shows it: credentials inside it (userinfo, `api_key=`,
/// `sig=`, `token=` and the like) hidden, as `config show` and the logs
/// hide them.
pub(super) fn shown_url(url: &Url) -> String {
    redact::unsafe_chars(&redact::url(url))
}

/// A URL a server named (its metadata's `token_endpoint`), shown as
/// [`shown_url`] does; text that is not a URL is only cleaned.
pub(super) fn shown_server_url(raw: &str) -> String {
    Url::parse(raw).map_or_else(|_| redact::unsafe_chars(raw), |u| shown_url(&u))
}

/// What earlier checks learnt that later ones use.
#[derive(Debug, Default)]
pub struct Findings {
    /// URLs that did not answer at all.
    pub unreachable: Vec<String>,
    /// The IdP's `Date` header and the local time when it arrived (Unix
    /// seconds), from the first IdP that answered.
    pub idp_date: Option<(String, i64, i64)>,
}

#[derive(Serialize)]
struct Report<'a> {
    checks: &'a [Check],
}

pub fn run(ctx: &Ctx) -> Result<u8> {
    // Every exchange of this run is bounded by the shorter limit: the
    // transport is made once per invocation, here first.
    let timeout = ctx
        .config()
        .ok()
        .and_then(|c| c.http_timeout().ok())
        .map_or(PROBE_TIMEOUT, |t| t.min(PROBE_TIMEOUT));
    let _ = ctx.deps.transport(timeout);

    let mut findings = Findings::default();
    let mut checks = vec![
        local::config(ctx),
        local::environment(ctx),
        network::endpoints(ctx, &mut findings),
        network::token(ctx, &findings),
        session::keychain(ctx),
        session::sso(ctx, &mut findings),
        network::clock(&findings),
        local::log(ctx),
    ];
    // Details quote servers (user names, metadata, error descriptions):
    // whatever slipped through is cleaned once more, for both outputs.
    for check in &mut checks {
        check.detail = redact::unsafe_chars(&check.detail);
        check.hint = check.hint.as_deref().map(redact::unsafe_chars);
    }
    ctx.out
        .result(&Report { checks: &checks }, || text(&checks))?;
    let failed: Vec<&Check> = checks.iter().filter(|c| c.status == Status::Fail).collect();
    match failed.first() {
        None => Ok(0),
        Some(first) => {
            let names: Vec<&str> = failed.iter().map(|c| c.name).collect();
            Err(Error::new(
                first.domain,
                format!(
                    "{} check{} failed: {}",
                    failed.len(),
                    if failed.len() == 1 { "" } else { "s" },
                    names.join(", ")
                ),
            )
            .with_hint(first.hint.clone().unwrap_or_default()))
        }
    }
}

/// One line per check, the mark first so a person can scan the column.
fn text(checks: &[Check]) -> String {
    checks
        .iter()
        .map(|c| {
            let mark = match c.status {
                Status::Ok => "[ok]  ",
                Status::Warn => "[warn]",
                Status::Fail => "[FAIL]",
            };
            match &c.hint {
                Some(hint) => format!("{mark} {:<11} {} (hint: {hint})", c.name, c.detail),
                None => format!("{mark} {:<11} {}", c.name, c.detail),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn text_has_one_line_per_check_with_a_mark() {
        let checks = [
            Check::ok("config", "fine"),
            Check::warn("clock", "off by 90 s", "set the clock"),
            Check::fail("token", Kind::Auth, "refused", "check the secret"),
        ];
        let shown = text(&checks);
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("[ok]   config"));
        assert!(lines[1].starts_with("[warn] clock") && lines[1].contains("hint: set the clock"));
        assert!(lines[2].starts_with("[FAIL] token"));
    }
}
