//! End-to-end tests of the test IdP and API over real loopback sockets:
//! grants, client authentication, refresh rotation, PKCE, ID tokens,
//! failure modes, counters and token invalidation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{basic, get, post_form, query_param};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lmi_testidp::{
    pkce_challenge, Client, IdTokenFault, Options, TestServer, TokenFailure, WellKnown,
};
use serde_json::Value;

fn client_credentials(srv: &TestServer) -> Value {
    let r = post_form(
        &srv.token_url(),
        Some(&basic("lmi-client", "lmi-secret")),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn password(srv: &TestServer, client: &str) -> Value {
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", client),
            ("username", "alice"),
            ("password", "wonderland"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn client_credentials_with_basic_and_post_auth() {
    let srv = TestServer::start_default().unwrap();
    srv.set(|b| {
        b.clients
            .push(Client::confidential("weird id:é", "s3cr:t&+= %/"))
    });

    let t = client_credentials(&srv);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert!(t.get("refresh_token").is_none());
    let last = srv.last_token_request().unwrap();
    assert!(last.header("authorization").unwrap().starts_with("Basic "));
    assert_eq!(last.param("grant_type"), Some("client_credentials"));

    // Special characters: form-urlencoded before base64.
    let r = post_form(
        &srv.token_url(),
        Some(&basic("weird id:é", "s3cr:t&+= %/")),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "read write"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["scope"], "read write");
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // Credentials in the body.
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "lmi-client"),
            ("client_secret", "lmi-secret"),
            ("audience", "https://api.example.test"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        srv.last_token_request().unwrap().param("audience"),
        Some("https://api.example.test")
    );
    let who = get(&format!("{}/whoami", srv.api_url()), Some(&token));
    assert_eq!(who.status, 200);
    assert_eq!(who.json()["sub"], "lmi-client");
    assert_eq!(who.json()["client_id"], "lmi-client");

    // Wrong secret, unknown client, public client.
    for auth in [basic("lmi-client", "nope"), basic("nobody", "x")] {
        let r = post_form(
            &srv.token_url(),
            Some(&auth),
            &[("grant_type", "client_credentials")],
        );
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["error"], "invalid_client");
        assert_eq!(
            r.json()["error_description"],
            "Client authentication failed"
        );
    }
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "lmi-public"),
        ],
    );
    assert_eq!(r.status, 400);
    let r = post_form(
        &srv.token_url(),
        Some(&basic("lmi-client", "lmi-secret")),
        &[("grant_type", "magic")],
    );
    assert_eq!(r.json()["error"], "unsupported_grant_type");

    assert_eq!(srv.token_requests(), 7);
    assert_eq!(srv.token_requests_by_grant("client_credentials"), 6);
    assert_eq!(srv.token_requests_by_grant("magic"), 1);
}

#[test]
fn password_grant_and_refresh_rotation() {
    let srv = TestServer::start_default().unwrap();
    let t = password(&srv, "lmi-public");
    let who = get(
        &format!("{}/whoami", srv.api_url()),
        t["access_token"].as_str(),
    );
    assert_eq!(who.json()["sub"], "alice");

    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "lmi-public"),
            ("username", "alice"),
            ("password", "wrong"),
        ],
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");

    let refresh = |rt: &str| {
        post_form(
            &srv.token_url(),
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "lmi-public"),
                ("refresh_token", rt),
            ],
        )
    };
    let rt1 = t["refresh_token"].as_str().unwrap();
    let r = refresh(rt1);
    assert_eq!(r.status, 200, "{}", r.body);
    let rt2 = r.json()["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    assert_eq!(refresh(rt1).status, 400, "rotated token is single-use");

    // Revocation.
    let r = post_form(
        &srv.revoke_url(),
        None,
        &[("token", &rt2), ("client_id", "lmi-public")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(srv.revocations(), vec![rt2.clone()]);
    assert_eq!(refresh(&rt2).json()["error"], "invalid_grant");

    // refresh_failure only breaks the refresh grant.
    srv.set(|b| b.refresh_failure = true);
    let t = password(&srv, "lmi-public");
    assert_eq!(refresh(t["refresh_token"].as_str().unwrap()).status, 400);
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 4);
    assert_eq!(srv.token_requests_by_grant("password"), 3);
}

#[test]
fn whoami_and_invalidation() {
    let srv = TestServer::start_default().unwrap();
    let t = client_credentials(&srv);
    let token = t["access_token"].as_str().unwrap();
    let whoami = format!("{}/whoami", srv.api_url());
    assert_eq!(get(&whoami, Some(token)).status, 200);

    let r = get(&whoami, None);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_token");
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            "Bearer error=\"invalid_token\", \
             error_description=\"The access token is invalid or expired\""
        )
    );

    srv.invalidate_all_tokens();
    assert_eq!(get(&whoami, Some(token)).status, 401);
    let token = client_credentials(&srv)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(get(&whoami, Some(&token)).status, 200);

    srv.set(|b| b.api_always_401 = true);
    assert_eq!(get(&whoami, Some(&token)).status, 401);
    srv.set(|b| b.api_always_401 = false);

    // Other API paths.
    let s = get(&format!("{}/status/503", srv.api_url()), Some(&token));
    assert_eq!((s.status, s.json()["status"].as_u64()), (503, Some(503)));
    let s = get(&format!("{}/text", srv.api_url()), Some(&token));
    assert_eq!(s.body, "hello\n");
    let r = common::post_form(
        &format!("{}/echo?x=1", srv.api_url()),
        Some(&format!("Bearer {token}")),
        &[("a", "b")],
    );
    let echo = r.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/echo");
    assert_eq!(echo["query"], "x=1");
    assert_eq!(echo["body"], "a=b");
    assert_eq!(echo["content_type"], "application/x-www-form-urlencoded");
    let s = get(&format!("{}/slow?ms=10", srv.api_url()), Some(&token));
    assert_eq!(s.json()["sub"], "lmi-client");

    let r = get(&format!("{}/redirect-same", srv.api_url()), None);
    assert_eq!((r.status, r.header("location")), (302, Some("/whoami")));
    let r = get(&format!("{}/redirect-other", srv.api_url()), None);
    let target = r.header("location").unwrap().to_string();
    assert_eq!(target, format!("{}/capture", srv.other_url()));
    assert_eq!(get(&target, Some(&token)).json()["captured"], true);
    get(&target, None);
    assert_eq!(
        srv.other_authorization_headers(),
        vec![Some(format!("Bearer {token}")), None]
    );
    assert_eq!(srv.other_requests(), 2);
    assert_eq!(srv.api_requests(), 11);
    assert_eq!(srv.last_api_request().unwrap().path, "/redirect-other");
}

#[test]
fn expiry_and_lifetime() {
    let srv = TestServer::start(Options {
        token_lifetime: Some(0),
        ..Options::default()
    })
    .unwrap();
    let t = client_credentials(&srv);
    assert_eq!(t["expires_in"], 0);
    let whoami = format!("{}/whoami", srv.api_url());
    assert_eq!(get(&whoami, t["access_token"].as_str()).status, 401);

    srv.set(|b| b.token_lifetime = None);
    let t = client_credentials(&srv);
    assert!(t.get("expires_in").is_none());
    assert_eq!(get(&whoami, t["access_token"].as_str()).status, 200);
}

#[test]
fn jwt_access_tokens_verify() {
    let srv = TestServer::start(Options {
        jwt_access_tokens: true,
        ..Options::default()
    })
    .unwrap();
    let t = client_credentials(&srv);
    let token = t["access_token"].as_str().unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[srv.api_url()]);
    v.set_issuer(&[srv.idp_url()]);
    let data = jsonwebtoken::decode::<Value>(token, &lmi_testidp::decoding_key(), &v).unwrap();
    assert_eq!(data.claims["sub"], "lmi-client");
    assert_eq!(data.header.kid.as_deref(), Some(lmi_testidp::KEY_ID));
    assert_eq!(
        get(&format!("{}/whoami", srv.api_url()), Some(token)).status,
        200
    );
}

#[test]
fn discovery_documents_and_counters() {
    let srv = TestServer::start_default().unwrap();
    let oauth = format!("{}/.well-known/oauth-authorization-server", srv.idp_url());
    let oidc = format!("{}/.well-known/openid-configuration", srv.idp_url());
    let m = get(&oauth, None).json();
    assert_eq!(m["issuer"], srv.idp_url());
    assert_eq!(m["token_endpoint"], srv.token_url());
    assert_eq!(m["revocation_endpoint"], srv.revoke_url());
    assert_eq!(m["code_challenge_methods_supported"][0], "S256");
    assert_eq!(get(&oidc, None).status, 200);

    srv.set(|b| {
        b.well_known = WellKnown::OpenIdOnly;
        b.revocation_endpoint = false;
    });
    assert_eq!(get(&oauth, None).status, 404);
    let m = get(&oidc, None).json();
    assert!(m.get("revocation_endpoint").is_none());
    assert_eq!(
        post_form(&srv.revoke_url(), None, &[("token", "x")]).status,
        404
    );
    srv.set(|b| b.well_known = WellKnown::None);
    assert_eq!(get(&oidc, None).status, 404);
    assert_eq!(srv.discovery_requests(), 5);

    let jwks = get(&srv.jwks_url(), None).json();
    assert_eq!(jwks["keys"][0]["kid"], lmi_testidp::KEY_ID);

    srv.reset_counts();
    assert_eq!(srv.discovery_requests(), 0);
    assert_eq!(srv.token_requests(), 0);
    assert!(srv.last_token_request().is_none());
}

#[test]
fn token_failure_modes() {
    let srv = TestServer::start_default().unwrap();
    let req = || {
        post_form(
            &srv.token_url(),
            Some(&basic("lmi-client", "lmi-secret")),
            &[("grant_type", "client_credentials")],
        )
    };
    let cases: [(TokenFailure, u16, &str); 7] = [
        (TokenFailure::InvalidClient, 401, "invalid_client"),
        (TokenFailure::InvalidGrant, 400, "invalid_grant"),
        (TokenFailure::ServerError, 500, ""),
        (TokenFailure::NotJson, 200, "<html>oops</html>"),
        (
            TokenFailure::NoAccessToken,
            200,
            "{\"token_type\":\"Bearer\"}",
        ),
        (
            TokenFailure::ExpiresInString,
            200,
            "\"expires_in\":\"3600\"",
        ),
        (TokenFailure::ExpiresInNegative, 200, "\"expires_in\":-5"),
    ];
    for (failure, status, needle) in cases {
        srv.set(|b| b.token_failure = Some(failure.clone()));
        let r = req();
        assert_eq!(r.status, status, "{failure:?}: {}", r.body);
        assert!(r.body.contains(needle), "{failure:?}: {}", r.body);
    }
    assert_eq!(srv.token_requests(), 7);
}

#[test]
fn slow_token_requests_do_not_block_others() {
    let srv = TestServer::start(Options {
        token_failure: Some(TokenFailure::Slow(Duration::from_secs(3))),
        ..Options::default()
    })
    .unwrap();
    let token_url = srv.token_url();
    let slow = std::thread::spawn(move || {
        post_form(
            &token_url,
            Some(&basic("lmi-client", "lmi-secret")),
            &[("grant_type", "client_credentials")],
        )
        .status
    });
    // Wait until the slow request has arrived (it is counted on arrival).
    while srv.token_requests() == 0 {
        std::thread::yield_now();
    }
    assert_eq!(get(&srv.jwks_url(), None).status, 200);
    assert!(!slow.is_finished(), "JWKS answered while /token sleeps");
    assert_eq!(slow.join().unwrap(), 200);
}

// --- authorization code + PKCE --------------------------------------------

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "http://127.0.0.1:45678/callback";

fn authorize(srv: &TestServer, state: &str, nonce: &str) -> common::Resp {
    let mut u = url::Url::parse(&srv.authorize_url()).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "lmi-public")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid email offline_access")
        .append_pair("state", state)
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", &pkce_challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    get(u.as_str(), None)
}

fn exchange(srv: &TestServer, code: &str, verifier: &str) -> common::Resp {
    post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "lmi-public"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
}

fn code_from(r: &common::Resp) -> String {
    assert_eq!(r.status, 302, "{}", r.body);
    query_param(r.header("location").unwrap(), "code").unwrap()
}

fn verify_id_token(srv: &TestServer, id_token: &str) -> jsonwebtoken::errors::Result<Value> {
    let jwks = get(&srv.jwks_url(), None).json();
    let key = &jwks["keys"][0];
    let dk =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())
            .unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&["lmi-public"]);
    v.set_issuer(&[srv.idp_url()]);
    jsonwebtoken::decode::<Value>(id_token, &dk, &v).map(|d| d.claims)
}

#[test]
fn authorization_code_with_pkce_and_id_token() {
    let srv = TestServer::start_default().unwrap();
    let state = "st a&te=/é+%";
    let r = authorize(&srv, state, "n-0S6_WzA2Mj");
    let location = r.header("location").unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_param(location, "state").as_deref(), Some(state));
    assert_eq!(srv.authorize_requests(), 1);
    assert_eq!(
        srv.last_authorize_request()
            .unwrap()
            .query_param("nonce")
            .as_deref(),
        Some("n-0S6_WzA2Mj")
    );
    let code = query_param(location, "code").unwrap();

    let r = exchange(&srv, &code, VERIFIER);
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    let claims = verify_id_token(&srv, t["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["sub"], "alice-sub");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    let who = get(
        &format!("{}/whoami", srv.api_url()),
        t["access_token"].as_str(),
    );
    assert_eq!(who.json()["sub"], "alice-sub");

    // The code is single-use.
    assert_eq!(exchange(&srv, &code, VERIFIER).status, 400);

    // SSO refresh returns a new ID token.
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "lmi-public"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
    );
    let claims = verify_id_token(&srv, r.json()["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["sub"], "alice-sub");
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 2);
}

#[test]
fn pkce_and_authorize_rejections() {
    let srv = TestServer::start_default().unwrap();
    let code = code_from(&authorize(&srv, "s", "n"));
    let r = exchange(
        &srv,
        &code,
        "the-wrong-verifier-of-sufficient-length-000000",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");

    // Wrong redirect_uri at the token endpoint.
    let code = code_from(&authorize(&srv, "s", "n"));
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "lmi-public"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:1/callback"),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(r.status, 400);

    // Bad authorization requests: 400 page, no redirect.
    let base = srv.authorize_url();
    let ch = pkce_challenge(VERIFIER);
    for query in [
        format!("response_type=code&client_id=nobody&redirect_uri={REDIRECT}&code_challenge={ch}&code_challenge_method=S256"),
        format!("response_type=code&client_id=lmi-public&redirect_uri=http://localhost:1/cb&code_challenge={ch}&code_challenge_method=S256"),
        format!("response_type=code&client_id=lmi-public&redirect_uri={REDIRECT}&code_challenge={ch}&code_challenge_method=plain"),
        format!("response_type=code&client_id=lmi-public&redirect_uri={REDIRECT}&code_challenge_method=S256"),
    ] {
        let r = get(&format!("{base}?{query}"), None);
        assert_eq!(r.status, 400, "{query}");
        assert!(r.header("location").is_none());
    }

    srv.set(|b| {
        b.authorize_error = Some(("access_denied".into(), "The user denied the request".into()))
    });
    let r = authorize(&srv, "keep-me", "n");
    let location = r.header("location").unwrap();
    assert_eq!(
        query_param(location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(location, "error_description").as_deref(),
        Some("The user denied the request")
    );
    assert_eq!(query_param(location, "state").as_deref(), Some("keep-me"));
    assert_eq!(srv.authorize_requests(), 7);
}

#[test]
fn id_token_faults() {
    let srv = TestServer::start_default().unwrap();
    let id_token_with = |fault| {
        srv.set(|b| b.id_token_fault = Some(fault));
        let code = code_from(&authorize(&srv, "s", "the-nonce"));
        exchange(&srv, &code, VERIFIER).json()
    };
    use jsonwebtoken::errors::ErrorKind;
    use std::mem::discriminant;
    for (fault, expected) in [
        (IdTokenFault::BadSignature, ErrorKind::InvalidSignature),
        (IdTokenFault::WrongAudience, ErrorKind::InvalidAudience),
        (IdTokenFault::WrongIssuer, ErrorKind::InvalidIssuer),
        (IdTokenFault::Expired, ErrorKind::ExpiredSignature),
    ] {
        let t = id_token_with(fault);
        let id_token = t["id_token"].as_str().unwrap();
        let err = verify_id_token(&srv, id_token).unwrap_err();
        assert_eq!(
            discriminant(err.kind()),
            discriminant(&expected),
            "{fault:?}: {:?}",
            err.kind()
        );
    }

    // alg none: the header says so, the signature is empty, and the token
    // is refused.
    let t = id_token_with(IdTokenFault::AlgNone);
    let id_token = t["id_token"].as_str().unwrap();
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3, "{id_token}");
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[0])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "none");
    assert_eq!(parts[2], "");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["nonce"], "the-nonce",
        "only the signature is missing"
    );
    assert!(verify_id_token(&srv, id_token).is_err());

    let t = id_token_with(IdTokenFault::WrongNonce);
    let claims = verify_id_token(&srv, t["id_token"].as_str().unwrap()).unwrap();
    assert_ne!(claims["nonce"], "the-nonce");
    let t = id_token_with(IdTokenFault::Missing);
    assert!(t.get("id_token").is_none());
    assert!(t.get("access_token").is_some());
}

#[test]
fn revocation_failure_answers_500_and_revokes_nothing() {
    let srv = TestServer::start_default().unwrap();
    let rt = password(&srv, "lmi-public")["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    srv.set(|b| b.revocation_failure = true);
    let revoke = || {
        post_form(
            &srv.revoke_url(),
            None,
            &[("token", &rt), ("client_id", "lmi-public")],
        )
    };
    let r = revoke();
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(srv.revocations().is_empty());
    // Still advertised, and the token still works.
    assert_eq!(srv.metadata()["revocation_endpoint"], srv.revoke_url());
    let r = post_form(
        &srv.token_url(),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "lmi-public"),
            ("refresh_token", &rt),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Client authentication still comes first.
    let r = post_form(
        &srv.revoke_url(),
        Some(&basic("lmi-client", "wrong")),
        &[("token", "x")],
    );
    assert_eq!(r.status, 401);
}

// --- the scripted browser ---------------------------------------------------

/// A stand-in for lmi's loopback listener with its rules: `/callback` with
/// the right `state` → 200 "You may close this window." (and the listener
/// stops), a missing or wrong `state` → 400 (or 200 when `lenient`), any
/// other path → 404. Returns the redirect URI and the statuses it sent.
fn listener(state: &str, lenient: bool) -> (String, std::thread::JoinHandle<Vec<u16>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let state = state.to_string();
    let handle = std::thread::spawn(move || {
        let mut sent = Vec::new();
        for req in server.incoming_requests() {
            let url = format!("http://127.0.0.1{}", req.url());
            let path = url::Url::parse(&url).unwrap().path().to_string();
            let right = query_param(&url, "state").as_deref() == Some(state.as_str());
            let (status, body, done) = if path != "/callback" {
                (404, "not found", false)
            } else if right {
                (200, "Logged in. You may close this window.", true)
            } else if lenient {
                (200, "accepted anything", false)
            } else {
                (400, "state mismatch", false)
            };
            sent.push(status);
            req.respond(tiny_http::Response::from_string(body).with_status_code(status))
                .unwrap();
            if done {
                break;
            }
        }
        sent
    });
    (format!("http://127.0.0.1:{port}/callback"), handle)
}

fn authorize_to(srv: &TestServer, redirect_uri: &str, state: &str) -> String {
    let mut u = url::Url::parse(&srv.authorize_url()).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "lmi-public")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("code_challenge", &pkce_challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    u.to_string()
}

fn read_report(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn browser_probes_the_callback_and_reports() {
    use lmi_testidp::browser::{self, exit, BrowserOptions};
    let srv = TestServer::start_default().unwrap();
    let dir = tempfile_dir();
    let go = dir.join("go");
    let report = dir.join("report.json");
    let (redirect, handle) = listener("s-1", false);
    let opts = BrowserOptions {
        hit_favicon: true,
        omit_state: true,
        forge_state: true,
        wait_for_file: Some(go.clone()),
        expect_body: vec!["You may close this window".into()],
        report: Some(report.clone()),
    };
    let url = authorize_to(&srv, &redirect, "s-1");
    let run = std::thread::spawn(move || browser::run(&url, &opts));
    std::fs::write(&go, "").unwrap();
    assert_eq!(run.join().unwrap(), exit::OK);
    assert_eq!(handle.join().unwrap(), vec![404, 400, 400, 200]);
    assert_eq!(
        read_report(&report),
        serde_json::json!({"exit": 0, "final_status": 200, "error": null,
            "probes": {"favicon": 404, "omit_state": 400, "forge_state": 400}})
    );
    assert_eq!(srv.authorize_requests(), 1);

    // A listener that takes a callback without state fails the check.
    let (redirect, handle) = listener("s-2", true);
    let opts = BrowserOptions {
        omit_state: true,
        report: Some(report.clone()),
        ..BrowserOptions::default()
    };
    let code = browser::run(&authorize_to(&srv, &redirect, "s-2"), &opts);
    assert_eq!(code, exit::CALLBACK_CHECK_FAILED);
    let r = read_report(&report);
    assert_eq!(r["exit"], exit::CALLBACK_CHECK_FAILED);
    assert_eq!(r["probes"]["omit_state"], 200);
    assert!(r["final_status"].is_null());
    // Let the listener finish: the real callback was never sent.
    common::get(&format!("{redirect}?state=s-2"), None);
    assert_eq!(handle.join().unwrap(), vec![200, 200]);

    // A final page without the expected text.
    let (redirect, handle) = listener("s-3", false);
    let opts = BrowserOptions {
        expect_body: vec!["not on the page".into()],
        report: Some(report.clone()),
        ..BrowserOptions::default()
    };
    let code = browser::run(&authorize_to(&srv, &redirect, "s-3"), &opts);
    assert_eq!(code, exit::BODY_MISMATCH);
    assert_eq!(read_report(&report)["final_status"], 200);
    assert_eq!(handle.join().unwrap(), vec![200]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh private directory below the system temp dir (removed by the OS;
/// the crate has no tempfile dependency).
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "testidp-flows-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
