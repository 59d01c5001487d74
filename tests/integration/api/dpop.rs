//! `lmi api` and `lmi auth proof` with DPoP-bound tokens (SPEC §4.3)
//! against the in-repo API, which verifies each proof as a resource
//! server: signature, `htm`, `htu`, `iat`, a fresh `jti`, `ath`, the key
//! against the token's `cnf.jkt`, and its own nonce on demand.

use lmi_testidp::{DpopBehaviour, Options, TestServer};

use super::{cached_token, sandbox_with};
use crate::support::Sandbox;

fn dpop_server(tweak: impl FnOnce(&mut DpopBehaviour)) -> TestServer {
    let mut dpop = DpopBehaviour::for_client("lmi-client");
    tweak(&mut dpop);
    TestServer::start(Options {
        jwt_access_tokens: true,
        dpop,
        ..Options::default()
    })
    .expect("test IdP")
}

fn dpop_sandbox(srv: &TestServer) -> Sandbox {
    sandbox_with(srv, "OAUTH_DPOP=true\n")
}

/// GET `url` with these headers, outside lmi (as curl would).
fn get(url: &str, headers: &[(&str, &str)]) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let mut req = agent.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.call().unwrap().status().as_u16()
}

#[test]
fn lmi_api_sends_the_token_as_dpop_with_a_proof_the_api_verified() {
    let srv = dpop_server(|_| {});
    let sb = dpop_sandbox(&srv);
    let out = sb.run(&["api", "/whoami"]);
    out.assert_ok();
    assert_eq!(out.json()["client_id"], "lmi-client");
    let sent = srv.last_api_request().unwrap();
    assert!(sent.authorization().unwrap().starts_with("DPoP "));
    assert!(sent.header("dpop").is_some());
    assert_eq!(srv.dpop_api_proofs(), 1);
    // Warm: the cached token, a fresh proof.
    sb.run(&["api", "/whoami"]).assert_ok();
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.dpop_api_proofs(), 2);
    // A same-origin redirect: the proof is the target's.
    sb.run(&["api", "/redirect-same"]).assert_ok();
    assert_eq!(srv.dpop_api_proofs(), 3);
    assert!(
        srv.dpop_rejections().is_empty(),
        "{:?}",
        srv.dpop_rejections()
    );
}

#[test]
fn every_page_of_a_paginated_call_gets_its_own_proof() {
    let srv = dpop_server(|_| {});
    let sb = dpop_sandbox(&srv);
    let out = sb.run(&["api", "--paginate", "/pages/array/4"]);
    out.assert_ok();
    assert_eq!(srv.api_requests(), 4);
    assert_eq!(
        srv.dpop_api_proofs(),
        4,
        "each page's proof verified (htu, jti)"
    );
    assert!(
        srv.dpop_rejections().is_empty(),
        "{:?}",
        srv.dpop_rejections()
    );
}

#[test]
fn a_dpop_token_sent_as_bearer_is_refused_by_the_api() {
    let srv = dpop_server(|_| {});
    let sb = dpop_sandbox(&srv);
    sb.run(&["auth", "token"]).assert_ok();
    let token = cached_token(&sb);
    let url = format!("{}/whoami", srv.api_url());
    let bearer = format!("Bearer {token}");
    assert_eq!(get(&url, &[("Authorization", &bearer)]), 401);
    assert_eq!(srv.dpop_bearer_refusals(), 1);
    // Without a proof as DPoP: refused too.
    let dpop = format!("DPoP {token}");
    assert_eq!(get(&url, &[("Authorization", &dpop)]), 401);
}

#[test]
fn the_services_nonce_gets_one_retry_and_keeps_the_token() {
    let srv = dpop_server(|d| d.api_nonce = true);
    let sb = dpop_sandbox(&srv);
    let out = sb.run(&["api", "/whoami"]);
    out.assert_ok();
    assert_eq!(srv.dpop_api_nonce_challenges(), 1);
    assert_eq!(srv.api_requests(), 2, "the challenge and the retry");
    assert_eq!(srv.token_requests(), 1, "the token was not discarded");
    // The nonce is kept for the next run: no challenge.
    sb.run(&["api", "/whoami"]).assert_ok();
    assert_eq!(srv.dpop_api_nonce_challenges(), 1);
    assert_eq!(srv.api_requests(), 3);
    // A new nonce at the service: one challenge again, one retry.
    srv.rotate_dpop_api_nonce();
    sb.run(&["api", "/whoami"]).assert_ok();
    assert_eq!(srv.dpop_api_nonce_challenges(), 2);
    assert_eq!(srv.token_requests(), 1);
}

#[test]
fn a_401_after_the_nonce_retry_still_gets_the_discard_and_retry() {
    let srv = dpop_server(|d| d.api_nonce = true);
    let sb = dpop_sandbox(&srv);
    sb.run(&["auth", "token"]).assert_ok();
    let first = cached_token(&sb);
    srv.invalidate_all_tokens();
    // Challenge (nonce) → retry → 401 (the token) → new token → 200.
    let out = sb.run(&["api", "/whoami"]);
    out.assert_ok();
    assert_eq!(srv.dpop_api_nonce_challenges(), 1);
    assert_eq!(srv.api_requests(), 3);
    assert_eq!(srv.token_requests(), 2);
    assert_ne!(cached_token(&sb), first);
}

#[test]
fn auth_proof_prints_a_proof_the_api_accepts() {
    let srv = dpop_server(|d| d.api_nonce = true);
    let sb = dpop_sandbox(&srv);
    // One run meets the nonce; the proof then carries it.
    sb.run(&["api", "/whoami"]).assert_ok();
    let out = sb.run(&["auth", "proof", "/whoami?page=2"]);
    out.assert_ok();
    let json = out.json();
    assert_eq!(json["htm"], "GET");
    assert_eq!(json["htu"], format!("{}/whoami", srv.api_url()));
    let proof = json["dpop"].as_str().unwrap();
    let token = sb.run(&["auth", "token", "-o", "text"]);
    let authorization = format!("DPoP {}", token.stdout.trim());
    // As curl would send it.
    let url = format!("{}/whoami?page=2", srv.api_url());
    assert_eq!(
        get(&url, &[("Authorization", &authorization), ("DPoP", proof)]),
        200
    );
    assert_eq!(srv.dpop_api_nonce_challenges(), 1);
    // A proof is good once: the same one again is a replay.
    assert_eq!(
        get(&url, &[("Authorization", &authorization), ("DPoP", proof)]),
        401
    );

    let text = sb.run(&["auth", "proof", "-X", "post", "-o", "text", "/echo"]);
    text.assert_ok();
    let bare = text.stdout.trim();
    assert_eq!(bare.split('.').count(), 3, "{bare}");
    assert_eq!(srv.token_requests(), 1);
}

#[test]
fn auth_proof_refuses_a_foreign_origin_and_a_bearer_environment() {
    let srv = dpop_server(|_| {});
    let sb = dpop_sandbox(&srv);
    let out = sb.run(&["auth", "proof", "https://elsewhere.example/x"]);
    out.assert_code(2);
    out.assert_stderr_contains("is not the service's origin");
    assert_eq!(out.stdout, "");
    assert_eq!(srv.token_requests(), 0);

    let bearer = super::server();
    let sb = super::sandbox(&bearer);
    let out = sb.run(&["auth", "proof", "/whoami"]);
    out.assert_code(3);
    out.assert_stderr_contains("OAUTH_DPOP is not on");
}
