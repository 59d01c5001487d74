//! RFC 9207 in the browser flow: a user agent that alters or drops `iss`
//! on the authorization response gets HTTP 400, lmi keeps waiting, and the
//! code is never redeemed at the IdP; a normal login works afterwards.

use std::os::unix::fs::PermissionsExt;

use lmi_testidp::{AuthorizationIss, TestServer};

use super::{browser, idp, login, sandbox, session_file, take_report, Store};
use crate::support::workspace_bin;

fn iss_idp(supported: Option<bool>) -> TestServer {
    let srv = idp("unused");
    srv.set(|b| {
        b.authorization_iss = AuthorizationIss::Correct;
        b.iss_parameter_supported = supported;
    });
    srv
}

#[test]
fn sso_altered_or_missing_iss_is_refused_and_never_redeemed() {
    for (srv, edit, words) in [
        (
            iss_idp(None),
            " --set-iss https://mix-up.example.test",
            "iss \"https://mix-up.example.test\" is not the issuer",
        ),
        (iss_idp(Some(true)), " --drop-iss", "without iss"),
    ] {
        let mut sb = sandbox(
            srv.idp_url(),
            "lmi-public",
            Store::File,
            "OAUTH_SSO_LOGIN_TIMEOUT=3\n",
        );
        let report = sb.home().join("browser-report.json");
        // A script: `$BROWSER` is split at colons, and the issuer has one.
        let script = sb.home().join("altering-browser");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nexec {} browser{edit} --report '{}' \"$1\"\n",
                workspace_bin("testidp").display(),
                report.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        sb.var("BROWSER", script.display().to_string());
        let out = login(&sb, &[]);
        // lmi kept waiting for a proper callback until its timeout.
        out.assert_code(4)
            .assert_stderr_contains("no login callback");
        out.assert_stderr_contains(words);
        out.assert_stderr_contains("RFC 9207");
        let seen = take_report(&report);
        assert_eq!(seen["final_status"], 400, "{seen}");
        let issued = srv.issued_codes();
        assert_eq!(issued.len(), 1);
        assert_eq!(
            srv.code_redemptions(&issued[0]),
            0,
            "the code was never redeemed"
        );
        assert_eq!(srv.token_requests(), 0);
        assert!(session_file(&sb).is_none());

        // The same IdP and user agent, unaltered: a normal login.
        sb.var("BROWSER", browser(""));
        let out = login(&sb, &[]);
        out.assert_ok();
        assert_eq!(out.json()["flow"], "browser");
        let issued = srv.issued_codes();
        assert_eq!(srv.code_redemptions(&issued[1]), 1);
    }
}

#[test]
fn sso_missing_iss_is_accepted_when_the_metadata_promises_nothing() {
    let srv = iss_idp(Some(false));
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    sb.var("BROWSER", browser(" --drop-iss"));
    login(&sb, &[]).assert_ok();
}
