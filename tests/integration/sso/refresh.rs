//! The session over time: the `REQUIRE_SSO` gate, silent refresh of an
//! expired session and its failure, a refresh answered for another user
//! (also for a session stored in the old shape, without `subject`), a
//! session not used under another token endpoint, and login plus refresh
//! against oauth2-mock-server.

use lmi_testidp::TestServer;

use super::{idp, login, sandbox, session_file, stored, Store};
use crate::support::node_mock::NodeMockServer;
use crate::support::Sandbox;

/// A sandbox with a `dev` environment that requires SSO and whose service
/// token comes from the same IdP.
fn gated(srv: &TestServer, store: Store, extra: &str) -> Sandbox {
    let sb = sandbox(srv.idp_url(), "lmi-public", store, extra);
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nREQUIRE_SSO=true\n",
            srv.token_url()
        ),
    );
    sb
}

#[test]
fn sso_require_sso_without_a_session_hands_out_nothing() {
    let srv = idp("unused");
    let sb = gated(&srv, Store::File, "");
    let out = sb.run(&["-e", "dev", "auth", "token"]);
    out.assert_code(4)
        .assert_stderr_contains("REQUIRE_SSO")
        .assert_stderr_contains("hint: run: lmi login sso");
    assert_eq!(
        srv.token_requests(),
        0,
        "no service token without a session"
    );
    let api = sb.run(&[
        "-e",
        "dev",
        "api",
        "/whoami",
        "--set",
        &format!("API_BASE_URL={}", srv.api_url()),
    ]);
    api.assert_code(4);
    assert_eq!(srv.api_requests(), 0);

    login(&sb, &[]).assert_ok();
    srv.reset_counts();
    sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
    assert_eq!(srv.token_requests_by_grant("client_credentials"), 1);
    assert_eq!(
        srv.token_requests_by_grant("refresh_token"),
        0,
        "a valid session is not refreshed"
    );
}

#[test]
fn sso_expired_session_is_refreshed_silently_then_fails_with_hint() {
    let srv = idp("unused");
    // Lifetime below the skew: the SSO access token is stale at once.
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = gated(&srv, Store::File, "TOKEN_EXPIRY_SKEW=60\n");
    login(&sb, &[]).assert_ok();
    crate::support::backdate(&session_file(&sb).unwrap());
    let first = stored(&sb);
    srv.reset_counts();

    let out = sb.run(&["-e", "dev", "auth", "token"]);
    out.assert_ok();
    assert_eq!(out.json()["source"], "acquired");
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(srv.token_requests_by_grant("client_credentials"), 1);
    assert_eq!(srv.authorize_requests(), 0, "refresh is silent");
    let second = stored(&sb);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_ne!(
        second["refresh_token"], first["refresh_token"],
        "the rotated refresh token is kept"
    );
    assert_eq!(second["user"], "alice@example.test");

    // `login sso` refreshes an expired session instead of opening a browser.
    srv.reset_counts();
    crate::support::backdate(&session_file(&sb).unwrap());
    let again = login(&sb, &["--no-browser", "--set", "OAUTH_SSO_LOGIN_TIMEOUT=1"]);
    again.assert_ok();
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(srv.authorize_requests(), 0);

    // A refused refresh: exit 4 with the hint, no service token handed out.
    srv.set(|b| b.refresh_failure = true);
    srv.reset_counts();
    crate::support::backdate(&session_file(&sb).unwrap());
    let out = sb.run(&["-e", "dev", "auth", "token"]);
    out.assert_code(4)
        .assert_stderr_contains("invalid_grant")
        .assert_stderr_contains("hint: run: lmi login sso");
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(srv.token_requests_by_grant("client_credentials"), 0);
    let status = sb.run(&["auth", "status"]);
    status.assert_code(4);
    assert_eq!(
        status.json()["sso"]["logged_in"],
        false,
        "a dead refresh token is no session"
    );
}

#[test]
fn sso_refresh_for_another_user_is_refused() {
    let srv = idp("unused");
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = gated(&srv, Store::File, "TOKEN_EXPIRY_SKEW=60\n");
    login(&sb, &[]).assert_ok();
    crate::support::backdate(&session_file(&sb).unwrap());
    let before = std::fs::read(session_file(&sb).unwrap()).unwrap();
    assert_eq!(stored(&sb)["subject"], "alice-sub");

    // The IdP now answers the refresh with an ID token for someone else.
    srv.set(|b| b.sso_user.sub = "mallory-sub".into());
    let out = sb.run(&["-e", "dev", "auth", "token"]);
    out.assert_code(4)
        .assert_stderr_contains("another user")
        .assert_stderr_contains("hint: run: lmi login sso");
    assert_eq!(srv.token_requests_by_grant("client_credentials"), 0);
    assert_eq!(
        std::fs::read(session_file(&sb).unwrap()).unwrap(),
        before,
        "the session is untouched"
    );
}

#[test]
fn sso_refresh_of_an_old_session_checks_its_id_tokens_sub() {
    let srv = idp("unused");
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = gated(&srv, Store::File, "TOKEN_EXPIRY_SKEW=60\n");
    login(&sb, &[]).assert_ok();
    // The shape sessions had before lmi recorded `subject` (and the token
    // endpoint): the user is known only from the stored ID token.
    let path = session_file(&sb).unwrap();
    let to_old_shape = || {
        let mut old = stored(&sb);
        let entry = old.as_object_mut().unwrap();
        assert!(entry.remove("subject").is_some());
        entry.remove("token_endpoint");
        sb.write_private(&path, &old.to_string());
        crate::support::backdate(&path);
    };
    to_old_shape();
    let before = std::fs::read(&path).unwrap();

    srv.set(|b| b.sso_user.sub = "mallory-sub".into());
    let out = sb.run(&["-e", "dev", "auth", "token"]);
    out.assert_code(4)
        .assert_stderr_contains("another user")
        .assert_stderr_contains("hint: run: lmi login sso");
    assert_eq!(srv.token_requests_by_grant("client_credentials"), 0);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the session is untouched"
    );

    // The same user (a new session: the IdP rotated the refused one's
    // refresh token): the refresh goes through and records the subject.
    srv.set(|b| b.sso_user.sub = "alice-sub".into());
    login(&sb, &["--force"]).assert_ok();
    to_old_shape();
    sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
    assert_eq!(stored(&sb)["subject"], "alice-sub");
    assert_eq!(stored(&sb)["token_endpoint"], srv.token_url());
}

#[test]
fn sso_session_is_not_used_under_another_token_endpoint() {
    use crate::support::hostile::{Hostile, Reply};
    let srv = idp("unused");
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = gated(&srv, Store::File, "TOKEN_EXPIRY_SKEW=60\n");
    login(&sb, &[]).assert_ok();
    let path = session_file(&sb).unwrap();
    let first = stored(&sb);
    assert_eq!(first["issuer"], srv.idp_url());
    assert_eq!(first["client_id"], "lmi-public");
    assert_eq!(first["token_endpoint"], srv.token_url());
    assert_eq!(first["subject"], "alice-sub");
    crate::support::backdate(&path);
    let before = std::fs::read(&path).unwrap();

    // An env file or variable now names another token endpoint: it would
    // receive the refresh token at this refresh.
    let other = Hostile::always(Reply::json(
        200,
        r#"{"access_token":"x","token_type":"Bearer","refresh_token":"y","expires_in":600}"#,
    ));
    srv.reset_counts();
    let out = sb.run(&[
        "-e",
        "dev",
        "auth",
        "token",
        "--set",
        &format!("OAUTH_SSO_TOKEN_URL={}", other.url("/token")),
    ]);
    out.assert_code(4)
        .assert_stderr_contains(&other.url("/token"))
        .assert_stderr_contains("other settings")
        .assert_stderr_contains("hint: run: lmi login sso");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(other.hits(), 0, "the other endpoint received nothing");
    assert_eq!(srv.token_requests(), 0);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the session is untouched"
    );

    // Under its own settings the session still works.
    sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(other.hits(), 0);
}

#[test]
fn sso_against_oauth2_mock_server_login_and_refresh() {
    let mock = NodeMockServer::start();
    let sb = sandbox(&mock.issuer, "lmi-mock", Store::File, "");
    sb.write_env(
        "mock",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=svc\nOAUTH_CLIENT_SECRET=svc-secret\nREQUIRE_SSO=true\n",
            mock.url("/token")
        ),
    );
    let out = login(&sb, &[]);
    out.assert_ok();
    // The mock's ID token has no email or preferred_username: sub it is.
    assert_eq!(out.json()["user"], "johndoe");
    assert_eq!(out.json()["issuer"], mock.issuer.as_str());
    let first = stored(&sb);
    assert!(first["id_token"].is_string() && first["refresh_token"].is_string());

    // Its tokens live 3600 s: a larger skew makes the session stale, so the
    // next login must refresh (no browser within the 1 s timeout).
    crate::support::backdate(&session_file(&sb).unwrap());
    let again = login(
        &sb,
        &[
            "--no-browser",
            "--set",
            "OAUTH_SSO_LOGIN_TIMEOUT=1",
            "--set",
            "TOKEN_EXPIRY_SKEW=7200",
        ],
    );
    again.assert_ok();
    // Its JWTs are identical within one second; its refresh tokens are
    // random, so a new one proves the refresh.
    let second = stored(&sb);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(second["user"], "johndoe");

    // And the REQUIRE_SSO gate refreshes against it too.
    crate::support::backdate(&session_file(&sb).unwrap());
    let token = sb.run(&[
        "-e",
        "mock",
        "auth",
        "token",
        "--set",
        "TOKEN_EXPIRY_SKEW=7200",
    ]);
    token.assert_ok();
    assert_ne!(stored(&sb)["refresh_token"], second["refresh_token"]);

    let out = sb.run(&["logout", "sso"]);
    out.assert_ok();
    assert_eq!(out.json()["revoked"], true);
    assert!(session_file(&sb).is_none());
}
