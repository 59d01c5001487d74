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
        format!("sso {} alice-sub", srv.idp_url())
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

#[test]
fn sso_exchanged_token_is_cached_per_account_not_per_email() {
    let client = unique_client("exchange-sub");
    let srv = idp(&client);
    let sb = sandbox(
        srv.idp_url(),
        &client,
        Store::File,
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
    login(&sb, &[]).assert_ok();
    let first = sb.run(&["auth", "token"]);
    first.assert_ok();
    assert_eq!(srv.token_exchanges(), 1);

    // Another account at the IdP with the same email (display name).
    srv.set(|b| b.sso_user.sub = "bob-sub".into());
    login(&sb, &["--force"]).assert_ok();
    assert_eq!(super::stored(&sb)["user"], "alice@example.test");
    let second = sb.run(&["auth", "token"]);
    second.assert_ok();
    assert_eq!(
        second.json()["source"],
        "acquired",
        "not the first account's token"
    );
    assert_eq!(srv.token_exchanges(), 2);
    assert_ne!(second.json()["access_token"], first.json()["access_token"]);
    let who = sb.run(&["api", "/whoami"]);
    who.assert_ok();
    assert_eq!(who.json()["sub"], "bob-sub");
}

#[test]
fn sso_session_token_goes_only_to_the_sso_issuer_or_listed_exchange_origins() {
    use crate::support::hostile::{Hostile, Reply};
    let client = unique_client("exchange-origins");
    let srv = idp(&client);
    // A token endpoint that is not the SSO issuer's: it answers like one,
    // so that once allowed, the exchange succeeds.
    let foreign = Hostile::always(Reply::json(
        200,
        r#"{"access_token":"foreign-token","token_type":"Bearer","expires_in":600}"#,
    ));
    let sb = sandbox(
        srv.idp_url(),
        &client,
        Store::File,
        "DEFAULT_ENVIRONMENT=ops\n",
    );
    let env = |extra: &str| {
        sb.write_env(
            "ops",
            &format!(
                "OAUTH_GRANT_TYPE=token_exchange\nOAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\n\
                 OAUTH_CLIENT_SECRET=lmi-secret\n{extra}",
                foreign.url("/token")
            ),
        )
    };
    env("");
    login(&sb, &[]).assert_ok();
    let access_token = super::stored(&sb)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let out = sb.run(&["auth", "token"]);
    out.assert_code(3)
        .assert_stderr_contains(&foreign.url("/token"))
        .assert_stderr_contains("OAUTH_EXCHANGE_ORIGINS");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(foreign.hits(), 0, "nothing is sent to the foreign endpoint");
    assert_eq!(srv.token_exchanges(), 0);

    // Listed in OAUTH_EXCHANGE_ORIGINS: the environment chose to send it.
    env(&format!("OAUTH_EXCHANGE_ORIGINS={}\n", foreign.url("")));
    sb.run(&["auth", "token"]).assert_ok();
    let sent = foreign.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].form("subject_token").as_deref(),
        Some(access_token.as_str())
    );

    // A subject token file is the environment's own: not restricted.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("subject.jwt");
    std::fs::write(&file, lmi_testidp::ci_token("repo:acme/app:job-1", 600)).unwrap();
    env(&format!("OAUTH_SUBJECT_TOKEN_FILE={}\n", file.display()));
    sb.run(&["auth", "token"]).assert_ok();
    assert_eq!(foreign.hits(), 2);
}
