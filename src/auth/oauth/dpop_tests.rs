//! The DPoP step of token requests, over canned answers.

use url::Url;

use super::*;
use crate::auth::dpop::{DpopKey, Nonces, Prover};
use crate::auth::testing::FakeTransport;
use crate::config::AuthMethod;
use crate::secret::Secret;

fn request<'a>(url: &'a Url, secret: &'a Secret, prover: &'a Prover) -> TokenRequest<'a> {
    TokenRequest {
        token_url: url,
        client_id: "cli",
        client_secret: Some(secret),
        auth_method: AuthMethod::Basic,
        client_assertion: None,
        grant: Grant::ClientCredentials,
        scopes: None,
        audience: None,
        dpop: Some(DpopStep { prover, now: 1_000 }),
    }
}

fn prover() -> Prover {
    Prover::new(DpopKey::generate().unwrap(), Nonces::default(), None)
}

const DPOP_TOKEN: &str = r#"{"access_token":"at","token_type":"DPoP","expires_in":60}"#;
const NONCE_ERROR: &str = r#"{"error":"use_dpop_nonce","error_description":"need a nonce"}"#;

fn proof_claims(sent: &crate::auth::testing::Sent) -> serde_json::Map<String, serde_json::Value> {
    let proof = sent.header("dpop").expect("a DPoP header");
    crate::auth::inspect::decode(proof).claims.unwrap()
}

#[test]
fn every_attempt_carries_a_fresh_proof_and_the_nonce_retry_is_one() {
    let (url, secret, prover) = (
        Url::parse("http://127.0.0.1:9/token?x=1").unwrap(),
        Secret::new("client-secret-value"),
        prover(),
    );
    let t = FakeTransport::default();
    t.reply_with(400, &[("DPoP-Nonce", "n-1")], NONCE_ERROR);
    t.reply_with(200, &[("DPoP-Nonce", "n-2")], DPOP_TOKEN);
    let response = send_token_request(&t, &request(&url, &secret, &prover)).unwrap();
    assert_eq!(response.token_type, "DPoP");
    let sent = t.requests();
    assert_eq!(sent.len(), 2);
    let (first, second) = (proof_claims(&sent[0]), proof_claims(&sent[1]));
    assert_eq!(first["htm"], "POST");
    assert_eq!(first["htu"], "http://127.0.0.1:9/token");
    assert!(first.get("nonce").is_none());
    assert_eq!(second["nonce"], "n-1");
    assert_ne!(first["jti"], second["jti"]);
    // The answer's nonce is the one kept.
    assert_eq!(prover.nonce(&url).as_deref(), Some("n-2"));
}

#[test]
fn a_second_nonce_challenge_is_the_error() {
    let (url, secret, prover) = (
        Url::parse("http://127.0.0.1:9/token").unwrap(),
        Secret::new("client-secret-value"),
        prover(),
    );
    let t = FakeTransport::default();
    t.reply_with(400, &[("DPoP-Nonce", "n-1")], NONCE_ERROR);
    t.reply_with(400, &[("DPoP-Nonce", "n-2")], NONCE_ERROR);
    t.reply(200, DPOP_TOKEN);
    let err = send_token_request(&t, &request(&url, &secret, &prover)).unwrap_err();
    assert_eq!(err.oauth_code(), Some("use_dpop_nonce"));
    assert!(err.message().contains("need a nonce"), "{}", err.message());
    assert_eq!(t.requests().len(), 2, "no loop");
}

#[test]
fn a_challenge_without_a_nonce_is_not_retried() {
    let (url, secret, prover) = (
        Url::parse("http://127.0.0.1:9/token").unwrap(),
        Secret::new("client-secret-value"),
        prover(),
    );
    let t = FakeTransport::default();
    t.reply(400, NONCE_ERROR);
    let err = send_token_request(&t, &request(&url, &secret, &prover)).unwrap_err();
    assert_eq!(err.oauth_code(), Some("use_dpop_nonce"));
    assert_eq!(t.requests().len(), 1);
}

#[test]
fn the_token_type_must_match_the_request() {
    let (url, secret, prover) = (
        Url::parse("http://127.0.0.1:9/token").unwrap(),
        Secret::new("client-secret-value"),
        prover(),
    );
    let t = FakeTransport::default();
    t.reply(200, r#"{"access_token":"at","token_type":"Bearer"}"#);
    let err = send_token_request(&t, &request(&url, &secret, &prover)).unwrap_err();
    assert!(matches!(*err.failure, GrantFailure::NotBound { .. }));
    assert!(
        err.message().contains("did not bind the token"),
        "{}",
        err.message()
    );
    // A DPoP token to a request without a proof is refused too.
    let t = FakeTransport::default();
    t.reply(200, r#"{"access_token":"at","token_type":"dpop"}"#);
    let mut plain = request(&url, &secret, &prover);
    plain.dpop = None;
    let err = send_token_request(&t, &plain).unwrap_err();
    assert!(
        matches!(*err.failure, GrantFailure::Malformed(_)),
        "{err:?}"
    );
    assert!(t.requests()[0].header("dpop").is_none());
}

#[test]
fn a_proof_the_server_quotes_is_scrubbed() {
    let (url, secret, prover) = (
        Url::parse("http://127.0.0.1:9/token").unwrap(),
        Secret::new("client-secret-value"),
        prover(),
    );
    let t = FakeTransport::default();
    // The fake cannot see the proof in advance; a server that echoes the
    // DPoP header is simulated by scrubbing what was sent.
    t.reply(
        400,
        r#"{"error":"invalid_dpop_proof","error_description":"bad"}"#,
    );
    let req = request(&url, &secret, &prover);
    let mut built = req.build();
    req.dpop.unwrap().apply(&mut built).unwrap();
    let proof = built
        .headers
        .iter()
        .find(|(k, _)| k == "DPoP")
        .unwrap()
        .1
        .clone();
    assert!(built.echoed().iter().any(|s| s.expose() == proof));
    let err = send_token_request(&t, &req).unwrap_err();
    assert_eq!(err.oauth_code(), Some("invalid_dpop_proof"));
}
