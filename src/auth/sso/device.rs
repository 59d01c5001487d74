//! The device login (RFC 8628): logging in on a machine that cannot show a
//! browser, by approving a short code on another device. The use case over
//! the OAuth core:
//!
//! 1. the device authorization request (§3.1–3.2, `auth::oauth::device`),
//!    and the checks of what it asks lmi to show (`device_checks`);
//! 2. show the person where to go and the code (§3.3), opening the page
//!    with their own `$BROWSER` when one is set (`device_prompt`);
//! 3. poll the token endpoint (§3.4–3.5, `device_poll`), then check the
//!    tokens as any login's.
//!
//! Everything waits through the clock and sleeper seams, so the pacing is
//! unit-tested without sleeping. The device code and the user code are
//! secrets: the user code is shown to the person on the terminal, never
//! logged, and verification URIs are logged with the code redacted.

use url::Url;

use crate::auth::oauth::device as device_protocol;
use crate::error::{Error, Result};
use crate::http::Transport;
use crate::redact;

use super::deps::SsoDeps;
use super::device_poll::{clamp_interval, poll};
use super::device_prompt::{loggable_verification, show};
use super::flow::LoginOptions;
use super::idp::Idp;
use super::store::Session;
use crate::config::SsoConfig;

pub use crate::auth::oauth::device::DeviceAuthorization;

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

/// The device authorization request (RFC 8628 §3.1), and the checks of
/// what its response may ask lmi to show (SPEC §5.1).
pub fn authorize(
    transport: &dyn Transport,
    endpoint: &Url,
    client_id: &str,
    scopes: &str,
) -> Result<DeviceAuthorization> {
    let auth = device_protocol::request_authorization(transport, endpoint, client_id, scopes)?;
    let problems = super::device_checks::problems(&auth);
    if !problems.is_empty() {
        return Err(Error::auth(format!(
            "the device authorization response from {} is not usable: {}; nothing was shown or polled",
            redact::url(endpoint),
            problems.join("; ")
        ))
        .with_hint("the IdP's device authorization endpoint must give an https:// verification page and a short printable code; check OAUTH_SSO_DEVICE_AUTHORIZATION_URL (or the IdP's metadata), or use the browser flow (OAUTH_SSO_FLOW=browser)"));
    }
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::sso::store::{MemoryStore, Store};
    use crate::auth::sso::testing::*;
    use crate::clock::{Clock, FixedClock};
    use crate::secret::Secret;
    use crate::terminal::{RecordingTerminal, Written};

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
        terminal: RecordingTerminal,
    }

    impl Run {
        fn new() -> Run {
            Run {
                clock: FixedClock::at(T),
                http: FakeTransport::default(),
                browser: RecordingBrowser::default(),
                terminal: RecordingTerminal::interactive(),
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
                terminal: &self.terminal,
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

    #[test]
    fn the_prompt_and_the_waiting_line_go_to_the_terminal() {
        let mut run = Run::new();
        run.browser.configured = true;
        run.http
            .answer(DEVICE_URL, 200, device_answer(json!({"interval": 1})));
        run.http
            .answer(TOKEN_URL, 400, pending())
            .answer(TOKEN_URL, 200, tokens());
        run.login(&config(300), LoginOptions::default()).unwrap();
        let notices = run.terminal.notices();
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(
            notices[0].starts_with("To log in to ")
                && notices[0].contains("\n\n    https://idp.test/device\n\nand enter the code:"),
            "{}",
            notices[0]
        );
        assert_eq!(
            notices[1],
            "Opened the page with $BROWSER; approve the code there."
        );
        let written = run.terminal.written();
        let redraws = written
            .iter()
            .filter(|w| matches!(w, Written::Redraw(l) if l.contains("Waiting for the device login to be approved")))
            .count();
        assert_eq!(redraws, 2, "one tick per second waited: {written:?}");
        assert_eq!(written.last(), Some(&Written::Clear), "{written:?}");
    }
}
