//! Polling the token endpoint for a device login (RFC 8628 §3.4–3.5):
//! `authorization_pending` goes on, `slow_down` adds 5 s for good,
//! `access_denied` and `expired_token` end the login; network failures and
//! 5xx answers are retried with a growing wait. Every wait goes through the
//! clock and sleeper seams and ticks the waiting line.

use std::time::Duration;

use crate::auth::grants::{Grant, GrantError, GrantFailure, TokenResponse};
use crate::auth::oauth::DeviceAuthorization;
use crate::error::{Error, Result};

use super::deps::SsoDeps;
use super::idp::Idp;
use super::waiting::WaitingLine;
use crate::config::SsoConfig;

/// The polling interval when the IdP names none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL: u64 = 5;
/// The range an IdP's `interval` is clamped to: at least a second between
/// polls, and never so long that an approval goes unnoticed for minutes.
pub const INTERVAL_RANGE: (u64, u64) = (1, 60);
/// What `slow_down` adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN_STEP: u64 = 5;
/// The longest wait after failed polls.
const MAX_BACKOFF: u64 = 60;

/// The interval to poll at: the IdP's, within [`INTERVAL_RANGE`], else
/// [`DEFAULT_INTERVAL`].
pub fn clamp_interval(interval: Option<u64>) -> u64 {
    let (low, high) = INTERVAL_RANGE;
    match interval {
        None => DEFAULT_INTERVAL,
        Some(asked) if (low..=high).contains(&asked) => asked,
        Some(asked) => {
            let used = asked.clamp(low, high);
            tracing::info!(target: "sso", "the IdP asked for a polling interval of {asked} s; using {used} s (lmi keeps it between {low} and {high} s)");
            used
        }
    }
}

/// What one poll's failure means.
enum Next {
    /// `authorization_pending`: poll again after the interval.
    Pending,
    /// `slow_down`: poll again after the (grown) interval.
    SlowDown,
    /// Unreachable, or the server's own trouble: retry after a backoff.
    Retry(String),
    /// The login is over.
    Fail(Error),
}

fn classify(error: GrantError) -> Next {
    match error.failure.as_ref() {
        GrantFailure::Refused(e) => match e.code.as_str() {
            "authorization_pending" => Next::Pending,
            "slow_down" => Next::SlowDown,
            "access_denied" => Next::Fail(
                Error::auth(format!(
                    "the device login was denied at the IdP: {}; nothing was stored",
                    e.summary()
                ))
                .with_hint(
                    "the code was refused at the verification page; run lmi login sso to try again",
                ),
            ),
            "expired_token" => Next::Fail(
                Error::auth(format!(
                    "the device code expired before the login was approved: {}; nothing was stored",
                    e.summary()
                ))
                .with_hint("run lmi login sso again and approve the code sooner"),
            ),
            _ => Next::Fail(error.into_error(Idp::hint)),
        },
        GrantFailure::Unreachable { .. } => Next::Retry(error.message()),
        GrantFailure::Status { status, .. } if *status >= 500 || *status == 429 => {
            Next::Retry(error.message())
        }
        _ => Next::Fail(error.into_error(Idp::hint)),
    }
}

/// Waits `seconds` one second at a time (ticking the waiting line); false
/// when the deadline comes first.
fn wait(deps: &SsoDeps<'_>, seconds: u64, deadline: i64, line: &mut WaitingLine<'_>) -> bool {
    for _ in 0..seconds {
        let now = deps.clock.now();
        if now >= deadline {
            return false;
        }
        line.tick(Duration::from_secs((deadline - now).unsigned_abs()));
        deps.sleeper.sleep(Duration::from_secs(1));
    }
    deps.clock.now() < deadline
}

/// Polls the token endpoint (RFC 8628 §3.4–3.5) until tokens, a refusal,
/// or the deadline: `expires_in` or `OAUTH_SSO_LOGIN_TIMEOUT`, whichever
/// ends first.
pub(super) fn poll(
    deps: &SsoDeps<'_>,
    config: &SsoConfig,
    idp: &Idp<'_>,
    auth: &DeviceAuthorization,
    started: i64,
    mut interval: u64,
) -> Result<TokenResponse> {
    let (limit, limit_name) = match auth.expires_in {
        Some(expires) if expires < config.login_timeout => (expires, "the code's expires_in"),
        _ => (config.login_timeout, "OAUTH_SSO_LOGIN_TIMEOUT"),
    };
    let deadline = started.saturating_add(i64::try_from(limit).unwrap_or(i64::MAX));
    let mut failures: u32 = 0;
    let mut last_failure: Option<String> = None;
    let mut line = WaitingLine::new(deps.terminal, "the device login to be approved");
    loop {
        let pause = match failures {
            0 => interval,
            n => interval
                .saturating_mul(1 << n.min(6))
                .min(MAX_BACKOFF)
                .max(interval),
        };
        if !wait(deps, pause, deadline, &mut line) {
            line.clear();
            return Err(match last_failure {
                Some(failure) => Error::auth(format!(
                    "the IdP's token endpoint kept failing until the device login's time ran out ({limit} s, {limit_name}); last: {failure}; nothing was stored"
                ))
                .with_hint("check your network and OAUTH_SSO_ISSUER (or OAUTH_SSO_TOKEN_URL), then run lmi login sso again"),
                None => Error::auth(format!(
                    "the device login was not approved within {limit} s ({limit_name}); nothing was stored"
                ))
                .with_hint("run lmi login sso again and approve the code at the verification page in time (OAUTH_SSO_LOGIN_TIMEOUT sets how long lmi waits)"),
            });
        }
        let error = match idp.token_request(Grant::DeviceCode(auth.device_code.clone())) {
            Ok(response) => return Ok(response),
            Err(error) => error,
        };
        match classify(error) {
            Next::Pending => {
                failures = 0;
                last_failure = None;
            }
            Next::SlowDown => {
                failures = 0;
                last_failure = None;
                interval = interval.saturating_add(SLOW_DOWN_STEP);
                line.clear();
                tracing::info!(target: "sso", "the IdP asked lmi to slow down; polling every {interval} s from now on");
            }
            Next::Retry(failure) => {
                failures = failures.saturating_add(1);
                line.clear();
                tracing::info!(target: "sso", "polling for the device login failed ({failure}); trying again");
                last_failure = Some(failure);
            }
            Next::Fail(error) => {
                line.clear();
                return Err(error);
            }
        }
    }
}
