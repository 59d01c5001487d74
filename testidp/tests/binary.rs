//! Tests of the `testidp` binary: `serve` prints its URLs and serves;
//! `browser` follows an authorization redirect to a loopback callback and,
//! with `--forge-state`, checks that a forged state is rejected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;

use lmi_testidp::{pkce_challenge, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_testidp");

#[test]
fn serve_prints_urls_and_exits_on_stdin_eof() {
    let mut child = Command::new(BIN)
        .args(["serve", "--jwt", "--lifetime", "120", "--exit-on-stdin-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let urls: serde_json::Value = serde_json::from_str(&line).unwrap();
    let token_url = urls["token_url"].as_str().unwrap();
    assert_eq!(
        token_url,
        format!("{}/token", urls["idp"].as_str().unwrap())
    );
    let r = common::post_form(
        token_url,
        Some(&common::basic("lmi-client", "lmi-secret")),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(r.json()["expires_in"], 120);
    assert_eq!(
        r.json()["access_token"]
            .as_str()
            .unwrap()
            .split('.')
            .count(),
        3
    );
    let who = common::get(
        &format!("{}/whoami", urls["api"].as_str().unwrap()),
        r.json()["access_token"].as_str(),
    );
    assert_eq!(who.status, 200);

    drop(child.stdin.take()); // EOF
    assert!(child.wait().unwrap().success());
}

/// A stand-in for lmi's loopback listener: `/callback` answers 200 for the
/// expected state (or any state when `check_state` is false), else 400.
fn callback_server(expected_state: &str, check_state: bool) -> (String, thread::JoinHandle<()>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let expected = expected_state.to_string();
    let handle = thread::spawn(move || {
        // The forged request (if any) and the real one, or just the real one.
        for req in server.incoming_requests() {
            let url = format!("http://127.0.0.1{}", req.url());
            let state = common::query_param(&url, "state");
            let ok = !check_state || state.as_deref() == Some(expected.as_str());
            let status = if ok { 200 } else { 400 };
            let has_code = common::query_param(&url, "code").is_some();
            req.respond(
                tiny_http::Response::from_string("You may close this window.")
                    .with_status_code(status),
            )
            .unwrap();
            if ok && has_code {
                break;
            }
        }
    });
    (format!("http://127.0.0.1:{port}/callback"), handle)
}

fn authorization_url(srv: &TestServer, redirect_uri: &str, state: &str) -> String {
    let mut u = url::Url::parse(&srv.authorize_url()).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "lmi-public")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair(
            "code_challenge",
            &pkce_challenge("verifier-verifier-verifier-verifier-1234"),
        )
        .append_pair("code_challenge_method", "S256");
    u.to_string()
}

#[test]
fn browser_follows_to_callback() {
    let srv = TestServer::start_default().unwrap();
    let (callback, handle) = callback_server("good-state", true);
    let status = Command::new(BIN)
        .args(["browser", &authorization_url(&srv, &callback, "good-state")])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    handle.join().unwrap();
    assert_eq!(srv.authorize_requests(), 1);
}

#[test]
fn browser_forge_state() {
    let srv = TestServer::start_default().unwrap();
    let (callback, handle) = callback_server("good-state", true);
    let status = Command::new(BIN)
        .args([
            "browser",
            "--forge-state",
            &authorization_url(&srv, &callback, "good-state"),
        ])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    handle.join().unwrap();

    // A callback that accepts any state fails the check.
    let (callback, handle) = callback_server("good-state", false);
    let status = Command::new(BIN)
        .args([
            "browser",
            "--forge-state",
            &authorization_url(&srv, &callback, "good-state"),
        ])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    // The forged request carried a code, so the listener already stopped.
    handle.join().unwrap();
}

#[test]
fn browser_reports_non_2xx() {
    let srv = TestServer::start_default().unwrap();
    // Unknown client: the IdP answers 400 without redirecting.
    let url = format!(
        "{}?response_type=code&client_id=nobody",
        srv.authorize_url()
    );
    let status = Command::new(BIN).args(["browser", &url]).status().unwrap();
    assert_eq!(status.code(), Some(1));
}
