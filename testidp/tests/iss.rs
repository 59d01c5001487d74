//! RFC 9207 over real sockets: the `iss` parameter of `/authorize`
//! redirects (omitted, correct, wrong, any value; on errors too), the
//! metadata flag, the per-code redemption counts, and the scripted browser
//! rewriting or removing `iss` before following the redirect.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::mpsc;

use common::{get, post_form, query_param};
use lmi_testidp::browser::{self, exit, BrowserOptions, ExtraOptions, IssEdit};
use lmi_testidp::{pkce_challenge, AuthorizationIss, TestServer};

const VERIFIER: &str = "iss-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn authorize_url(srv: &TestServer, redirect_uri: &str) -> String {
    let mut u = url::Url::parse(&srv.authorize_url()).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "lmi-public")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "st")
        .append_pair("code_challenge", &pkce_challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    u.to_string()
}

/// The redirect `/authorize` answers with.
fn callback(srv: &TestServer) -> String {
    let r = get(&authorize_url(srv, REDIRECT), None);
    assert_eq!(r.status, 302, "{}", r.body);
    r.header("location").unwrap().to_string()
}

#[test]
fn iss_on_the_authorization_response() {
    let srv = TestServer::start_default().unwrap();
    assert!(srv
        .metadata()
        .get("authorization_response_iss_parameter_supported")
        .is_none());
    assert_eq!(query_param(&callback(&srv), "iss"), None);

    srv.set(|b| {
        b.authorization_iss = AuthorizationIss::Correct;
        b.iss_parameter_supported = Some(true);
    });
    assert_eq!(
        srv.metadata()["authorization_response_iss_parameter_supported"],
        true
    );
    let location = callback(&srv);
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(srv.idp_url())
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("st"));
    assert_eq!(
        srv.last_authorization_response().as_deref(),
        Some(location.as_str())
    );

    srv.set(|b| {
        b.authorization_iss = AuthorizationIss::Wrong;
        b.iss_parameter_supported = Some(false);
    });
    assert_eq!(
        srv.metadata()["authorization_response_iss_parameter_supported"],
        false
    );
    assert_eq!(
        query_param(&callback(&srv), "iss").as_deref(),
        Some("https://mix-up.example.test")
    );
    srv.set(|b| b.authorization_iss = AuthorizationIss::Value("x y".into()));
    assert_eq!(query_param(&callback(&srv), "iss").as_deref(), Some("x y"));

    // Error responses carry it too.
    srv.set(|b| {
        b.authorization_iss = AuthorizationIss::Correct;
        b.authorize_error = Some(("access_denied".into(), "no".into()));
    });
    let location = callback(&srv);
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(srv.idp_url())
    );
}

#[test]
fn redemptions_are_counted_per_code() {
    let srv = TestServer::start_default().unwrap();
    let first = query_param(&callback(&srv), "code").unwrap();
    let second = query_param(&callback(&srv), "code").unwrap();
    assert_eq!(srv.issued_codes(), vec![first.clone(), second.clone()]);
    assert_eq!(srv.unredeemed_codes(), vec![first.clone(), second.clone()]);
    assert_eq!(srv.code_redemptions(&first), 0);

    let redeem = |code: &str| {
        post_form(
            &srv.token_url(),
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "lmi-public"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
    };
    assert_eq!(redeem(&first).status, 200);
    assert_eq!(redeem(&first).status, 400, "single use");
    assert_eq!(srv.code_redemptions(&first), 2);
    assert_eq!(srv.code_redemptions(&second), 0);
    assert_eq!(srv.unredeemed_codes(), vec![second]);
}

/// A loopback callback that reports the `iss` it got and answers 200.
fn callback_listener() -> (String, mpsc::Receiver<Option<String>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(req) = server.recv() {
            let url = format!("http://127.0.0.1{}", req.url());
            tx.send(query_param(&url, "iss")).unwrap();
            req.respond(tiny_http::Response::from_string("ok")).unwrap();
        }
    });
    (format!("http://127.0.0.1:{port}/callback"), rx)
}

#[test]
fn the_browser_edits_iss_before_following() {
    let srv = TestServer::start_default().unwrap();
    srv.set(|b| b.authorization_iss = AuthorizationIss::Correct);
    let cases = [
        (IssEdit::Keep, Some(srv.idp_url().to_string())),
        (
            IssEdit::Set("https://attacker.example".into()),
            Some("https://attacker.example".to_string()),
        ),
        (IssEdit::Remove, None),
    ];
    for (edit, expected) in cases {
        let (redirect, got) = callback_listener();
        let extra = ExtraOptions {
            iss: edit.clone(),
            ..ExtraOptions::default()
        };
        let code = browser::run_with(
            &authorize_url(&srv, &redirect),
            &BrowserOptions::default(),
            &extra,
        );
        assert_eq!(code, exit::OK, "{edit:?}");
        assert_eq!(got.recv().unwrap(), expected, "{edit:?}");
    }

    // Adding one where the IdP sent none, from the command line.
    srv.set(|b| b.authorization_iss = AuthorizationIss::Omit);
    let (redirect, got) = callback_listener();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_testidp"))
        .args([
            "browser",
            "--set-iss",
            "added",
            &authorize_url(&srv, &redirect),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(got.recv().unwrap().as_deref(), Some("added"));
    // The codes were never redeemed (the listener is not a client).
    assert_eq!(srv.unredeemed_codes().len(), 4);
}
