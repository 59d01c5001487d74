//! Logins that must fail: token-endpoint errors, a denied authorization,
//! every kind of bad ID token, and insecure endpoints; a failed login
//! leaves the previous session as it was.

use std::collections::HashSet;

use lmi_testidp::{IdTokenFault, TokenFailure};

use super::{browser, idp, login, sandbox, session_file, take_report, Store};
use crate::support::Sandbox;

#[test]
fn sso_token_endpoint_errors_keep_the_previous_session() {
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    login(&sb, &[]).assert_ok();
    let before = std::fs::read(session_file(&sb).unwrap()).unwrap();
    let report = sb.home().join("browser-report.json");
    // The browser is told the login failed.
    sb.var(
        "BROWSER",
        browser(&format!(
            " --expect-body Login%20failed --report {}",
            report.display()
        )),
    );
    let cases = [
        (
            TokenFailure::ServerError,
            ["HTTP 500", "the token service fell over"],
        ),
        (
            TokenFailure::InvalidGrant,
            [
                "invalid_grant",
                "The provided authorization grant is invalid",
            ],
        ),
    ];
    for (failure, quoted) in cases {
        srv.set(|b| b.token_failure = Some(failure.clone()));
        let out = login(&sb, &["--force"]);
        out.assert_code(4);
        let error = out
            .error_line()
            .unwrap_or_else(|| panic!("{failure:?}: no error line:\n{}", out.stderr));
        assert!(
            error.contains("exchanging the authorization code failed"),
            "{failure:?}: {error}"
        );
        for words in quoted {
            assert!(
                error.contains(words),
                "{failure:?} lacks {words:?}: {error}"
            );
        }
        assert_eq!(take_report(&report)["exit"], 0, "{failure:?}");
        assert_eq!(
            std::fs::read(session_file(&sb).unwrap()).unwrap(),
            before,
            "{failure:?} changed the session"
        );
    }
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 3);
    srv.set(|b| b.token_failure = None);
    let status = sb.run(&["auth", "status"]);
    status.assert_ok();
    assert_eq!(status.json()["sso"]["logged_in"], true);
}

#[test]
fn sso_access_denied_keeps_the_previous_session() {
    let srv = idp("unused");
    let sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    login(&sb, &[]).assert_ok();
    let before = std::fs::read(session_file(&sb).unwrap()).unwrap();
    srv.set(|b| {
        b.authorize_error = Some(("access_denied".into(), "The user denied the request".into()))
    });
    let out = login(&sb, &["--force"]);
    out.assert_code(4)
        .assert_stderr_contains("access_denied")
        .assert_stderr_contains("The user denied the request");
    assert_eq!(
        srv.token_requests_by_grant("authorization_code"),
        1,
        "no exchange after a denial"
    );
    assert_eq!(std::fs::read(session_file(&sb).unwrap()).unwrap(), before);
    sb.run(&["auth", "status"]).assert_ok();
}

#[test]
fn sso_id_token_faults_are_refused_and_keep_the_previous_session() {
    let srv = idp("unused");
    let sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    login(&sb, &[]).assert_ok();
    let before = std::fs::read(session_file(&sb).unwrap()).unwrap();
    // The words lmi uses for each fault (src/auth/sso/id_token.rs, flow).
    let cases = [
        (IdTokenFault::BadSignature, "its signature does not verify"),
        (
            IdTokenFault::WrongAudience,
            "its audience (aud) is not this client",
        ),
        (
            IdTokenFault::WrongIssuer,
            "its issuer (iss) is not OAUTH_SSO_ISSUER",
        ),
        (IdTokenFault::Expired, "it has expired"),
        (
            IdTokenFault::WrongNonce,
            "its nonce is not the one of this login",
        ),
        (IdTokenFault::AlgNone, "unsupported alg"),
        (IdTokenFault::Missing, "no ID token"),
    ];
    let mut errors = HashSet::new();
    for (fault, words) in cases {
        srv.set(|b| b.id_token_fault = Some(fault));
        let out = login(&sb, &["--force"]);
        out.assert_code(4);
        let error = out
            .error_line()
            .unwrap_or_else(|| panic!("{fault:?}: no error line:\n{}", out.stderr));
        assert!(
            error.contains("ID token") && error.contains(words),
            "{fault:?}: {error}"
        );
        assert!(
            errors.insert(error.to_owned()),
            "{fault:?} gives the same error as another fault: {error}"
        );
        assert_eq!(
            std::fs::read(session_file(&sb).unwrap()).unwrap(),
            before,
            "{fault:?} changed the session"
        );
    }
    assert_eq!(
        srv.token_requests_by_grant("authorization_code"),
        1 + cases.len()
    );
    srv.set(|b| b.id_token_fault = None);
    login(&sb, &["--force"]).assert_ok();
    assert_ne!(std::fs::read(session_file(&sb).unwrap()).unwrap(), before);
}

#[test]
fn sso_insecure_endpoints_are_configuration_errors() {
    let sb = sandbox("http://idp.example.com", "lmi-public", Store::File, "");
    let out = login(&sb, &[]);
    out.assert_code(3)
        .assert_stderr_contains("OAUTH_SSO_ISSUER");
    let out = sb.run(&[
        "login",
        "sso",
        "--set",
        "OAUTH_SSO_ISSUER=https://idp.example.com",
        "--set",
        "OAUTH_SSO_TOKEN_URL=http://idp.example.com/token",
    ]);
    out.assert_code(3)
        .assert_stderr_contains("OAUTH_SSO_TOKEN_URL");
    let sb = Sandbox::new();
    sb.write_main("OAUTH_SSO_ISSUER=https://idp.example.com\n");
    login(&sb, &[])
        .assert_code(3)
        .assert_stderr_contains("OAUTH_SSO_CLIENT_ID");
}
