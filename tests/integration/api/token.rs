//! The token on API calls: cold and warm cache, a 401 answered by one new
//! token and one retry, a token another run replaced meanwhile, and the
//! token never logged.

use std::process::{Child, Stdio};
use std::time::Duration;

use lmi_testidp::TestServer;

use super::{cached_token, sandbox, sandbox_with, server};
use crate::support::poll_until;

/// Waits (with a deadline) until `n` requests of `child` wait in the test
/// API's `/hold` latch; fails at once if `child` ends first.
#[track_caller]
fn wait_held(srv: &TestServer, child: &mut Child, n: usize) {
    let held = poll_until(Duration::from_secs(30), || {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("lmi ended ({status}) before {n} request(s) were held");
        }
        (srv.held_requests() == n).then_some(())
    });
    if held.is_err() {
        let _ = child.kill();
        panic!("lmi never had {n} request(s) held by /hold");
    }
}

#[test]
fn api_cold_then_warm_cache() {
    let srv = server();
    let sb = sandbox(&srv);
    let cold = sb.run(&["api", "/whoami"]);
    cold.assert_ok();
    assert_eq!(cold.json()["client_id"], "lmi-client");
    // Pretty-printed: the server sends one compact line.
    assert!(cold.stdout.starts_with("{\n  \""), "{}", cold.stdout);
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.api_requests(), 1);
    let req = srv.last_api_request().unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, "/whoami");
    assert_eq!(
        req.authorization().unwrap(),
        format!("Bearer {}", cached_token(&sb))
    );
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(req.header("content-type"), None);

    srv.reset_counts();
    let warm = sb.run(&["api", "/whoami"]);
    warm.assert_ok();
    assert_eq!(warm.stdout, cold.stdout);
    assert_eq!(
        srv.token_requests(),
        0,
        "a warm cache makes no token request"
    );
    assert_eq!(srv.api_requests(), 1);
}

#[test]
fn api_server_side_invalidation_retries_once() {
    let srv = server();
    let sb = sandbox(&srv);
    sb.run(&["api", "/whoami"]).assert_ok();
    let old = cached_token(&sb);
    srv.reset_counts();
    srv.invalidate_all_tokens();

    let out = sb.run(&["api", "/whoami"]);
    out.assert_ok();
    assert_eq!(out.json()["client_id"], "lmi-client");
    assert_eq!(srv.api_requests(), 2, "the rejected request and one retry");
    assert_eq!(srv.token_requests(), 1, "one new token");
    let new = cached_token(&sb);
    assert_ne!(new, old, "the rejected token was replaced in the cache");
    assert_eq!(
        srv.last_api_request().unwrap().authorization().unwrap(),
        format!("Bearer {new}")
    );
}

#[test]
fn api_persistent_401_is_an_auth_error() {
    let srv = server();
    let sb = sandbox(&srv);
    srv.set(|b| b.api_always_401 = true);
    let out = sb.run(&["api", "/whoami"]);
    out.assert_code(4);
    assert_eq!(srv.api_requests(), 2, "exactly one retry");
    assert_eq!(
        srv.token_requests(),
        2,
        "the first token and one replacement"
    );
    let error = out.error_line().expect("error line");
    assert!(error.contains("401"), "{error}");
    assert!(error.contains("invalid_token"), "{error}");
    assert!(
        error.contains("The access token is invalid or expired"),
        "{error}"
    );
    // The server's body is still printed.
    assert_eq!(out.json()["error"], "invalid_token");
}

/// Run 1 sends token A; while its request is in flight the server revokes A
/// and another run replaces the cache with a valid token B. When run 1 gets
/// its 401 it must keep B (not discard it and fetch a third token) and retry
/// with B.
#[test]
fn api_token_replaced_by_another_run_is_kept() {
    let srv = server();
    let sb = sandbox(&srv);
    sb.run(&["auth", "token"]).assert_ok();
    let token_a = cached_token(&sb);
    srv.reset_counts();

    // `/hold` accepts A on arrival and answers only when released, checking
    // the token again then: run 1 is in flight for as long as the other run
    // needs, however slow the machine.
    let mut child = sb
        .cmd(&["api", "/hold"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lmi");
    wait_held(&srv, &mut child, 1);
    assert_eq!(
        srv.last_api_request().unwrap().authorization().unwrap(),
        format!("Bearer {token_a}")
    );
    srv.invalidate_all_tokens();
    sb.run(&["auth", "clear"]).assert_ok();
    sb.run(&["auth", "token"]).assert_ok();
    let token_b = cached_token(&sb);
    assert_ne!(token_a, token_b);
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.api_requests(), 1);

    // A is now revoked: run 1 gets its 401 and retries, held again.
    assert_eq!(srv.release_held(), 1);
    wait_held(&srv, &mut child, 1);
    assert_eq!(srv.api_requests(), 2, "the 401 and one retry");
    assert_eq!(
        srv.last_api_request().unwrap().authorization().unwrap(),
        format!("Bearer {token_b}"),
        "the retry carries B"
    );
    assert_eq!(srv.release_held(), 1);

    let out: crate::support::Outcome = child.wait_with_output().expect("wait lmi").into();
    out.assert_ok();
    assert_eq!(out.json()["client_id"], "lmi-client");
    assert_eq!(srv.api_requests(), 2);
    assert_eq!(srv.token_requests(), 1, "token B was kept, no third token");
    assert_eq!(cached_token(&sb), token_b);
}

#[test]
fn api_token_is_never_logged() {
    let srv = server();
    let sb = sandbox_with(&srv, "LOG_LEVEL=debug\n");
    let first = sb.run(&["-vv", "api", "/whoami"]);
    first.assert_ok();
    let token_a = cached_token(&sb);
    // The 401-retry path logs more: cover it too.
    srv.invalidate_all_tokens();
    let second = sb.run(&["-vv", "api", "/redirect-same"]);
    second.assert_ok();
    let token_b = cached_token(&sb);
    assert_ne!(token_a, token_b);
    second.assert_stderr_contains("/whoami");
    second.assert_stderr_contains("401");
    let log = std::fs::read_to_string(sb.log_file()).expect("log file");
    assert!(log.contains("/redirect-same"), "{log}");
    for text in [&first.stderr, &second.stderr, &log] {
        for token in [&token_a, &token_b] {
            assert!(!text.contains(token.as_str()), "token leaked:\n{text}");
        }
        assert!(!text.contains("Bearer "), "Authorization leaked:\n{text}");
    }
}
