//! Token exchange (RFC 8693) over real sockets: CI-issuer JWTs and the IdP's
//! own access tokens as subject tokens, the issued token's subject at the
//! API's `/whoami`, actor tokens, client authentication, and the refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{basic, get, post_form, Resp};
use lmi_testidp::keys::{ci_token_with_claims, CI_AUDIENCE, CI_ISSUER};
use lmi_testidp::{
    ci_jwk, ci_key_path, ci_token, TestServer, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE_ACCESS_TOKEN,
    TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT,
};
use serde_json::{json, Value};

fn exchange(srv: &TestServer, auth: Option<&str>, extra: &[(&str, &str)]) -> Resp {
    let mut form = vec![("grant_type", TOKEN_EXCHANGE_GRANT)];
    form.extend_from_slice(extra);
    post_form(&srv.token_url(), auth, &form)
}

fn confidential() -> String {
    basic("lmi-client", "lmi-secret")
}

fn whoami(srv: &TestServer, token: &Value) -> Value {
    let r = get(&format!("{}/whoami", srv.api_url()), token.as_str());
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn refused(r: &Resp, error: &str, mentions: &str) {
    assert_eq!(r.status, 400, "{}", r.body);
    let j = r.json();
    assert_eq!(j["error"], error, "{}", r.body);
    let description = j["error_description"].as_str().unwrap();
    assert!(description.contains(mentions), "{description}");
}

#[test]
fn ci_jwt_is_exchanged_for_an_access_token_of_its_subject() {
    let srv = TestServer::start_default().unwrap();
    assert!(srv.metadata()["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(TOKEN_EXCHANGE_GRANT)));
    let ci = ci_token("repo:acme/app:ref:refs/heads/main", 300);
    let r = exchange(
        &srv,
        Some(&confidential()),
        &[
            ("subject_token", &ci),
            ("subject_token_type", TOKEN_TYPE_JWT),
            ("requested_token_type", TOKEN_TYPE_ACCESS_TOKEN),
            ("scope", "deploy"),
            ("audience", "https://api.example.test"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    assert_eq!(t["issued_token_type"], TOKEN_TYPE_ACCESS_TOKEN);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "deploy");
    assert!(t.get("refresh_token").is_none());
    let who = whoami(&srv, &t["access_token"]);
    assert_eq!(
        who,
        json!({"sub": "repo:acme/app:ref:refs/heads/main", "client_id": "lmi-client", "scope": "deploy"})
    );
    assert_eq!(srv.token_exchanges(), 1);
    assert_eq!(srv.token_requests_by_grant(TOKEN_EXCHANGE_GRANT), 1);
    assert_eq!(
        srv.last_token_request().unwrap().param("subject_token"),
        Some(ci.as_str())
    );

    // As an id_token, and by a public client with only its client_id.
    let r = exchange(
        &srv,
        None,
        &[
            ("client_id", "lmi-public"),
            ("subject_token", &ci_token("ci-job-2", 60)),
            ("subject_token_type", TOKEN_TYPE_ID_TOKEN),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let who = whoami(&srv, &r.json()["access_token"]);
    assert_eq!(
        (who["sub"].as_str(), who["client_id"].as_str()),
        (Some("ci-job-2"), Some("lmi-public"))
    );

    // The key material is public for tests that mint their own tokens.
    assert!(ci_key_path().is_file());
    assert_eq!(ci_jwk()["kid"], lmi_testidp::keys::CI_KEY_ID);
}

#[test]
fn the_idps_own_access_token_is_a_subject_token() {
    let srv = TestServer::start_default().unwrap();
    srv.set(|b| b.jwt_access_tokens = true);
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "lmi-public"),
            ("username", "alice"),
            ("password", "wonderland"),
            ("scope", "read"),
        ],
    );
    let alice = r.json()["access_token"].as_str().unwrap().to_string();
    let r = exchange(
        &srv,
        Some(&confidential()),
        &[
            ("subject_token", &alice),
            ("subject_token_type", TOKEN_TYPE_ACCESS_TOKEN),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    assert_eq!(t["scope"], "read", "the subject's scope is kept");
    let who = whoami(&srv, &t["access_token"]);
    assert_eq!(who["sub"], "alice");
    assert_eq!(who["client_id"], "lmi-client");

    // The same token as a JWT (this IdP signed it) works too.
    let r = exchange(
        &srv,
        Some(&confidential()),
        &[
            ("subject_token", &alice),
            ("subject_token_type", TOKEN_TYPE_JWT),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // A revoked (invalidated) one does not.
    srv.invalidate_all_tokens();
    let r = exchange(
        &srv,
        Some(&confidential()),
        &[
            ("subject_token", &alice),
            ("subject_token_type", TOKEN_TYPE_ACCESS_TOKEN),
        ],
    );
    refused(&r, "invalid_grant", "unknown");
}

#[test]
fn an_actor_token_becomes_act() {
    let srv = TestServer::start_default().unwrap();
    let r = exchange(
        &srv,
        Some(&confidential()),
        &[
            ("subject_token", &ci_token("user-1", 60)),
            ("subject_token_type", TOKEN_TYPE_JWT),
            ("actor_token", &ci_token("robot-7", 60)),
            ("actor_token_type", TOKEN_TYPE_JWT),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let who = whoami(&srv, &r.json()["access_token"]);
    assert_eq!(who["sub"], "user-1");
    assert_eq!(who["act"], json!({"sub": "robot-7"}));
}

#[test]
fn refusals() {
    let srv = TestServer::start_default().unwrap();
    let auth = confidential();
    let jwt = |token: &str| {
        exchange(
            &srv,
            Some(&auth),
            &[
                ("subject_token", token),
                ("subject_token_type", TOKEN_TYPE_JWT),
            ],
        )
    };
    refused(&jwt(&ci_token("late", -10)), "invalid_grant", "expired");
    // One signature character changed (not the last, whose low bits are
    // padding).
    let mut tampered = ci_token("someone", 60).into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    refused(&jwt(&tampered), "invalid_grant", "signature");
    refused(&jwt("not-a-jwt"), "invalid_grant", "not a valid JWT");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let wrong_aud = ci_token_with_claims(
        &json!({"iss": CI_ISSUER, "aud": "elsewhere", "sub": "x", "exp": now + 60}),
    );
    refused(&jwt(&wrong_aud), "invalid_grant", "aud");
    let foreign = ci_token_with_claims(
        &json!({"iss": "https://evil.example", "aud": CI_AUDIENCE, "sub": "x", "exp": now + 60}),
    );
    refused(&jwt(&foreign), "invalid_grant", "untrusted issuer");
    // The IdP URL is an accepted audience too.
    let to_idp = ci_token_with_claims(
        &json!({"iss": CI_ISSUER, "aud": srv.idp_url(), "sub": "x", "exp": now + 60}),
    );
    assert_eq!(jwt(&to_idp).status, 200);

    let r = exchange(
        &srv,
        Some(&auth),
        &[
            ("subject_token", "never-issued"),
            ("subject_token_type", TOKEN_TYPE_ACCESS_TOKEN),
        ],
    );
    refused(&r, "invalid_grant", "unknown");

    let ci = ci_token("ok", 60);
    let r = exchange(&srv, Some(&auth), &[("subject_token_type", TOKEN_TYPE_JWT)]);
    refused(&r, "invalid_request", "subject_token");
    let r = exchange(&srv, Some(&auth), &[("subject_token", &ci)]);
    refused(&r, "invalid_request", "subject_token_type");
    let r = exchange(
        &srv,
        Some(&auth),
        &[
            ("subject_token", &ci),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:saml2",
            ),
        ],
    );
    refused(&r, "invalid_request", "not supported");
    let r = exchange(
        &srv,
        Some(&auth),
        &[
            ("subject_token", &ci),
            ("subject_token_type", TOKEN_TYPE_JWT),
            ("requested_token_type", TOKEN_TYPE_ID_TOKEN),
        ],
    );
    refused(&r, "invalid_request", "requested_token_type");

    // Client authentication comes first.
    let r = exchange(
        &srv,
        Some(&basic("lmi-client", "wrong")),
        &[
            ("subject_token", &ci),
            ("subject_token_type", TOKEN_TYPE_JWT),
        ],
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
    // Every exchange that reached the grant was counted.
    assert_eq!(srv.token_exchanges(), 11);
}
