//! The device authorization grant (RFC 8628): logging in on a machine that
//! cannot show a browser, by approving a short code on another device.
//!
//! 1. POST `client_id` and `scope` to the device authorization endpoint
//!    (§3.1) and read `device_code`, `user_code`, `verification_uri`,
//!    `verification_uri_complete`, `expires_in` and `interval` (§3.2).
//! 2. Show the person where to go and the code (§3.3), and open the page
//!    with their own `$BROWSER` when one is set.
//! 3. Poll the token endpoint every `interval` seconds (§3.4–3.5):
//!    `authorization_pending` goes on, `slow_down` adds 5 s for good,
//!    `access_denied` and `expired_token` end the login. Network failures
//!    and 5xx answers are retried with a growing wait: a blip must not cost
//!    the person the approval they are about to give.
//!
//! Everything waits through the clock and sleeper seams, so the pacing is
//! unit-tested without sleeping. The device code and the user code are
//! [`Secret`]s: the user code is shown to the person on stderr, never
//! logged, and verification URIs are logged with the code redacted.

use std::io::Write;
use std::time::Duration;

use serde_json::Value as Json;
use url::Url;

use crate::auth::grants::{Grant, GrantError, GrantFailure, TokenResponse};
use crate::error::{Error, Result};
use crate::http::{is_loopback, Transport};
use crate::redact;
use crate::secret::Secret;

use super::deps::SsoDeps;
use super::flow::LoginOptions;
use super::idp::Idp;
use super::store::Session;
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
/// The largest device authorization response lmi reads (SPEC §4).
const RESPONSE_LIMIT: usize = 1024 * 1024;

/// A device authorization response (RFC 8628 §3.2).
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub device_code: Secret,
    /// Shown to the person, never logged.
    pub user_code: Secret,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: Option<u64>,
    pub interval: Option<u64>,
}

/// Runs the device flow at `endpoint` up to a validated [`Session`] (not
/// stored: the caller stores it as it stores a browser login's).
pub fn login(
    deps: &SsoDeps<'_>,
    config: &SsoConfig,
    idp: &Idp<'_>,
    endpoint: &Url,
    options: LoginOptions,
) -> Result<Session> {
    // Every endpoint is known (and checked) before the person is asked.
    idp.token_endpoint()?;
    if config.wants_openid() {
        idp.jwks_uri()?;
    }
    let auth = authorize(deps.transport, endpoint, &config.client_id, &config.scopes)?;
    let started = deps.clock.now();
    let interval = clamp_interval(auth.interval);
    tracing::info!(
        target: "sso",
        "device authorization at {}: verification at {}, code valid for {}, polling every {interval} s",
        redact::url(endpoint),
        loggable_verification(&auth.verification_uri, &auth.user_code),
        auth.expires_in.map_or("an unstated time".to_owned(), |s| format!("{s} s")),
    );
    show(deps, config, &auth, options.no_browser);
    let response = poll(deps, config, idp, &auth, started, interval)?;
    tracing::info!(target: "sso", "the device login was approved; checking the tokens");
    // RFC 8628 has no nonce: the ID token is checked without one.
    idp.session_from(response, None, None)
}

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

/// The device authorization request (RFC 8628 §3.1) as a public client.
pub fn authorize(
    transport: &dyn Transport,
    endpoint: &Url,
    client_id: &str,
    scopes: &str,
) -> Result<DeviceAuthorization> {
    let shown = redact::url(endpoint);
    let form = [("client_id", client_id), ("scope", scopes)];
    let response = transport.post_form(endpoint, &[], &form).map_err(|e| {
        Error::auth(format!(
            "the device authorization request failed: {}",
            e.describe(transport.timeout())
        ))
        .with_hint("check OAUTH_SSO_ISSUER (or OAUTH_SSO_DEVICE_AUTHORIZATION_URL) and your network, then try again")
        .with_cause(e)
    })?;
    parse_authorization(&shown, response.status, &response.body)
}

fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Reads a device authorization response (RFC 8628 §3.2, errors §3.2 and
/// RFC 6749 §5.2).
fn parse_authorization(shown: &str, status: u16, body: &[u8]) -> Result<DeviceAuthorization> {
    let check = "the IdP's device authorization endpoint does not answer as RFC 8628 says; check OAUTH_SSO_DEVICE_AUTHORIZATION_URL (or the IdP's metadata)";
    if body.len() > RESPONSE_LIMIT {
        return Err(Error::auth(format!(
            "the device authorization response from {shown} is larger than 1 MiB; refused"
        ))
        .with_hint(check));
    }
    let text = String::from_utf8_lossy(body);
    let json: Option<Json> = serde_json::from_str(&text).ok();
    if !(200..300).contains(&status) {
        let field = |name: &str| {
            json.as_ref()
                .and_then(|j| j.get(name))
                .and_then(Json::as_str)
                .map(|v| redact::server_text(v, &[]))
        };
        let Some(code) = field("error").filter(|_| matches!(status, 400 | 401)) else {
            let snippet: String = redact::server_text(text.trim(), &[])
                .chars()
                .take(200)
                .collect();
            return Err(Error::auth(format!(
                "the device authorization endpoint {shown} answered HTTP {status}{}",
                if snippet.is_empty() { String::new() } else { format!(": {snippet}") }
            ))
            .with_hint("the IdP's device authorization endpoint is not working; try again later, or check OAUTH_SSO_DEVICE_AUTHORIZATION_URL"));
        };
        let description = field("error_description")
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let hint = match code.as_str() {
            "invalid_scope" => "check OAUTH_SSO_SCOPES: the IdP refuses one of them for this client".to_owned(),
            "invalid_client" | "unauthorized_client" => "check OAUTH_SSO_CLIENT_ID, and that the IdP allows this client the device flow (grant type urn:ietf:params:oauth:grant-type:device_code); or use the browser flow (OAUTH_SSO_FLOW=browser)".to_owned(),
            _ => "check OAUTH_SSO_CLIENT_ID and the client's settings at the IdP".to_owned(),
        };
        return Err(Error::auth(format!(
            "the device authorization endpoint {shown} refused the request (HTTP {status}): {code}{description}"
        ))
        .with_hint(hint));
    }
    let Some(Json::Object(obj)) = json else {
        return Err(Error::auth(format!(
            "the device authorization endpoint {shown} returned a response that is not a JSON object; nothing was stored"
        ))
        .with_hint(check));
    };
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    let mut text_field = |name: &'static str, required: bool| match obj.get(name) {
        Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
        None | Some(Json::Null) if !required => None,
        None | Some(Json::Null) => {
            missing.push(name);
            None
        }
        Some(Json::String(_)) => {
            wrong.push(format!("{name} is empty"));
            None
        }
        Some(other) => {
            wrong.push(format!("{name} is {}, not a string", json_type(other)));
            None
        }
    };
    let device_code = text_field("device_code", true);
    let user_code = text_field("user_code", true);
    // Google's endpoint names it `verification_url` (an earlier draft's name).
    let verification_uri =
        if obj.contains_key("verification_uri") || !obj.contains_key("verification_url") {
            text_field("verification_uri", true)
        } else {
            text_field("verification_url", true)
        };
    let verification_uri_complete = text_field("verification_uri_complete", false);
    let mut number = |name: &'static str| match obj.get(name) {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(other) => {
            wrong.push(format!(
                "{name} is {}, not a whole number of seconds",
                json_type(other)
            ));
            None
        }
    };
    let expires_in = number("expires_in");
    let interval = number("interval");
    if !missing.is_empty() || !wrong.is_empty() {
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("it lacks {}", missing.join(", ")));
        }
        problems.extend(wrong);
        return Err(Error::auth(format!(
            "the device authorization response from {shown} is not usable: {}; nothing was stored",
            problems.join("; ")
        ))
        .with_hint(check));
    }
    let auth = match (device_code, user_code, verification_uri) {
        (Some(device_code), Some(user_code), Some(verification_uri)) => DeviceAuthorization {
            device_code: Secret::new(device_code),
            user_code: Secret::new(user_code),
            verification_uri,
            verification_uri_complete,
            expires_in,
            interval,
        },
        // Each `None` was recorded as missing or wrong just above.
        _ => {
            return Err(Error::internal(
                "a device authorization field went unchecked",
            ))
        }
    };
    let problems = super::device_checks::problems(&auth);
    if !problems.is_empty() {
        return Err(Error::auth(format!(
            "the device authorization response from {shown} is not usable: {}; nothing was shown or polled",
            problems.join("; ")
        ))
        .with_hint("the IdP's device authorization endpoint must give an https:// verification page and a short printable code; check OAUTH_SSO_DEVICE_AUTHORIZATION_URL (or the IdP's metadata), or use the browser flow (OAUTH_SSO_FLOW=browser)"));
    }
    Ok(auth)
}

/// A verification URI as the file log shows it: the user code redacted
/// wherever it appears (query, path), and the usual secret parameters.
pub fn loggable_verification(uri: &str, user_code: &Secret) -> String {
    let shown = Url::parse(uri).map_or_else(|_| "[not a URL]".to_owned(), |u| redact::url(&u));
    crate::redact::secrets(&shown, &[user_code])
}

/// Tells the person where to go and which code to enter (RFC 8628 §3.3),
/// and opens the page with their own `$BROWSER`.
fn show(deps: &SsoDeps<'_>, config: &SsoConfig, auth: &DeviceAuthorization, no_browser: bool) {
    let clean = |s: &str| redact::server_text(s, &[]);
    let mut text = format!(
        "To log in to {}, open this page in a browser on any device:\n\n    {}\n\nand enter the code:\n\n    {}\n",
        config.issuer_id,
        clean(&auth.verification_uri),
        clean(auth.user_code.expose()),
    );
    if let Some(complete) = &auth.verification_uri_complete {
        text.push_str(&format!(
            "\nor open this address, which carries the code:\n\n    {}\n",
            clean(complete)
        ));
    }
    let _ = writeln!(std::io::stderr(), "{text}");
    if no_browser {
        return;
    }
    let target = auth
        .verification_uri_complete
        .as_deref()
        .unwrap_or(&auth.verification_uri);
    let openable = Url::parse(target)
        .is_ok_and(|u| u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)));
    if !openable {
        tracing::warn!(target: "sso", "not opening the verification page in a browser: lmi opens only https:// addresses (or http:// on loopback)");
        return;
    }
    match deps.browser.open_configured(target) {
        Some(true) => {
            let _ = writeln!(
                std::io::stderr(),
                "Opened the page with $BROWSER; approve the code there."
            );
        }
        Some(false) => {
            tracing::warn!(target: "sso", "could not start BROWSER; open the page above yourself")
        }
        None => {
            tracing::debug!(target: "sso", "BROWSER is not set; the device flow opens no browser")
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
        GrantFailure::Refused(e) => {
            let description = e
                .description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            match e.code.as_str() {
                "authorization_pending" => Next::Pending,
                "slow_down" => Next::SlowDown,
                "access_denied" => Next::Fail(
                    Error::auth(format!("the device login was denied at the IdP: access_denied{description}; nothing was stored"))
                        .with_hint("the code was refused at the verification page; run lmi login sso to try again"),
                ),
                "expired_token" => Next::Fail(
                    Error::auth(format!("the device code expired before the login was approved: expired_token{description}; nothing was stored"))
                        .with_hint("run lmi login sso again and approve the code sooner"),
                ),
                _ => Next::Fail(error.into_error(Idp::hint)),
            }
        }
        GrantFailure::Unreachable { .. } => Next::Retry(error.message()),
        GrantFailure::Status { status, .. } if *status >= 500 || *status == 429 => {
            Next::Retry(error.message())
        }
        _ => Next::Fail(error.into_error(Idp::hint)),
    }
}

/// Waits `seconds` one second at a time (ticking the waiting line); false
/// when the deadline comes first.
fn wait(deps: &SsoDeps<'_>, seconds: u64, deadline: i64, line: &mut WaitingLine) -> bool {
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
fn poll(
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
    let mut line = WaitingLine::new("the device login to be approved");
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::sso::store::{MemoryStore, Store};
    use crate::auth::sso::testing::*;
    use crate::clock::{Clock, FixedClock};

    const T: i64 = 1_800_000_000;
    const DEVICE_URL: &str = "https://idp.test/device_authorization";

    fn device_answer(extra: serde_json::Value) -> serde_json::Value {
        let mut body = json!({
            "device_code": "dc-secret-device-code",
            "user_code": "WDJB-MJHT",
            "verification_uri": "https://idp.test/device",
            "verification_uri_complete": "https://idp.test/device?user_code=WDJB-MJHT",
            "expires_in": 600,
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    }

    fn pending() -> serde_json::Value {
        json!({"error": "authorization_pending", "error_description": "not yet"})
    }

    fn tokens() -> serde_json::Value {
        json!({"access_token": "at-device", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-device"})
    }

    struct Run {
        clock: FixedClock,
        http: FakeTransport,
        browser: RecordingBrowser,
    }

    impl Run {
        fn new() -> Run {
            Run {
                clock: FixedClock::at(T),
                http: FakeTransport::default(),
                browser: RecordingBrowser::default(),
            }
        }

        fn login(&self, config: &SsoConfig, options: LoginOptions) -> Result<Session> {
            let store = Store::memory(MemoryStore::default());
            let deps = SsoDeps {
                clock: &self.clock,
                sleeper: &self.clock,
                transport: &self.http,
                browser: &self.browser,
                store: &store,
            };
            let idp = Idp::new(config, &self.http, &self.clock);
            login(
                &deps,
                config,
                &idp,
                &Url::parse(DEVICE_URL).unwrap(),
                options,
            )
        }

        /// Seconds the fixed clock moved (all of it by sleeping).
        fn slept(&self) -> i64 {
            self.clock.now() - T
        }
    }

    fn config(timeout: u64) -> SsoConfig {
        SsoConfig {
            login_timeout: timeout,
            ..plain_config()
        }
    }

    #[test]
    fn pending_then_slow_down_then_tokens() {
        let run = Run::new();
        run.http
            .answer(DEVICE_URL, 200, device_answer(json!({"interval": 2})));
        run.http
            .answer(TOKEN_URL, 400, pending())
            .answer(TOKEN_URL, 400, json!({"error": "slow_down"}))
            .answer(TOKEN_URL, 400, pending())
            .answer(TOKEN_URL, 200, tokens());
        let session = run.login(&config(300), LoginOptions::default()).unwrap();
        assert_eq!(session.access_token.expose(), "at-device");
        assert_eq!(session.expires_at, Some(T + 2 + 2 + 7 + 7 + 3600));
        // 2 s, 2 s, then 7 s for the rest of the login.
        assert_eq!(run.slept(), 2 + 2 + 7 + 7);
        let sent = run.http.sent();
        assert_eq!(sent[0].url, DEVICE_URL);
        assert_eq!(sent[0].field("client_id").as_deref(), Some(CLIENT_ID));
        assert_eq!(
            sent[0].field("scope").as_deref(),
            Some("profile offline_access")
        );
        let polls = run.http.token_requests();
        assert_eq!(polls.len(), 4);
        for poll in polls {
            assert_eq!(
                poll.field("grant_type").as_deref(),
                Some("urn:ietf:params:oauth:grant-type:device_code")
            );
            assert_eq!(
                poll.field("device_code").as_deref(),
                Some("dc-secret-device-code")
            );
            assert_eq!(poll.field("client_id").as_deref(), Some(CLIENT_ID));
        }
    }

    #[test]
    fn intervals_default_to_five_and_are_clamped() {
        assert_eq!(clamp_interval(None), 5);
        assert_eq!(clamp_interval(Some(0)), 1);
        assert_eq!(clamp_interval(Some(1)), 1);
        assert_eq!(clamp_interval(Some(3600)), 60);
        let run = Run::new();
        run.http
            .answer(DEVICE_URL, 200, device_answer(json!({"interval": 0})));
        run.http
            .answer(TOKEN_URL, 400, pending())
            .answer(TOKEN_URL, 200, tokens());
        run.login(&config(300), LoginOptions::default()).unwrap();
        assert_eq!(run.slept(), 2, "two polls a second apart, not a busy loop");
    }

    #[test]
    fn denial_and_expiry_end_with_the_servers_words() {
        for (error, words) in [("access_denied", "denied"), ("expired_token", "expired")] {
            let run = Run::new();
            run.http.answer(DEVICE_URL, 200, device_answer(json!({})));
            run.http.answer(TOKEN_URL, 400, pending()).answer(
                TOKEN_URL,
                400,
                json!({"error": error, "error_description": "said the <server>"}),
            );
            let err = run
                .login(&config(300), LoginOptions::default())
                .unwrap_err();
            assert_eq!(err.exit_code(), 4);
            assert!(err.message().contains(words), "{}", err.message());
            assert!(
                err.message()
                    .contains(&format!("{error}: said the <server>")),
                "{}",
                err.message()
            );
            assert_eq!(run.http.token_requests().len(), 2);
            assert_eq!(run.slept(), 10);
        }
    }

    #[test]
    fn the_deadline_is_expires_in_or_the_login_timeout_whichever_is_first() {
        for (expires_in, timeout, polls, named) in [
            (12, 300, 2, "expires_in"),
            (600, 16, 3, "OAUTH_SSO_LOGIN_TIMEOUT"),
        ] {
            let run = Run::new();
            run.http.answer(
                DEVICE_URL,
                200,
                device_answer(json!({"expires_in": expires_in})),
            );
            run.http.answer(TOKEN_URL, 400, pending());
            let err = run
                .login(&config(timeout), LoginOptions::default())
                .unwrap_err();
            assert_eq!(err.exit_code(), 4);
            assert!(
                err.message().contains("not approved") && err.message().contains(named),
                "{}",
                err.message()
            );
            assert_eq!(run.http.token_requests().len(), polls, "{named}");
            assert_eq!(run.slept(), expires_in.min(timeout) as i64, "{named}");
        }
    }

    #[test]
    fn server_trouble_while_polling_is_retried_with_backoff() {
        let run = Run::new();
        run.http
            .answer(DEVICE_URL, 200, device_answer(json!({"interval": 1})));
        run.http
            .answer(TOKEN_URL, 503, json!("unavailable"))
            .answer(TOKEN_URL, 502, json!("bad gateway"))
            .answer(TOKEN_URL, 400, pending())
            .answer(TOKEN_URL, 200, tokens());
        run.login(&config(300), LoginOptions::default()).unwrap();
        // 1 s, then 2 s and 4 s after the failures, then 1 s again.
        assert_eq!(run.slept(), 1 + 2 + 4 + 1);

        let run = Run::new();
        run.http
            .answer(DEVICE_URL, 200, device_answer(json!({"interval": 1})));
        run.http.answer(TOKEN_URL, 500, json!("down"));
        let err = run.login(&config(30), LoginOptions::default()).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(
            err.message().contains("kept failing") && err.message().contains("HTTP 500"),
            "{}",
            err.message()
        );
        assert_eq!(run.slept(), 30);
        // Waits of 1, 2, 4 and 8 s; the next (16 s) would pass the deadline.
        assert_eq!(run.http.token_requests().len(), 4);
    }

    #[test]
    fn other_token_errors_end_at_once() {
        let run = Run::new();
        run.http.answer(DEVICE_URL, 200, device_answer(json!({})));
        run.http.answer(
            TOKEN_URL,
            400,
            json!({"error": "invalid_grant", "error_description": "gone"}),
        );
        let err = run
            .login(&config(300), LoginOptions::default())
            .unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(
            err.message().contains("invalid_grant: gone"),
            "{}",
            err.message()
        );
        assert_eq!(run.http.token_requests().len(), 1);
    }

    #[test]
    fn refused_device_authorizations_quote_the_server() {
        for (status, error, hint) in [
            (401, "invalid_client", "OAUTH_SSO_CLIENT_ID"),
            (400, "unauthorized_client", "device flow"),
            (400, "invalid_scope", "OAUTH_SSO_SCOPES"),
        ] {
            let run = Run::new();
            run.http.answer(
                DEVICE_URL,
                status,
                json!({"error": error, "error_description": "because \u{1b}[2J"}),
            );
            let err = run
                .login(&config(300), LoginOptions::default())
                .unwrap_err();
            assert_eq!(err.exit_code(), 4, "{error}");
            assert!(
                err.message().contains(&format!("{error}: because")),
                "{}",
                err.message()
            );
            assert!(
                !err.message().contains('\u{1b}'),
                "control characters are cleaned"
            );
            assert!(
                err.hint().unwrap().contains(hint),
                "{error}: {:?}",
                err.hint()
            );
            assert!(run.http.token_requests().is_empty());
        }
        let run = Run::new();
        run.http
            .answer(DEVICE_URL, 503, json!("down for maintenance"));
        let err = run
            .login(&config(300), LoginOptions::default())
            .unwrap_err();
        assert!(err.message().contains("HTTP 503"), "{}", err.message());
    }

    #[test]
    fn unusable_device_authorizations_say_what_is_wrong() {
        let cases = [
            (json!({"device_code": null}), "lacks device_code"),
            (
                json!({"user_code": null, "verification_uri": null}),
                "lacks user_code, verification_uri",
            ),
            (
                json!({"device_code": 42}),
                "device_code is a number, not a string",
            ),
            (
                json!({"expires_in": "600"}),
                "expires_in is a string, not a whole number",
            ),
            (
                json!({"interval": -5}),
                "interval is a number, not a whole number",
            ),
            (json!({"user_code": ""}), "user_code is empty"),
        ];
        for (change, words) in cases {
            let run = Run::new();
            run.http.answer(DEVICE_URL, 200, device_answer(change));
            let err = run
                .login(&config(300), LoginOptions::default())
                .unwrap_err();
            assert_eq!(err.exit_code(), 4, "{words}");
            assert!(err.message().contains(words), "{words}: {}", err.message());
            assert!(!err.message().contains("dc-secret"), "{}", err.message());
        }
        let run = Run::new();
        run.http.answer(DEVICE_URL, 200, json!("<html>oops</html>"));
        let err = run
            .login(&config(300), LoginOptions::default())
            .unwrap_err();
        assert!(
            err.message().contains("not a JSON object"),
            "{}",
            err.message()
        );
        // Google's older field name.
        let run = Run::new();
        run.http.answer(
            DEVICE_URL,
            200,
            device_answer(
                json!({"verification_uri": null, "verification_url": "https://g.test/device"}),
            ),
        );
        run.http.answer(TOKEN_URL, 200, tokens());
        run.login(&config(300), LoginOptions::default()).unwrap();
    }

    #[test]
    fn the_page_opens_only_with_browser_set_and_only_when_safe() {
        let open = |configured: bool, no_browser: bool, complete: &str| {
            let mut run = Run::new();
            run.browser.configured = configured;
            let complete = if complete.is_empty() {
                json!(null)
            } else {
                json!(complete)
            };
            run.http.answer(
                DEVICE_URL,
                200,
                device_answer(json!({"verification_uri_complete": complete})),
            );
            run.http.answer(TOKEN_URL, 200, tokens());
            let options = LoginOptions {
                no_browser,
                ..LoginOptions::default()
            };
            let result = run.login(&config(300), options);
            let opened = run.browser.opened.lock().unwrap().clone();
            if result.is_err() {
                assert!(opened.is_empty(), "a refused answer opens nothing");
                return None;
            }
            Some(opened)
        };
        let complete = "https://idp.test/device?user_code=WDJB-MJHT";
        assert_eq!(open(true, false, complete).unwrap(), [complete]);
        assert_eq!(open(true, false, "").unwrap(), ["https://idp.test/device"]);
        assert!(
            open(false, false, complete).unwrap().is_empty(),
            "no BROWSER: nothing opened"
        );
        assert!(
            open(true, true, complete).unwrap().is_empty(),
            "--no-browser"
        );
        // Unusable pages end the login before anything is shown (SPEC §5.1).
        assert!(
            open(true, false, "http://idp.example/device").is_none(),
            "plain http"
        );
        assert_eq!(
            open(true, false, "http://127.0.0.1:9/device").unwrap(),
            ["http://127.0.0.1:9/device"]
        );
        assert!(open(true, false, "javascript:alert(1)").is_none());
    }

    #[test]
    fn logged_verification_uris_hide_the_code() {
        let code = Secret::new("WDJB-MJHT");
        assert_eq!(
            loggable_verification("https://idp.test/device?user_code=WDJB-MJHT", &code),
            "https://idp.test/device?user_code=%5Bredacted%5D"
        );
        assert_eq!(
            loggable_verification("https://idp.test/activate/WDJB-MJHT", &code),
            "https://idp.test/activate/[redacted]"
        );
    }
}
