//! `private_key_jwt` client authentication (RFC 7523) over real sockets: each
//! test key format and algorithm, keys registered as PEM or JWK, the checks
//! on `iss`/`sub`/`aud`/`exp`/`jti`, replay, revocation, and the recorded
//! authentication method of every token request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{basic, post_form, Resp};
use jsonwebtoken::Algorithm;
use lmi_testidp::keys::{
    self, sign_client_assertion, CLIENT_EC_JWK, CLIENT_EC_PKCS8_FILE, CLIENT_EC_PUBLIC_PEM,
    CLIENT_EC_SEC1_FILE, CLIENT_RSA_ENCRYPTED_FILE, CLIENT_RSA_JWK, CLIENT_RSA_OTHER_FILE,
    CLIENT_RSA_PKCS1_FILE, CLIENT_RSA_PKCS8_FILE, CLIENT_RSA_PUBLIC_PEM,
};
use lmi_testidp::{client_assertion, key_path, Client, TestServer, CLIENT_ASSERTION_TYPE};
use serde_json::json;

fn pem(file: &str) -> String {
    std::fs::read_to_string(key_path(file)).unwrap()
}

fn server() -> TestServer {
    let srv = TestServer::start_default().unwrap();
    srv.set(|b| {
        b.clients
            .push(Client::with_key("jwt-rsa", CLIENT_RSA_PUBLIC_PEM));
        b.clients
            .push(Client::with_key("jwt-ec", CLIENT_EC_PUBLIC_PEM));
        b.clients.push(Client::with_key("jwk-rsa", CLIENT_RSA_JWK));
        b.clients.push(Client::with_key("jwk-ec", CLIENT_EC_JWK));
    });
    srv
}

fn with_assertion(srv: &TestServer, assertion: &str) -> Resp {
    post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn refused(r: &Resp, mentions: &str) {
    assert_eq!(r.status, 401, "{}", r.body);
    let j = r.json();
    assert_eq!(j["error"], "invalid_client");
    let description = j["error_description"].as_str().unwrap();
    assert!(description.contains(mentions), "{description}");
}

#[test]
fn every_key_format_and_algorithm_authenticates() {
    let srv = server();
    let m = srv.metadata();
    assert!(m["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));
    let token_url = srv.token_url();
    let cases = [
        ("jwt-rsa", Algorithm::RS256, CLIENT_RSA_PKCS8_FILE),
        ("jwt-rsa", Algorithm::RS256, CLIENT_RSA_PKCS1_FILE),
        ("jwt-rsa", Algorithm::PS256, CLIENT_RSA_PKCS8_FILE),
        ("jwt-ec", Algorithm::ES256, CLIENT_EC_SEC1_FILE),
        ("jwt-ec", Algorithm::ES256, CLIENT_EC_PKCS8_FILE),
        ("jwk-rsa", Algorithm::RS256, CLIENT_RSA_PKCS1_FILE),
        ("jwk-ec", Algorithm::ES256, CLIENT_EC_PKCS8_FILE),
    ];
    for (client, alg, file) in cases {
        let a = client_assertion(client, &token_url, alg, &pem(file));
        let r = with_assertion(&srv, &a);
        assert_eq!(r.status, 200, "{client} {alg:?} {file}: {}", r.body);
        assert_eq!(
            srv.last_token_request_auth_method().as_deref(),
            Some("private_key_jwt")
        );
        let claims = srv.last_client_assertion_claims().unwrap();
        assert_eq!(claims["iss"], client);
        let who = common::get(
            &format!("{}/whoami", srv.api_url()),
            r.json()["access_token"].as_str(),
        );
        assert_eq!(who.json()["client_id"], client);
    }
    // The issuer is an accepted audience, and client_id may be sent along.
    let a = client_assertion(
        "jwt-rsa",
        srv.idp_url(),
        Algorithm::RS256,
        &pem(CLIENT_RSA_PKCS8_FILE),
    );
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "jwt-rsa"),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", &a),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn assertion_checks_and_replay() {
    let srv = server();
    let key = pem(CLIENT_RSA_PKCS8_FILE);
    let aud = srv.token_url();
    let sign = |claims: serde_json::Value| sign_client_assertion(&claims, Algorithm::RS256, &key);
    let base = |jti: &str| json!({"iss": "jwt-rsa", "sub": "jwt-rsa", "aud": aud, "iat": now(), "exp": now() + 60, "jti": jti});

    let a = sign(base("once"));
    assert_eq!(with_assertion(&srv, &a).status, 200);
    refused(&with_assertion(&srv, &a), "replay");

    let mut c = base("aud");
    c["aud"] = json!("https://elsewhere.example/token");
    refused(&with_assertion(&srv, &sign(c)), "rejected");
    let mut c = base("far");
    c["exp"] = json!(now() + 600);
    refused(&with_assertion(&srv, &sign(c)), "more than 60 s");
    let mut c = base("past");
    c["exp"] = json!(now() - 5);
    refused(&with_assertion(&srv, &sign(c)), "rejected");
    let mut c = base("iss");
    c["iss"] = json!("someone-else");
    refused(&with_assertion(&srv, &sign(c)), "rejected");
    let mut c = base("");
    c.as_object_mut().unwrap().remove("jti");
    refused(&with_assertion(&srv, &sign(c)), "jti");
    let mut c = base("unknown");
    c["sub"] = json!("nobody");
    refused(&with_assertion(&srv, &sign(c)), "Unknown client");
    // A client with a secret has no key.
    let mut c = base("secret-client");
    c["iss"] = json!("lmi-client");
    c["sub"] = json!("lmi-client");
    refused(&with_assertion(&srv, &sign(c)), "no registered key");

    // Signed by another key, or with a symmetric algorithm.
    let other = client_assertion(
        "jwt-rsa",
        &aud,
        Algorithm::RS256,
        &pem(CLIENT_RSA_OTHER_FILE),
    );
    refused(&with_assertion(&srv, &other), "rejected");
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &base("hs"),
        &jsonwebtoken::EncodingKey::from_secret(b"k"),
    )
    .unwrap();
    refused(&with_assertion(&srv, &hs), "not accepted");
    refused(&with_assertion(&srv, "garbage"), "not a JWT");

    // Wrong assertion type; assertion plus a secret.
    let a = client_assertion("jwt-rsa", &aud, Algorithm::RS256, &key);
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:example:other"),
            ("client_assertion", &a),
        ],
    );
    refused(&r, "client_assertion_type");
    let r = post_form(
        &srv.token_url(),
        Some(&basic("lmi-client", "lmi-secret")),
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", &a),
        ],
    );
    refused(&r, "More than one");
    // A key client without an assertion.
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "jwt-rsa"),
        ],
    );
    refused(&r, "private_key_jwt");

    // The lifetime limit is configurable.
    srv.set(|b| b.client_assertion_max_lifetime = 900);
    let mut c = base("far-ok");
    c["exp"] = json!(now() + 600);
    assert_eq!(with_assertion(&srv, &sign(c)).status, 200);

    // The encrypted key is there for lmi's negative tests.
    assert!(pem(CLIENT_RSA_ENCRYPTED_FILE).starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    assert!(keys::keys_dir().join("README.md").is_file());
}

#[test]
fn revocation_accepts_assertions_for_its_own_url_too() {
    let srv = server();
    let key = pem(CLIENT_EC_SEC1_FILE);
    let a = client_assertion("jwt-ec", &srv.token_url(), Algorithm::ES256, &key);
    let t = with_assertion(&srv, &a).json();
    let token = t["access_token"].as_str().unwrap();
    let a = client_assertion("jwt-ec", &srv.revoke_url(), Algorithm::ES256, &key);
    let r = post_form(
        &srv.revoke_url(),
        None,
        &[
            ("token", token),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", &a),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(srv.revocations(), vec![token.to_string()]);
    let methods = srv.client_auth_methods();
    assert_eq!(
        methods.last().unwrap(),
        &("revoke".to_string(), "private_key_jwt".to_string())
    );
}

#[test]
fn the_method_of_each_token_request_is_recorded() {
    let srv = server();
    post_form(
        &srv.token_url(),
        Some(&basic("lmi-client", "lmi-secret")),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(
        srv.last_token_request_auth_method().as_deref(),
        Some("client_secret_basic")
    );
    post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "lmi-client"),
            ("client_secret", "lmi-secret"),
        ],
    );
    assert_eq!(
        srv.last_token_request_auth_method().as_deref(),
        Some("client_secret_post")
    );
    post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "lmi-public"),
            ("username", "alice"),
            ("password", "wonderland"),
        ],
    );
    assert_eq!(
        srv.last_token_request_auth_method().as_deref(),
        Some("none")
    );
    // Also recorded when the authentication fails.
    post_form(
        &srv.token_url(),
        Some(&basic("lmi-client", "nope")),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(
        srv.last_token_request_auth_method().as_deref(),
        Some("client_secret_basic")
    );
    assert_eq!(srv.client_auth_methods().len(), 4);
    // A private_key_jwt client may exchange tokens and use the device flow.
    let a = client_assertion(
        "jwt-rsa",
        &srv.device_authorization_url(),
        Algorithm::RS256,
        &pem(CLIENT_RSA_PKCS1_FILE),
    );
    let r = post_form(
        &srv.device_authorization_url(),
        None,
        &[
            ("scope", "openid"),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", &a),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
}
