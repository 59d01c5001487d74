//! The device flow against a real third-party OpenID Provider: panva's
//! `oidc-provider` from npm (`tests/node/oidc-provider.mjs`), approved by a
//! scripted user agent (`tests/node/device-approve.mjs` as `$BROWSER`) that
//! opens the verification URI, confirms the code, signs in and consents on
//! oidc-provider's own pages. The IdP's default polling interval (5 s) is
//! kept, so the test also measures what a device login costs.

use std::time::Instant;

use super::{login, session_file, stored, take_report};
use crate::support::node_mock::{node_dir, NodeMockServer};
use crate::support::Sandbox;

#[test]
fn sso_device_login_against_oidc_provider() {
    let idp = NodeMockServer::start_script("oidc-provider.mjs", "oidc-provider", 0);
    let mut sb = Sandbox::new();
    sb.write_main(&format!(
        "OAUTH_SSO_ISSUER={}\nOAUTH_SSO_CLIENT_ID=lmi-device\nOAUTH_SSO_SCOPES=openid offline_access profile email\nOAUTH_SSO_TOKEN_STORE=file\n",
        idp.issuer
    ));
    let report = sb.home().join("approve-report.json");
    sb.var(
        "BROWSER",
        format!(
            "node {} --login alice --report {}",
            node_dir().join("device-approve.mjs").display(),
            report.display()
        ),
    );
    // An SSH session with BROWSER set: auto picks the browser flow, so the
    // device flow is asked for explicitly (the user agent still opens the
    // page through $BROWSER).
    sb.var("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22");
    let started = Instant::now();
    let out = login(&sb, &["--device", "-v"]);
    let took = started.elapsed();
    out.assert_ok();
    eprintln!("device login against oidc-provider took {took:?}");
    let seen = take_report(&report);
    assert_eq!(seen["ok"], true, "the user agent: {seen}");
    let json = out.json();
    assert_eq!(json["flow"], "device");
    assert_eq!(json["user"], "alice");
    assert_eq!(json["issuer"], idp.issuer);
    out.assert_stderr_contains("login flow: device (--device)");
    let user_code = out
        .stderr
        .lines()
        .skip_while(|l| !l.contains("enter the code"))
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.contains("enter the code"))
        .unwrap()
        .to_owned();
    assert_eq!(user_code.len(), 9, "{user_code}");
    out.assert_stderr_contains(&format!("{}/device?user_code=", idp.issuer));
    // oidc-provider's default interval: at least one 5 s wait.
    assert!(took.as_secs() >= 5, "{took:?}");

    // The session is stored as a browser login's, with a refresh token.
    let session = stored(&sb);
    assert_eq!(session["user"], "alice");
    assert!(session["refresh_token"].is_string() && session["id_token"].is_string());
    let status = sb.run(&["auth", "status"]);
    status.assert_ok();
    assert_eq!(status.json()["sso"]["refreshable"], true);

    // Logging out revokes at oidc-provider and forgets the session.
    let out = sb.run(&["logout", "sso"]);
    out.assert_ok();
    assert_eq!(out.json()["revoked"], true);
    assert!(session_file(&sb).is_none());
    // The user code was shown to the person, never written to the log.
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    assert!(log.contains("device authorization at"), "{log}");
    assert!(!log.contains(&user_code), "{log}");
}
