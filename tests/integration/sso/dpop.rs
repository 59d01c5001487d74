//! The SSO session bound to a DPoP key (`OAUTH_SSO_DPOP=true`, SPEC §4.3)
//! against the test IdP, which checks every proof as a strict server does:
//! the key made at login and kept only inside the session's entry, proofs
//! on the push, the code redemption and the refresh, `dpop_jkt` on the
//! authorization request, a Bearer answer refused with the previous session
//! kept, the server's nonce taken once and kept, and the key gone with
//! `logout sso`.

use lmi_testidp::{DpopBehaviour, TestServer};

use super::{
    account, idp, keychain_entry, login, require_secret_service, sandbox, session_file, stored,
    unique_client, Store,
};
use crate::support::{backdate, Sandbox};

/// The test IdP requiring DPoP of `client`, with its PAR endpoint offered.
fn dpop_idp(client: &str) -> TestServer {
    let srv = idp(client);
    srv.set(|b| {
        b.dpop = DpopBehaviour::for_client(client);
        b.par.advertised = true;
    });
    srv
}

fn dpop_sandbox(srv: &TestServer, client: &str, store: Store, extra: &str) -> Sandbox {
    sandbox(
        srv.idp_url(),
        client,
        store,
        &format!("OAUTH_SSO_DPOP=true\n{extra}"),
    )
}

/// The thumbprint of the key that signed a proof (its header's `jwk`).
fn proof_jkt(proof: &str) -> String {
    use base64::Engine as _;
    let header = proof.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "dpop+jwt");
    assert!(header["jwk"].get("d").is_none(), "a private key in a proof");
    lmi_testidp::dpop_thumbprint(&header["jwk"]).unwrap()
}

#[test]
fn sso_dpop_login_binds_the_session_and_refresh_keeps_the_key() {
    let srv = dpop_idp("lmi-public");
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = dpop_sandbox(&srv, "lmi-public", Store::File, "TOKEN_EXPIRY_SKEW=60\n");
    let out = login(&sb, &["-vv"]);
    out.assert_ok();

    let session = stored(&sb);
    assert_eq!(session["token_type"], "DPoP", "{session}");
    let jkt = session["dpop_jkt"].as_str().unwrap().to_owned();
    let jwk = session["dpop_jwk"].as_str().unwrap().to_owned();
    // The push carried a proof by the session's key, and dpop_jkt.
    let push = srv.last_par_request().unwrap();
    assert_eq!(proof_jkt(push.header("dpop").unwrap()), jkt);
    assert_eq!(push.param("dpop_jkt"), Some(jkt.as_str()));
    // So did the code redemption; the server checked it.
    let redeem = srv.last_token_request().unwrap();
    assert_eq!(redeem.param("grant_type"), Some("authorization_code"));
    assert_eq!(proof_jkt(redeem.header("dpop").unwrap()), jkt);
    assert_eq!(srv.dpop_token_proofs(), 1);
    // Status and inspect say what kind of token it is.
    let status = sb.run(&["auth", "status"]);
    status.assert_ok();
    assert_eq!(status.json()["sso"]["token_type"], "DPoP");
    let inspect = sb.run(&["auth", "inspect", "--sso"]);
    inspect.assert_ok();
    assert_eq!(inspect.json()["dpop_key_matches"], true);

    // The refresh proves possession of the same key, which stays.
    backdate(&session_file(&sb).unwrap());
    let out = login(&sb, &["-vv"]);
    out.assert_ok();
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    let refresh = srv.last_token_request().unwrap();
    assert_eq!(proof_jkt(refresh.header("dpop").unwrap()), jkt);
    assert_eq!(srv.dpop_token_proofs(), 2);
    let after = stored(&sb);
    assert_eq!(after["dpop_jwk"].as_str(), Some(jwk.as_str()));
    assert_eq!(after["token_type"], "DPoP");

    // The private key never reaches a log line, and there is no key file.
    let d: serde_json::Value = serde_json::from_str(&jwk).unwrap();
    let d = d["d"].as_str().unwrap();
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    assert!(!out.stderr.contains(d) && !log.contains(d));
    let files = super::files_below(sb.home());
    assert!(
        !files.iter().any(|f| f.to_string_lossy().contains("dpop")),
        "{files:?}"
    );
    sb.run(&["logout", "sso"]).assert_ok();
    assert!(session_file(&sb).is_none());
}

#[test]
fn sso_dpop_bearer_answer_is_refused_and_keeps_the_previous_session() {
    let srv = dpop_idp("lmi-public");
    let sb = dpop_sandbox(&srv, "lmi-public", Store::File, "");
    login(&sb, &[]).assert_ok();
    let before = std::fs::read(session_file(&sb).unwrap()).unwrap();
    srv.set(|b| b.dpop.answer_bearer = true);
    let out = login(&sb, &["--force"]);
    out.assert_code(4);
    let error = out.error_line().unwrap();
    assert!(error.contains("did not bind"), "{error}");
    assert_eq!(std::fs::read(session_file(&sb).unwrap()).unwrap(), before);

    // A bearer session does not stand in for a bound one: turning DPoP on
    // makes the next login a new one.
    srv.set(|b| b.dpop.answer_bearer = false);
    let bearer = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    srv.set(|b| b.dpop.clients.clear());
    login(&bearer, &[]).assert_ok();
    assert_eq!(stored(&bearer)["token_type"], "Bearer");
    let authorized = srv.authorize_requests();
    let out = bearer.run(&["login", "sso", "--set", "OAUTH_SSO_DPOP=true"]);
    out.assert_ok();
    assert_eq!(
        srv.authorize_requests(),
        authorized + 1,
        "a new login: {}",
        out.stderr
    );
    assert_eq!(stored(&bearer)["token_type"], "DPoP");
}

#[test]
fn sso_dpop_token_endpoint_nonce_takes_one_retry() {
    let srv = dpop_idp("lmi-public");
    srv.set(|b| b.dpop.token_nonce = true);
    let sb = dpop_sandbox(&srv, "lmi-public", Store::File, "");
    let out = login(&sb, &["-vv"]);
    out.assert_ok();
    assert_eq!(srv.dpop_token_nonce_challenges(), 1);
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 2);
    let session = stored(&sb);
    assert!(
        session["dpop_nonces"][srv.idp_url()].is_string(),
        "{session}"
    );

    // A server that asks every time gets two requests, then the error.
    srv.set(|b| b.dpop.token_nonce_always = true);
    let before = std::fs::read(session_file(&sb).unwrap()).unwrap();
    let redeemed = srv.token_requests_by_grant("authorization_code");
    let out = login(&sb, &["--force"]);
    out.assert_code(4).assert_stderr_contains("use_dpop_nonce");
    assert_eq!(
        srv.token_requests_by_grant("authorization_code"),
        redeemed + 2
    );
    assert_eq!(std::fs::read(session_file(&sb).unwrap()).unwrap(), before);
}

#[test]
fn sso_dpop_key_lives_in_the_keychain_entry_and_goes_with_logout() {
    require_secret_service();
    let client = unique_client("dpop");
    let srv = dpop_idp(&client);
    let sb = dpop_sandbox(&srv, &client, Store::Keychain, "");
    login(&sb, &[]).assert_ok();
    let entry = keychain_entry(&account(&client, srv.idp_url())).expect("a keychain entry");
    assert_eq!(entry["token_type"], "DPoP");
    assert!(entry["dpop_jwk"].is_string() && entry["dpop_jkt"].is_string());
    assert!(session_file(&sb).is_none());
    sb.run(&["logout", "sso"]).assert_ok();
    assert!(keychain_entry(&account(&client, srv.idp_url())).is_none());
}

#[test]
fn sso_dpop_device_polls_carry_proofs() {
    let srv = dpop_idp("lmi-public");
    srv.set(|b| {
        b.device_interval = Some(1);
        b.device_pending_polls = 1;
    });
    let mut sb = dpop_sandbox(&srv, "lmi-public", Store::File, "");
    sb.var("BROWSER", "");
    let out = login(&sb, &["--device"]);
    out.assert_ok();
    assert_eq!(out.json()["flow"], "device");
    let session = stored(&sb);
    assert_eq!(session["token_type"], "DPoP");
    let jkt = session["dpop_jkt"].as_str().unwrap();
    assert_eq!(
        srv.token_requests_by_grant(lmi_testidp::DEVICE_CODE_GRANT),
        2
    );
    assert_eq!(srv.dpop_token_proofs(), 2, "a proof on every poll");
    let poll = srv.last_token_request().unwrap();
    assert_eq!(proof_jkt(poll.header("dpop").unwrap()), jkt);
    assert_eq!(srv.par_requests(), 0, "the device flow pushes nothing");
}

#[test]
fn sso_dpop_session_is_the_subject_token_of_an_exchange() {
    let srv = dpop_idp("lmi-public");
    let sb = dpop_sandbox(&srv, "lmi-public", Store::File, "DEFAULT_ENVIRONMENT=ops\n");
    sb.write_env(
        "ops",
        &format!(
            "OAUTH_GRANT_TYPE=token_exchange\nOAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\n\
             OAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL={}\n",
            srv.token_url(),
            srv.api_url()
        ),
    );
    login(&sb, &[]).assert_ok();
    let session = stored(&sb);
    assert_eq!(session["token_type"], "DPoP");
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    let exchange = srv.last_token_request().unwrap();
    assert_eq!(
        exchange.param("subject_token"),
        session["access_token"].as_str()
    );
    // The environment's own token is what its settings make it (Bearer
    // here: OAUTH_DPOP is the environment's key, not the session's).
    assert_eq!(out.json()["token_type"], "Bearer");
    let who = sb.run(&["api", "/whoami"]);
    who.assert_ok();
    assert_eq!(who.json()["sub"], "alice-sub");
}
