//! `login sso` and `logout sso` through the seams: which flow is chosen,
//! what is reported, what is stored and which requests go out.

use serde_json::json;

use super::{login_sso, logout_sso};
use crate::auth::sso::testing::{oidc_session, session, FakeIdp, RecordingBrowser, TOKEN_URL};
use crate::auth::sso::MemoryStore;
use crate::cli::LoginSsoArgs;
use crate::clock::Clock;
use crate::commands::auth::tests::with_sso;
use crate::commands::testing::{error_of, Harness, NOW};
use crate::error::Kind;

const DEVICE_URL: &str = "https://idp.test/device";
const REVOKE_URL: &str = "https://idp.test/revoke";

fn args(force: bool, device: bool) -> LoginSsoArgs {
    LoginSsoArgs {
        force,
        no_browser: true,
        device,
    }
}

/// SSO with a device authorization endpoint, and an IdP that approves the
/// first poll.
fn device_ready(h: Harness) -> Harness {
    let h = with_sso(h).set("OAUTH_SSO_DEVICE_AUTHORIZATION_URL", DEVICE_URL);
    h.http.answer(
        DEVICE_URL,
        200,
        json!({"device_code": "dc-1", "user_code": "ABCD-EFGH",
               "verification_uri": "https://idp.test/activate", "expires_in": 300, "interval": 5}),
    );
    h.http.answer(
        TOKEN_URL,
        200,
        json!({"access_token": "at-new", "token_type": "Bearer", "expires_in": 600,
               "refresh_token": "rt-new"}),
    );
    h
}

/// An SSH session without a display or `$BROWSER`: no browser can be shown.
fn over_ssh(h: Harness) -> Harness {
    h.var("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22")
}

#[test]
fn an_existing_session_is_reported_without_a_request_or_a_browser() {
    let h = with_sso(Harness::new()).session(session(NOW + 600, Some("rt-1")));
    assert_eq!(login_sso(&h.ctx(), &args(false, false)).unwrap(), 0);
    let out = h.json();
    assert_eq!(out["logged_in"], true);
    assert_eq!(out["source"], "existing");
    assert_eq!(out["flow"], "browser");
    assert_eq!(out["user"], "alice@example.test");
    assert!(h.http.requests().is_empty());
    assert!(h.browser.opened.lock().unwrap().is_empty());
    assert!(
        h.terminal.written().is_empty(),
        "{:?}",
        h.terminal.written()
    );
}

#[test]
fn an_existing_session_in_text_says_already_logged_in() {
    let h = with_sso(Harness::new().text()).session(session(NOW + 600, Some("rt-1")));
    assert_eq!(login_sso(&h.ctx(), &args(false, false)).unwrap(), 0);
    assert_eq!(
        h.out(),
        "Already logged in as alice@example.test at https://idp.test/token\n"
    );
}

#[test]
fn an_expired_session_is_refreshed_first() {
    let h = with_sso(Harness::new().text()).session(session(NOW - 10, Some("rt-1")));
    h.http.answer(
        TOKEN_URL,
        200,
        json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 600}),
    );
    assert_eq!(login_sso(&h.ctx(), &args(false, false)).unwrap(), 0);
    assert_eq!(
        h.out(),
        "Logged in as alice@example.test at https://idp.test/token (session refreshed)\n"
    );
    let sent = h.http.token_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].field("grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(sent[0].field("refresh_token").as_deref(), Some("rt-1"));
    let stored = h.stored().unwrap();
    assert_eq!(stored.access_token.expose(), "at-2");
    assert_eq!(stored.expires_at, Some(NOW + 600));
}

#[test]
fn a_refused_refresh_falls_back_to_a_new_login() {
    let h = over_ssh(with_sso(Harness::new()))
        .set("OAUTH_SSO_DEVICE_AUTHORIZATION_URL", DEVICE_URL)
        .session(session(NOW - 10, Some("rt-dead")));
    // The refresh is refused; the device poll that follows gets tokens.
    h.http
        .answer(TOKEN_URL, 400, json!({"error": "invalid_grant"}))
        .answer(
            TOKEN_URL,
            200,
            json!({"access_token": "at-new", "token_type": "Bearer", "expires_in": 600}),
        )
        .answer(
            DEVICE_URL,
            200,
            json!({"device_code": "dc-1", "user_code": "ABCD-EFGH",
                   "verification_uri": "https://idp.test/activate", "expires_in": 300}),
        );
    assert_eq!(login_sso(&h.ctx(), &args(false, false)).unwrap(), 0);
    let out = h.json();
    assert_eq!(out["source"], "login");
    assert_eq!(out["flow"], "device");
    let grants: Vec<String> = h
        .http
        .token_requests()
        .iter()
        .filter_map(|s| s.field("grant_type"))
        .collect();
    assert_eq!(
        grants,
        [
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code"
        ]
    );
    assert_eq!(h.stored().unwrap().access_token.expose(), "at-new");
}

#[test]
fn force_logs_in_again_over_a_valid_session() {
    let h = device_ready(Harness::new()).session(session(NOW + 600, Some("rt-1")));
    assert_eq!(login_sso(&h.ctx(), &args(true, true)).unwrap(), 0);
    let out = h.json();
    assert_eq!(out["source"], "login");
    assert_eq!(out["flow"], "device");
    assert_eq!(h.stored().unwrap().access_token.expose(), "at-new");
    let device = h.http.requests_to(DEVICE_URL);
    assert_eq!(device.len(), 1);
    assert_eq!(device[0].field("client_id").as_deref(), Some("lmi-public"));
}

#[test]
fn the_device_login_polls_after_the_interval_and_stores_the_flow() {
    let h = device_ready(Harness::new().text());
    assert_eq!(login_sso(&h.ctx(), &args(false, true)).unwrap(), 0);
    assert_eq!(
        h.out(),
        "Logged in as an unnamed user at https://idp.test/token\n"
    );
    // The one poll came after the IdP's five seconds, on the fixed clock.
    assert_eq!(h.clock.now(), NOW + 5);
    let poll = &h.http.token_requests()[0];
    assert_eq!(poll.field("device_code").as_deref(), Some("dc-1"));
    assert_eq!(h.stored().unwrap().flow.as_deref(), Some("device"));
}

#[test]
fn the_device_login_tells_where_to_go_and_which_code_to_enter() {
    let h = device_ready(Harness::new());
    assert_eq!(login_sso(&h.ctx(), &args(false, true)).unwrap(), 0);
    let told = h.terminal.text();
    assert!(
        told.starts_with("To log in to https://idp.test/token, open this page"),
        "{told}"
    );
    assert!(told.contains("\n    https://idp.test/activate\n"), "{told}");
    assert!(told.contains("\n    ABCD-EFGH\n"), "{told}");
    assert!(
        !told.contains("dc-1"),
        "the device code stays private: {told}"
    );
    // --no-browser: nothing is opened, even with $BROWSER.
    assert!(h.browser.opened.lock().unwrap().is_empty());
}

#[test]
fn the_device_login_opens_the_page_with_browser_when_set() {
    let mut h = device_ready(Harness::new());
    h.browser = std::sync::Arc::new(RecordingBrowser {
        configured: true,
        ..RecordingBrowser::default()
    });
    let no_browser = LoginSsoArgs {
        no_browser: false,
        ..args(false, true)
    };
    assert_eq!(login_sso(&h.ctx(), &no_browser).unwrap(), 0);
    assert_eq!(
        *h.browser.opened.lock().unwrap(),
        ["https://idp.test/activate"]
    );
}

#[test]
fn auto_over_ssh_chooses_the_device_flow() {
    let h = over_ssh(device_ready(Harness::new()));
    assert_eq!(login_sso(&h.ctx(), &args(false, false)).unwrap(), 0);
    assert_eq!(h.json()["flow"], "device");
    assert_eq!(h.http.requests_to(DEVICE_URL).len(), 1);
}

#[test]
fn the_device_flow_without_an_endpoint_is_a_configuration_error() {
    let h = with_sso(Harness::new());
    let e = error_of(login_sso(&h.ctx(), &args(false, true)));
    assert_eq!(e.kind(), Kind::Config);
    assert!(e.message().contains("--device"), "{}", e.message());
    assert!(e
        .hint()
        .unwrap()
        .contains("OAUTH_SSO_DEVICE_AUTHORIZATION_URL"));
    assert_eq!(h.out(), "");
    assert!(h.stored().is_none());
}

#[test]
fn a_denied_device_login_stores_nothing_and_keeps_the_old_session() {
    let h = with_sso(Harness::new())
        .set("OAUTH_SSO_DEVICE_AUTHORIZATION_URL", DEVICE_URL)
        .session(session(NOW + 600, Some("rt-1")));
    h.http.answer(
        DEVICE_URL,
        200,
        json!({"device_code": "dc-1", "user_code": "ABCD-EFGH",
               "verification_uri": "https://idp.test/activate", "expires_in": 300}),
    );
    h.http
        .answer(TOKEN_URL, 400, json!({"error": "access_denied"}));
    let e = error_of(login_sso(&h.ctx(), &args(true, true)));
    assert_eq!(e.kind(), Kind::Auth);
    assert!(e.message().contains("denied"), "{}", e.message());
    assert_eq!(h.out(), "");
    assert_eq!(h.stored().unwrap().access_token.expose(), "at-1");
}

#[test]
fn a_device_endpoint_refusing_the_client_is_an_auth_error_with_a_hint() {
    let h = with_sso(Harness::new()).set("OAUTH_SSO_DEVICE_AUTHORIZATION_URL", DEVICE_URL);
    h.http
        .answer(DEVICE_URL, 401, json!({"error": "unauthorized_client"}));
    let e = error_of(login_sso(&h.ctx(), &args(false, true)));
    assert_eq!(e.kind(), Kind::Auth);
    assert!(
        e.message().contains("unauthorized_client"),
        "{}",
        e.message()
    );
    assert!(e.hint().unwrap().contains("OAUTH_SSO_FLOW=browser"));
    assert!(h.http.token_requests().is_empty());
}

#[test]
fn a_store_that_cannot_keep_the_session_fails_before_any_request() {
    let mut h = device_ready(Harness::new());
    h.store = MemoryStore::failing(true);
    let e = error_of(login_sso(&h.ctx(), &args(false, true)));
    assert_eq!(e.kind(), Kind::Auth);
    assert!(e.message().contains("locked"), "{}", e.message());
    assert!(h.http.requests_to(DEVICE_URL).is_empty());
    assert_eq!(h.out(), "");
}

#[test]
fn logout_without_sso_configured_has_nothing_to_do() {
    let h = Harness::new().text();
    assert_eq!(logout_sso(&h.ctx()).unwrap(), 0);
    assert_eq!(h.out(), "Not logged in; nothing to do\n");
    assert!(h.http.requests().is_empty());
}

#[test]
fn logout_without_a_session_reports_not_logged_in() {
    let h = with_sso(Harness::new());
    assert_eq!(logout_sso(&h.ctx()).unwrap(), 0);
    assert_eq!(h.json(), json!({"logged_out": true, "revoked": false}));
    assert!(h.http.requests().is_empty());
}

#[test]
fn logout_without_a_revocation_endpoint_forgets_the_session() {
    let h = with_sso(Harness::new().text()).session(session(NOW + 600, Some("rt-1")));
    assert_eq!(logout_sso(&h.ctx()).unwrap(), 0);
    assert_eq!(h.out(), "Logged out\n");
    assert!(h.stored().is_none());
}

#[test]
fn logout_revokes_the_refresh_token_at_the_idp() {
    let h = with_sso(Harness::new().text())
        .set("OAUTH_SSO_ISSUER", "https://idp.test")
        .session(oidc_session(NOW + 600, Some("rt-1")));
    h.http.answer(
        "https://idp.test/.well-known/oauth-authorization-server",
        200,
        json!({"issuer": "https://idp.test", "token_endpoint": TOKEN_URL,
               "authorization_endpoint": "https://idp.test/authorize",
               "revocation_endpoint": REVOKE_URL, "jwks_uri": "https://idp.test/jwks"}),
    );
    h.http.answer(REVOKE_URL, 200, json!({}));
    assert_eq!(logout_sso(&h.ctx()).unwrap(), 0);
    assert_eq!(h.out(), "Logged out (the session was revoked at the IdP)\n");
    let revoked = h.http.requests_to(REVOKE_URL);
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].field("token").as_deref(), Some("rt-1"));
    assert!(h.stored().is_none());
}

#[test]
fn logout_forgets_the_session_when_revocation_fails() {
    let h = with_sso(Harness::new())
        .set("OAUTH_SSO_ISSUER", "https://idp.test")
        .session(oidc_session(NOW + 600, Some("rt-1")));
    h.http.answer(
        "https://idp.test/.well-known/oauth-authorization-server",
        200,
        json!({"issuer": "https://idp.test", "token_endpoint": TOKEN_URL,
               "revocation_endpoint": REVOKE_URL}),
    );
    h.http.answer(REVOKE_URL, 503, json!({}));
    assert_eq!(logout_sso(&h.ctx()).unwrap(), 0);
    assert_eq!(h.json(), json!({"logged_out": true, "revoked": false}));
    assert_eq!(h.http.requests_to(REVOKE_URL).len(), 1);
    assert!(h.stored().is_none());
}

/// SSO whose browser login comes back with code `c-1`, and an IdP that
/// redeems it.
fn browser_ready(h: Harness) -> Harness {
    let mut h = with_sso(h).set("OAUTH_SSO_FLOW", "browser");
    h.approve = Some("c-1");
    h.http.answer(
        TOKEN_URL,
        200,
        json!({"access_token": "at-browser", "token_type": "Bearer", "expires_in": 600,
               "refresh_token": "rt-browser"}),
    );
    h
}

#[test]
fn the_browser_login_opens_the_authorization_url_and_redeems_the_code() {
    let h = browser_ready(Harness::new());
    let open = LoginSsoArgs {
        no_browser: false,
        ..args(false, false)
    };
    assert_eq!(login_sso(&h.ctx(), &open).unwrap(), 0);
    let out = h.json();
    assert_eq!(out["source"], "login");
    assert_eq!(out["flow"], "browser");
    let opened = h.browser.opened.lock().unwrap().clone();
    assert_eq!(opened.len(), 1);
    let url = url::Url::parse(&opened[0]).unwrap();
    assert_eq!(url.path(), "/authorize");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "lmi-public");
    assert_eq!(query["code_challenge_method"], "S256");
    let redeemed = &h.http.token_requests()[0];
    assert_eq!(
        redeemed.field("grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(redeemed.field("code").as_deref(), Some("c-1"));
    assert_eq!(
        redeemed.field("redirect_uri"),
        Some(query["redirect_uri"].clone())
    );
    assert!(redeemed.field("code_verifier").is_some());
    let stored = h.stored().unwrap();
    assert_eq!(stored.access_token.expose(), "at-browser");
    assert_eq!(stored.flow.as_deref(), Some("browser"));
}

#[test]
fn the_browser_login_shows_the_url_and_says_the_browser_opened() {
    let h = browser_ready(Harness::new());
    let open = LoginSsoArgs {
        no_browser: false,
        ..args(false, false)
    };
    assert_eq!(login_sso(&h.ctx(), &open).unwrap(), 0);
    let notices = h.terminal.notices();
    let opened = h.browser.opened.lock().unwrap()[0].clone();
    assert_eq!(
        notices,
        [
            format!("To log in to https://idp.test/token, open this URL in a browser:\n\n    {opened}\n"),
            "Opened your browser; finish the login there.".to_owned(),
        ]
    );
}

#[test]
fn auto_with_a_display_chooses_the_browser_even_with_a_device_endpoint() {
    let mut h = with_sso(Harness::new())
        .set("OAUTH_SSO_DEVICE_AUTHORIZATION_URL", DEVICE_URL)
        .var("DISPLAY", ":0");
    h.approve = Some("c-1");
    h.http.answer(
        TOKEN_URL,
        200,
        json!({"access_token": "at-browser", "token_type": "Bearer", "expires_in": 600}),
    );
    let open = LoginSsoArgs {
        no_browser: false,
        ..args(false, false)
    };
    assert_eq!(login_sso(&h.ctx(), &open).unwrap(), 0);
    assert_eq!(h.json()["flow"], "browser");
    assert!(h.http.requests_to(DEVICE_URL).is_empty());
}

#[test]
fn a_refused_code_stores_nothing_and_says_how_to_retry() {
    let mut h = with_sso(Harness::new()).set("OAUTH_SSO_FLOW", "browser");
    h.approve = Some("c-bad");
    h.http
        .answer(TOKEN_URL, 400, json!({"error": "invalid_grant"}));
    let open = LoginSsoArgs {
        no_browser: false,
        ..args(false, false)
    };
    let e = error_of(login_sso(&h.ctx(), &open));
    assert_eq!(e.kind(), Kind::Auth);
    assert!(
        e.message()
            .starts_with("exchanging the authorization code failed"),
        "{}",
        e.message()
    );
    assert!(e.hint().unwrap().starts_with("run lmi login sso again"));
    assert!(h.stored().is_none());
    assert_eq!(h.out(), "");
}
