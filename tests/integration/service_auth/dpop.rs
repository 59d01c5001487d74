//! DPoP for service environments (SPEC §4.3) against the in-repo IdP, which
//! verifies every proof: the bound token and its cache, the key file and
//! its trust rules, the authorization server's nonces, a server that does
//! not bind, and never a proof or the private key in a log.

use lmi_testidp::{DpopBehaviour, Options, TestServer};

use super::sandbox;
use crate::support::{mode, Sandbox};

/// An IdP that requires DPoP of `lmi-client`, JWT access tokens, and
/// `tweak` applied.
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
    sandbox(srv, "OAUTH_DPOP=true\n")
}

fn key_file(sb: &Sandbox) -> std::path::PathBuf {
    sb.tokens_dir().join(".dev.dpop.jwk")
}

fn nonce_file(sb: &Sandbox) -> std::path::PathBuf {
    sb.tokens_dir().join(".dev.dpop-nonces.json")
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The RFC 7638 thumbprint of the sandbox's key, as the IdP computes it.
fn key_jkt(sb: &Sandbox) -> String {
    lmi_testidp::dpop_thumbprint(&read_json(&key_file(sb))).unwrap()
}

#[test]
fn a_dpop_token_is_bound_cached_with_its_key_and_reused() {
    let srv = dpop_server(|_| {});
    let sb = dpop_sandbox(&srv);
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    let first = out.json();
    assert_eq!(first["token_type"], "DPoP");
    assert_eq!(first["source"], "acquired");
    assert_eq!(srv.dpop_token_proofs(), 1, "the IdP verified one proof");
    assert!(
        srv.dpop_rejections().is_empty(),
        "{:?}",
        srv.dpop_rejections()
    );

    // The key: a private P-256 JWK, 0600 in the 0700 token folder.
    let key = read_json(&key_file(&sb));
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert!(key["d"].is_string());
    assert_eq!(mode(&key_file(&sb)), 0o600);
    assert_eq!(mode(&sb.tokens_dir()), 0o700);

    // The cache records the type and the key's thumbprint.
    let cached = read_json(&sb.token_file("dev"));
    assert_eq!(cached["token_type"], "DPoP");
    assert_eq!(cached["dpop_jkt"], key_jkt(&sb).as_str());

    let second = sb.run(&["auth", "token"]);
    second.assert_ok();
    assert_eq!(second.json()["source"], "cache");
    assert_eq!(srv.token_requests(), 1);

    // inspect: the token's cnf.jkt is this machine's key.
    let inspect = sb.run(&["auth", "inspect"]);
    inspect.assert_ok();
    let inspected = inspect.json();
    assert_eq!(inspected["claims"]["cnf"]["jkt"], key_jkt(&sb).as_str());
    assert_eq!(inspected["dpop_key_matches"], true);

    let status = sb.run(&["auth", "status"]);
    assert_eq!(status.json()["environment"]["token_type"], "DPoP");
}

#[test]
fn an_opaque_token_matches_by_the_thumbprint_recorded_with_it() {
    let srv = TestServer::start(Options {
        dpop: DpopBehaviour::for_client("lmi-client"),
        ..Options::default()
    })
    .unwrap();
    let sb = dpop_sandbox(&srv);
    let out = sb.run(&["auth", "inspect"]);
    out.assert_ok();
    assert_eq!(out.json()["format"], "opaque");
    assert_eq!(out.json()["dpop_key_matches"], true);
}

#[test]
fn a_bearer_environment_says_so_and_has_no_key() {
    let srv = super::server();
    let sb = sandbox(&srv, "");
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    assert_eq!(out.json()["token_type"], "Bearer");
    assert!(!key_file(&sb).exists());
    let inspect = sb.run(&["auth", "inspect"]);
    assert!(inspect.json().get("dpop_key_matches").is_none());
    assert_eq!(
        sb.run(&["auth", "status"]).json()["environment"]["token_type"],
        "Bearer"
    );
}

#[test]
fn turning_dpop_on_makes_a_cached_bearer_token_a_miss() {
    // The IdP binds whenever a proof comes, without requiring one.
    let srv = TestServer::start_default().unwrap();
    let sb = sandbox(&srv, "");
    sb.run(&["auth", "token"]).assert_ok();
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nOAUTH_DPOP=true\n",
            srv.token_url()
        ),
    );
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    assert_eq!(out.json()["token_type"], "DPoP");
    assert_eq!(srv.token_requests(), 2, "the Bearer token was not used");
}

#[test]
fn a_token_bound_to_another_key_is_a_miss() {
    let srv = dpop_server(|_| {});
    let sb = dpop_sandbox(&srv);
    sb.run(&["auth", "token"]).assert_ok();
    let old_jkt = key_jkt(&sb);
    // The key goes (as if copied elsewhere without it): the token cannot
    // be used, a new key and a new token are made.
    std::fs::remove_file(key_file(&sb)).unwrap();
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    assert_eq!(out.json()["source"], "acquired");
    assert_eq!(srv.token_requests(), 2);
    assert_ne!(key_jkt(&sb), old_jkt);
    assert_eq!(
        read_json(&sb.token_file("dev"))["dpop_jkt"],
        key_jkt(&sb).as_str()
    );
}

#[test]
fn the_authorization_servers_nonce_gets_one_retry_and_is_kept() {
    let srv = dpop_server(|d| d.token_nonce = true);
    let sb = dpop_sandbox(&srv);
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    assert_eq!(out.json()["token_type"], "DPoP");
    assert_eq!(srv.dpop_token_nonce_challenges(), 1);
    assert_eq!(srv.token_requests(), 2, "one challenge, one retry");
    // Kept for the next run, 0600.
    let nonces = read_json(&nonce_file(&sb));
    assert_eq!(nonces[srv.idp_url()], srv.dpop_token_nonce().as_str());
    assert_eq!(mode(&nonce_file(&sb)), 0o600);

    // The next run sends it at once: no second challenge.
    std::fs::remove_file(sb.token_file("dev")).unwrap();
    sb.run(&["auth", "token"]).assert_ok();
    assert_eq!(srv.token_requests(), 3);
    assert_eq!(srv.dpop_token_nonce_challenges(), 1);
}

#[test]
fn a_second_nonce_challenge_in_a_row_is_an_error_not_a_loop() {
    let srv = dpop_server(|d| d.token_nonce_always = true);
    let sb = dpop_sandbox(&srv);
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4);
    out.assert_stderr_contains("use_dpop_nonce");
    out.assert_stderr_contains("Authorization server requires nonce in DPoP proof");
    assert_eq!(srv.token_requests(), 2, "exactly one retry");
    assert!(!sb.token_file("dev").exists());
}

#[test]
fn a_bearer_answer_to_a_dpop_request_is_refused_and_not_cached() {
    let srv = dpop_server(|d| d.answer_bearer = true);
    let sb = dpop_sandbox(&srv);
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4);
    out.assert_stderr_contains("did not bind the token");
    out.assert_stderr_contains("OAUTH_DPOP=false");
    assert_eq!(out.stdout, "");
    assert!(!sb.token_file("dev").exists(), "nothing cached");
}

/// A key file that cannot be trusted or used: exit 3 naming it, the file
/// left as it was, no token request.
fn assert_refused(sb: &Sandbox, srv: &TestServer, why: &str) {
    let path = key_file(sb);
    let before = std::fs::read(&path).unwrap();
    let out = sb.run(&["auth", "token"]);
    out.assert_code(3);
    out.assert_stderr_contains(&path.display().to_string());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "{why}: the file is kept"
    );
    assert_eq!(srv.token_requests(), 0, "{why}");
}

#[test]
fn bad_key_files_are_refused_by_name_and_never_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let srv = dpop_server(|_| {});
    let sb = dpop_sandbox(&srv);
    let path = key_file(&sb);
    std::fs::create_dir_all(sb.tokens_dir()).unwrap();
    std::fs::set_permissions(sb.tokens_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();

    sb.write_private(&path, r#"{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}"#);
    assert_refused(&sb, &srv, "an RSA key");
    sb.write_private(&path, "not a key at all\n");
    assert_refused(&sb, &srv, "not JSON");
    // P-384 and a public-only P-256 key.
    sb.write_private(
        &path,
        r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA","d":"AA"}"#,
    );
    assert_refused(&sb, &srv, "P-384");
    sb.write_private(
        &path,
        r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
    );
    assert_refused(&sb, &srv, "no private key");

    // A good key that others could have written.
    std::fs::remove_file(&path).unwrap();
    let other = dpop_server(|_| {});
    let sb2 = dpop_sandbox(&other);
    sb2.run(&["auth", "token"]).assert_ok();
    std::fs::remove_file(sb2.token_file("dev")).unwrap();
    std::fs::set_permissions(key_file(&sb2), std::fs::Permissions::from_mode(0o666)).unwrap();
    let before = std::fs::read(key_file(&sb2)).unwrap();
    let out = sb2.run(&["auth", "token"]);
    out.assert_code(3);
    out.assert_stderr_contains(".dev.dpop.jwk");
    out.assert_stderr_contains("writable by group or others");
    assert_eq!(std::fs::read(key_file(&sb2)).unwrap(), before);
    assert_eq!(other.token_requests(), 1, "none after the first");

    // Owned by another user: only root can make such a file to test with.
    std::fs::set_permissions(key_file(&sb2), std::fs::Permissions::from_mode(0o600)).unwrap();
    if std::os::unix::fs::chown(key_file(&sb2), Some(54_321), None).is_ok() {
        let out = sb2.run(&["auth", "token"]);
        out.assert_code(3);
        out.assert_stderr_contains(".dev.dpop.jwk");
        out.assert_stderr_contains("owned by uid 54321");
        assert_eq!(std::fs::read(key_file(&sb2)).unwrap(), before);
        assert_eq!(other.token_requests(), 1);
    }
}

#[test]
fn auth_clear_and_env_remove_take_the_key_and_nonces() {
    let srv = dpop_server(|d| d.token_nonce = true);
    let sb = dpop_sandbox(&srv);
    sb.run(&["auth", "token"]).assert_ok();
    assert!(key_file(&sb).exists() && nonce_file(&sb).exists());
    let out = sb.run(&["auth", "clear"]);
    out.assert_ok();
    assert_eq!(out.json()["cleared"], serde_json::json!(["dev"]));
    assert!(!key_file(&sb).exists(), "the key goes with the token");
    assert!(!nonce_file(&sb).exists());

    sb.run(&["auth", "token"]).assert_ok();
    assert!(key_file(&sb).exists());
    sb.run(&["env", "remove", "dev"]).assert_ok();
    assert!(!key_file(&sb).exists());
    assert!(!nonce_file(&sb).exists());
}

#[test]
fn auth_clear_all_takes_a_key_whose_token_file_is_gone() {
    let srv = dpop_server(|d| d.token_nonce = true);
    let sb = dpop_sandbox(&srv);
    sb.run(&["auth", "token"]).assert_ok();
    let token_file = key_file(&sb).with_file_name("dev.json");
    std::fs::remove_file(&token_file).unwrap();
    assert!(key_file(&sb).exists() && nonce_file(&sb).exists());
    let out = sb.run(&["auth", "clear", "--all"]);
    out.assert_ok();
    assert_eq!(out.json()["cleared"], serde_json::json!(["dev"]));
    assert!(
        !key_file(&sb).exists(),
        "--all finds the key without its token"
    );
    assert!(!nonce_file(&sb).exists());
}

#[test]
fn proofs_and_the_private_key_never_reach_logs() {
    let srv = dpop_server(|d| {
        d.token_nonce = true;
        d.api_nonce = true;
    });
    let sb = sandbox(
        &srv,
        &format!(
            "OAUTH_DPOP=true\nAPI_BASE_URL={}\nLOG_LEVEL=debug\n",
            srv.api_url()
        ),
    );
    let token = sb.run(&["-vv", "auth", "token"]);
    token.assert_ok();
    let api = sb.run(&["-vv", "api", "/whoami"]);
    api.assert_ok();
    let proof = sb.run(&["-vv", "auth", "proof", "/whoami"]);
    proof.assert_ok();
    let printed = proof.json()["dpop"].as_str().unwrap().to_owned();
    let d = read_json(&key_file(&sb))["d"].as_str().unwrap().to_owned();
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    assert!(log.contains("DEBUG"), "the file log ran at debug:\n{log}");
    let seen = srv.dpop_proofs_seen();
    assert!(
        seen.len() >= 4,
        "token and API proofs, challenges included: {}",
        seen.len()
    );
    for (name, text) in [
        ("token stderr", &token.stderr),
        ("api stderr", &api.stderr),
        ("proof stderr", &proof.stderr),
        ("file log", &log),
    ] {
        assert!(!text.contains(&d), "{name} holds the private key");
        for proof in seen.iter().chain([&printed]) {
            assert!(!text.contains(proof.as_str()), "{name} holds a proof");
            // Nor its signature alone.
            let signature = proof.rsplit('.').next().unwrap();
            assert!(
                !text.contains(signature),
                "{name} holds a proof's signature"
            );
        }
    }
}
