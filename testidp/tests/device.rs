//! The device authorization grant (RFC 8628) over real sockets: metadata,
//! the device authorization response and its failure modes, polls that are
//! pending, slowed down, denied, expired or failing, approval by a user agent
//! at the verification page (library helper and `testidp browser`), and the
//! tokens issued at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{basic, get, post_form, Resp};
use jsonwebtoken::{Algorithm, Validation};
use lmi_testidp::browser;
use lmi_testidp::{
    DeviceAuthorizationFailure, DeviceDenial, PollFailure, TestServer, DEVICE_CODE_GRANT,
};
use serde_json::Value;

fn authorize_device(srv: &TestServer, client: &str, scope: &str) -> Resp {
    post_form(
        &srv.device_authorization_url(),
        None,
        &[("client_id", client), ("scope", scope)],
    )
}

fn start(srv: &TestServer) -> Value {
    let r = authorize_device(srv, "lmi-public", "openid profile");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn poll(srv: &TestServer, device_code: &str) -> Resp {
    post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", "lmi-public"),
            ("device_code", device_code),
        ],
    )
}

fn poll_error(srv: &TestServer, device_code: &str) -> String {
    let r = poll(srv, device_code);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.json()["error_description"].is_string());
    r.json()["error"].as_str().unwrap().to_string()
}

#[test]
fn metadata_advertises_the_endpoint_unless_told_not_to() {
    let srv = TestServer::start_default().unwrap();
    let m = srv.metadata();
    assert_eq!(
        m["device_authorization_endpoint"],
        srv.device_authorization_url()
    );
    assert!(m["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&Value::from(DEVICE_CODE_GRANT)));
    srv.set(|b| b.device_endpoint_in_metadata = false);
    let r = get(
        &format!("{}/.well-known/openid-configuration", srv.idp_url()),
        None,
    );
    assert!(r.json().get("device_authorization_endpoint").is_none());
    // Still served.
    assert_eq!(start(&srv)["expires_in"], 600);
}

#[test]
fn device_authorization_response_fields() {
    let srv = TestServer::start_default().unwrap();
    let d = start(&srv);
    let code = d["user_code"].as_str().unwrap();
    assert_eq!(code.len(), 9);
    assert_eq!(&code[4..5], "-");
    assert!(code
        .chars()
        .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)));
    assert!(d["device_code"].as_str().unwrap().len() >= 32);
    assert_eq!(d["verification_uri"], srv.device_verification_url());
    assert_eq!(
        d["verification_uri_complete"],
        format!("{}?user_code={code}", srv.device_verification_url())
    );
    assert_eq!(d["expires_in"], 600);
    assert_eq!(d["interval"], 5);
    assert_eq!(srv.device_authorization_requests(), 1);
    assert_eq!(srv.last_user_code().as_deref(), Some(code));
    let last = srv.last_device_authorization_request().unwrap();
    assert_eq!(last.param("scope"), Some("openid profile"));

    srv.set(|b| {
        b.device_interval = None;
        b.device_verification_uri_complete = false;
        b.device_expires_in = 30;
    });
    let d = start(&srv);
    assert!(d.get("interval").is_none());
    assert!(d.get("verification_uri_complete").is_none());
    assert_eq!(d["expires_in"], 30);
    assert_eq!(srv.device_user_codes().len(), 2);

    // Confidential clients authenticate; unknown ones are refused.
    let r = post_form(
        &srv.device_authorization_url(),
        Some(&basic("lmi-client", "lmi-secret")),
        &[("scope", "openid")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = authorize_device(&srv, "nobody", "openid");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
}

#[test]
fn device_authorization_failures() {
    let srv = TestServer::start_default().unwrap();
    let cases: [(DeviceAuthorizationFailure, u16, &str); 3] = [
        (
            DeviceAuthorizationFailure::InvalidClient,
            401,
            "invalid_client",
        ),
        (
            DeviceAuthorizationFailure::InvalidScope,
            400,
            "invalid_scope",
        ),
        (DeviceAuthorizationFailure::ServerError, 500, ""),
    ];
    for (failure, status, error) in cases {
        srv.set(|b| b.device_authorization_failure = Some(failure));
        let r = authorize_device(&srv, "lmi-public", "openid");
        assert_eq!(r.status, status);
        if !error.is_empty() {
            assert_eq!(r.json()["error"], error);
        }
    }
    srv.set(|b| b.device_authorization_failure = Some(DeviceAuthorizationFailure::NotJson));
    let r = authorize_device(&srv, "lmi-public", "openid");
    assert_eq!((r.status, r.body.as_str()), (200, "<html>oops</html>"));

    srv.set(|b| {
        b.device_authorization_failure = Some(DeviceAuthorizationFailure::MissingField(
            "device_code".into(),
        ))
    });
    let d = authorize_device(&srv, "lmi-public", "openid").json();
    assert!(d.get("device_code").is_none());
    assert!(d["user_code"].is_string());

    srv.set(|b| {
        b.device_authorization_failure =
            Some(DeviceAuthorizationFailure::WrongType("interval".into()))
    });
    assert_eq!(
        authorize_device(&srv, "lmi-public", "openid").json()["interval"],
        "5"
    );
    srv.set(|b| {
        b.device_authorization_failure =
            Some(DeviceAuthorizationFailure::WrongType("user_code".into()))
    });
    assert_eq!(
        authorize_device(&srv, "lmi-public", "openid").json()["user_code"],
        42
    );
    assert_eq!(srv.device_authorization_requests(), 7);
}

#[test]
fn pending_then_tokens_without_a_nonce() {
    let srv = TestServer::start_default().unwrap();
    srv.set(|b| b.device_pending_polls = 2);
    let d = start(&srv);
    let device_code = d["device_code"].as_str().unwrap();
    assert_eq!(poll_error(&srv, device_code), "authorization_pending");
    assert_eq!(poll_error(&srv, device_code), "authorization_pending");
    let r = poll(&srv, device_code);
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "openid profile");
    assert!(t["refresh_token"].is_string());

    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&["lmi-public"]);
    v.set_issuer(&[srv.idp_url()]);
    let id = jsonwebtoken::decode::<Value>(
        t["id_token"].as_str().unwrap(),
        &lmi_testidp::decoding_key(),
        &v,
    )
    .unwrap()
    .claims;
    assert_eq!(id["sub"], "alice-sub");
    assert!(id.get("nonce").is_none(), "{id}");

    let who = get(
        &format!("{}/whoami", srv.api_url()),
        t["access_token"].as_str(),
    );
    assert_eq!(who.json()["sub"], "alice-sub");

    // Single use.
    assert_eq!(poll_error(&srv, device_code), "invalid_grant");
    assert_eq!(srv.device_polls(), 4);
    assert_eq!(srv.token_requests_by_grant(DEVICE_CODE_GRANT), 4);
    let times = srv.device_poll_times();
    assert_eq!(times.len(), 4);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));

    // The refresh token goes on giving ID tokens; a scope without openid
    // gives none.
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "lmi-public"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
    );
    assert!(r.json()["id_token"].is_string());
    let d = authorize_device(&srv, "lmi-public", "read").json();
    srv.set(|b| b.device_pending_polls = 0);
    let t = poll(&srv, d["device_code"].as_str().unwrap()).json();
    assert!(t.get("id_token").is_none());
}

#[test]
fn slow_down_denial_and_expiry() {
    let srv = TestServer::start_default().unwrap();
    srv.set(|b| {
        b.device_pending_polls = 1;
        b.device_slow_down_polls = vec![2, 3];
    });
    let d = start(&srv);
    let code = d["device_code"].as_str().unwrap();
    assert_eq!(poll_error(&srv, code), "authorization_pending");
    assert_eq!(poll_error(&srv, code), "slow_down");
    assert_eq!(poll_error(&srv, code), "slow_down");
    assert_eq!(poll(&srv, code).status, 200);

    srv.set(|b| {
        b.device_pending_polls = 0;
        b.device_slow_down_polls.clear();
        b.device_denial = Some(DeviceDenial::AccessDenied);
    });
    let code = start(&srv)["device_code"].as_str().unwrap().to_string();
    assert_eq!(poll_error(&srv, &code), "access_denied");
    srv.set(|b| b.device_denial = Some(DeviceDenial::ExpiredToken));
    assert_eq!(poll_error(&srv, &code), "expired_token");

    // A device code past its expires_in.
    srv.set(|b| {
        b.device_denial = None;
        b.device_expires_in = 0;
    });
    let code = start(&srv)["device_code"].as_str().unwrap().to_string();
    assert_eq!(poll_error(&srv, &code), "expired_token");

    // Another client's device code.
    srv.set(|b| b.device_expires_in = 600);
    let code = start(&srv)["device_code"].as_str().unwrap().to_string();
    let r = post_form(
        &srv.token_url(),
        Some(&basic("lmi-client", "lmi-secret")),
        &[("grant_type", DEVICE_CODE_GRANT), ("device_code", &code)],
    );
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", "lmi-public"),
        ],
    );
    assert_eq!(r.json()["error"], "invalid_request");
}

#[test]
fn failing_polls_then_success() {
    let srv = TestServer::start_default().unwrap();
    srv.set(|b| b.device_failing_polls = 2);
    let code = start(&srv)["device_code"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let r = poll(&srv, &code);
        assert_eq!(r.status, 503, "{}", r.body);
    }
    assert_eq!(poll(&srv, &code).status, 200);

    srv.set(|b| {
        b.device_failing_polls = 1;
        b.device_poll_failure = PollFailure::Close;
    });
    let code = start(&srv)["device_code"].as_str().unwrap().to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let closed = agent
        .post(&srv.token_url())
        .send_form([
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", "lmi-public"),
            ("device_code", code.as_str()),
        ])
        .unwrap_err();
    assert!(
        matches!(
            closed,
            ureq::Error::Io(_) | ureq::Error::Protocol(_) | ureq::Error::ConnectionFailed
        ),
        "{closed:?}"
    );
    assert_eq!(poll(&srv, &code).status, 200);
    assert_eq!(srv.device_polls(), 5);
}

#[test]
fn a_user_agent_approves_or_denies_at_the_verification_page() {
    let srv = TestServer::start_default().unwrap();
    srv.set(|b| b.device_auto_approve = false);
    let d = start(&srv);
    let code = d["device_code"].as_str().unwrap();
    assert_eq!(poll_error(&srv, code), "authorization_pending");
    assert_eq!(poll_error(&srv, code), "authorization_pending");

    let page = get(d["verification_uri_complete"].as_str().unwrap(), None);
    assert_eq!(page.status, 200);
    let user_code = d["user_code"].as_str().unwrap();
    assert!(page.body.contains(user_code), "{}", page.body);
    assert!(page
        .body
        .contains("<form method=\"post\" action=\"/device\">"));

    let status =
        browser::confirm_device(d["verification_uri_complete"].as_str().unwrap(), None, true)
            .unwrap();
    assert_eq!(status, 200);
    assert_eq!(poll(&srv, code).status, 200);

    // verification_uri + the code typed in; refusing.
    let d = start(&srv);
    let status = browser::confirm_device(
        d["verification_uri"].as_str().unwrap(),
        Some(&d["user_code"].as_str().unwrap().to_lowercase()),
        false,
    )
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        poll_error(&srv, d["device_code"].as_str().unwrap()),
        "access_denied"
    );

    // A wrong code is refused; the test can also approve directly.
    let r = post_form(
        &srv.device_verification_url(),
        None,
        &[("user_code", "BBBB-BBBB")],
    );
    assert_eq!(r.status, 400);
    let d = start(&srv);
    assert!(srv.approve_device(d["user_code"].as_str().unwrap()));
    assert!(!srv.approve_device("nope"));
    assert_eq!(poll(&srv, d["device_code"].as_str().unwrap()).status, 200);
}

#[test]
fn testidp_browser_confirms_a_device_code() {
    let srv = TestServer::start_default().unwrap();
    srv.set(|b| b.device_auto_approve = false);
    let d = start(&srv);
    let out = Command::new(env!("CARGO_BIN_EXE_testidp"))
        .args([
            "browser",
            "--confirm-device",
            "--expect-body",
            "Device%20approved",
            d["verification_uri_complete"].as_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(poll(&srv, d["device_code"].as_str().unwrap()).status, 200);

    // Without a code in the URL and none given: failure.
    let out = Command::new(env!("CARGO_BIN_EXE_testidp"))
        .args([
            "browser",
            "--confirm-device",
            d["verification_uri"].as_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
