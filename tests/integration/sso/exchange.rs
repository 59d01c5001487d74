//! Token exchange of the SSO session (SPEC §4.2): log in through the
//! scripted browser with the session in the real keychain, exchange its
//! access token for the environment's token (the API sees the person), and
//! `logout sso` deletes the exchanged token.

use super::{
    account, backdate_keychain, idp, keychain_entry, login, require_secret_service, sandbox,
    unique_client, Store,
};

#[test]
fn sso_session_is_exchanged_and_logout_removes_the_exchanged_token() {
    require_secret_service();
    let client = unique_client("exchange");
    let srv = idp(&client);
    let sb = sandbox(
        srv.idp_url(),
        &client,
        Store::Keychain,
        "DEFAULT_ENVIRONMENT=ops\n",
    );
    sb.write_env(
        "ops",
        &format!(
            "OAUTH_GRANT_TYPE=token_exchange\nOAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\n\
             OAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL={}\n",
            srv.token_url(),
            srv.api_url()
        ),
    );
    // Not logged in yet: exit 4, log in first.
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4).assert_stderr_contains("lmi login sso");

    login(&sb, &[]).assert_ok();
    let entry = keychain_entry(&account(&client, srv.idp_url())).unwrap();
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    assert_eq!(out.json()["source"], "acquired");
    let req = srv.last_token_request().unwrap();
    assert_eq!(req.param("subject_token"), entry["access_token"].as_str());
    assert_eq!(
        req.param("subject_token_type"),
        Some(lmi_testidp::TOKEN_TYPE_ACCESS_TOKEN)
    );
    let who = sb.run(&["api", "/whoami"]);
    who.assert_ok();
    assert_eq!(
        who.json()["sub"],
        "alice-sub",
        "the service token names the person"
    );
    assert_eq!(who.json()["client_id"], "lmi-client");

    let cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("ops")).unwrap()).unwrap();
    assert_eq!(
        cached["subject"],
        format!("sso {} alice@example.test", srv.idp_url())
    );
    assert_eq!(sb.run(&["auth", "token"]).json()["source"], "cache");
    assert_eq!(srv.token_exchanges(), 1);

    // An expired session access token is refreshed silently, then exchanged:
    // a session whose tokens live 30 s counts as expired under a 60 s skew.
    srv.set(|b| b.token_lifetime = Some(30));
    login(&sb, &["--force"]).assert_ok();
    sb.run(&["auth", "clear"]).assert_ok();
    backdate_keychain(&account(&client, srv.idp_url()));
    let stale = keychain_entry(&account(&client, srv.idp_url())).unwrap();
    let before = srv.token_requests_by_grant("refresh_token");
    sb.run(&["auth", "token", "--set", "TOKEN_EXPIRY_SKEW=60"])
        .assert_ok();
    assert_eq!(srv.token_requests_by_grant("refresh_token"), before + 1);
    let fresh = keychain_entry(&account(&client, srv.idp_url())).unwrap();
    assert_ne!(fresh["access_token"], stale["access_token"]);
    assert_eq!(
        srv.last_token_request().unwrap().param("subject_token"),
        fresh["access_token"].as_str()
    );
    assert_eq!(srv.token_exchanges(), 2);

    // Logout takes the exchanged token with the session.
    assert!(sb.token_file("ops").exists());
    sb.run(&["logout", "sso"]).assert_ok();
    assert!(
        !sb.token_file("ops").exists(),
        "the exchanged token is gone"
    );
    sb.run(&["auth", "token"]).assert_code(4);
}
