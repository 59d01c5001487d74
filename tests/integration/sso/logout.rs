//! `logout sso`: revocation at the IdP, a failing revocation, and logout
//! without SSO configured.

use super::{
    account, idp, keychain_entry, login, require_secret_service, sandbox, session_file,
    unique_client, Store,
};
use crate::support::Sandbox;

#[test]
fn sso_logout_revokes_and_removes_the_entry() {
    require_secret_service();
    let client = unique_client("logout");
    let srv = idp(&client);
    let sb = sandbox(srv.idp_url(), &client, Store::Keychain, "");
    let account = account(&client, srv.idp_url());
    login(&sb, &[]).assert_ok();
    let entry = keychain_entry(&account).unwrap();

    let out = sb.run(&["logout", "sso"]);
    out.assert_ok();
    assert_eq!(
        out.json(),
        serde_json::json!({"logged_out": true, "revoked": true})
    );
    assert_eq!(
        srv.revocations(),
        vec![entry["refresh_token"].as_str().unwrap().to_owned()]
    );
    assert_eq!(keychain_entry(&account), None, "the entry is gone");

    let status = sb.run(&["auth", "status"]);
    status
        .assert_code(4)
        .assert_stderr_contains("lmi login sso");
    assert_eq!(status.json()["sso"]["logged_in"], false);

    let again = sb.run(&["logout", "sso"]);
    again.assert_ok();
    assert_eq!(again.json()["revoked"], false);
    assert_eq!(srv.revocations().len(), 1, "nothing more to revoke");

    // Without a revocation endpoint nothing is revoked; the session still
    // goes.
    login(&sb, &[]).assert_ok();
    srv.set(|b| b.revocation_endpoint = false);
    let out = sb.run(&["logout", "sso"]);
    out.assert_ok();
    assert_eq!(out.json()["revoked"], false);
    assert_eq!(keychain_entry(&account), None);
}

#[test]
fn sso_failing_revocation_is_a_warning_and_the_session_goes() {
    let srv = idp("unused");
    let sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    login(&sb, &[]).assert_ok();
    assert!(session_file(&sb).is_some());
    srv.set(|b| b.revocation_failure = true);

    let out = sb.run(&["logout", "sso"]);
    out.assert_ok();
    assert_eq!(
        out.json(),
        serde_json::json!({"logged_out": true, "revoked": false})
    );
    let warning = out
        .stderr
        .lines()
        .find(|l| l.starts_with("warning: "))
        .unwrap_or_else(|| panic!("no warning:\n{}", out.stderr));
    assert!(warning.contains("HTTP 500"), "{warning}");
    assert_eq!(out.error_line(), None, "{}", out.stderr);
    assert!(srv.revocations().is_empty(), "the IdP revoked nothing");
    assert!(session_file(&sb).is_none(), "the session is gone anyway");
    let status = sb.run(&["auth", "status"]);
    status.assert_code(4);
    assert_eq!(status.json()["sso"]["logged_in"], false);
}

#[test]
fn sso_logout_without_sso_configured_succeeds() {
    let sb = Sandbox::new();
    let out = sb.run(&["logout", "sso"]);
    out.assert_ok();
    assert_eq!(
        out.json(),
        serde_json::json!({"logged_out": true, "revoked": false})
    );
    assert_eq!(
        sb.run(&["logout", "sso", "-o", "text"]).stdout.trim(),
        "Not logged in; nothing to do"
    );
    // Missing SSO keys are named with the main file, where they belong.
    sb.write_env("dev", "OAUTH_CLIENT_ID=x\n");
    let out = sb.run(&["-e", "dev", "login", "sso"]);
    out.assert_code(3)
        .assert_stderr_contains(".config/lmi/.env (the SSO session is shared");
}
