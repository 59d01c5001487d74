//! Pushed authorization requests (SPEC §5.2, RFC 9126) in the browser
//! login: pushed when the IdP offers it (`OAUTH_SSO_PAR=auto`), the URL
//! then naming only `client_id` and `request_uri`; never with `false`; a
//! configuration error with `true` and no endpoint; a refused push quoted,
//! with no browser and the previous session kept; the `request_uri` never
//! in a log line.

use std::collections::BTreeSet;

use lmi_testidp::TestServer;

use super::{idp, login, sandbox, session_file, Store};
use crate::support::Sandbox;

/// The test IdP with its PAR endpoint in the metadata.
fn par_idp(required: bool) -> TestServer {
    let srv = idp("unused");
    srv.set(|b| {
        b.par.advertised = true;
        b.par.required = required;
    });
    srv
}

/// The names in a query string, sorted.
fn names(query: &str) -> BTreeSet<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, _)| k.into_owned())
        .collect()
}

/// The authorization URL lmi printed on stderr.
fn printed_url(stderr: &str, srv: &TestServer) -> url::Url {
    let prefix = format!("{}/authorize?", srv.idp_url());
    let line = stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no authorization URL on stderr:\n{stderr}"));
    url::Url::parse(line).unwrap()
}

fn log_text(sb: &Sandbox) -> String {
    std::fs::read_to_string(sb.log_file()).unwrap_or_default()
}

#[test]
fn sso_par_pushes_and_the_url_names_only_the_request_uri() {
    for required in [false, true] {
        let srv = par_idp(required);
        let sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
        let out = login(&sb, &["-vv"]);
        out.assert_ok();
        assert_eq!(out.json()["user"], "alice@example.test");
        assert_eq!(srv.par_requests(), 1, "required={required}");
        assert_eq!(srv.token_requests_by_grant("authorization_code"), 1);

        // Everything went into the push.
        let push = srv.last_par_request().unwrap();
        for name in [
            "client_id",
            "response_type",
            "redirect_uri",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
        ] {
            assert!(push.param(name).is_some(), "no {name} in {:?}", push.form);
        }
        assert_eq!(push.param("client_id"), Some("lmi-public"));
        assert_eq!(push.param("code_challenge_method"), Some("S256"));
        // The code was redeemed with the pushed redirect URI and verifier.
        let token = srv.last_token_request().unwrap();
        assert_eq!(token.param("redirect_uri"), push.param("redirect_uri"));
        assert_eq!(
            lmi_testidp::pkce_challenge(token.param("code_verifier").unwrap()),
            push.param("code_challenge").unwrap()
        );

        // The browser's URL, and the one printed, carry client_id and
        // request_uri alone.
        let only: BTreeSet<String> = ["client_id", "request_uri"].map(String::from).into();
        let opened = srv.last_authorize_request().unwrap();
        assert_eq!(names(&opened.query), only, "{}", opened.query);
        let printed = printed_url(&out.stderr, &srv);
        assert_eq!(names(printed.query().unwrap_or("")), only);
        let request_uri = opened.query_param("request_uri").unwrap();
        assert!(
            request_uri.starts_with("urn:ietf:params:oauth:request_uri:"),
            "{request_uri}"
        );
        assert_eq!(
            printed
                .query_pairs()
                .find(|(k, _)| k == "request_uri")
                .unwrap()
                .1,
            request_uri
        );

        // Shown once, to be opened; never in a log line (-vv on stderr, or
        // the file log).
        let encoded: String =
            url::form_urlencoded::byte_serialize(request_uri.as_bytes()).collect();
        let shown = out
            .stderr
            .lines()
            .filter(|l| l.contains(&encoded) || l.contains(&request_uri))
            .collect::<Vec<_>>();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(shown[0].trim().starts_with(srv.idp_url()), "{shown:?}");
        let log = log_text(&sb);
        assert!(log.contains("pushed the authorization request"), "{log}");
        assert!(
            !log.contains(&request_uri) && !log.contains(&encoded),
            "{log}"
        );
        let suffix = request_uri.rsplit(':').next().unwrap();
        assert!(!log.contains(suffix), "{log}");
    }
}

#[test]
fn sso_par_false_does_not_push() {
    let srv = par_idp(false);
    let sb = sandbox(
        srv.idp_url(),
        "lmi-public",
        Store::File,
        "OAUTH_SSO_PAR=false\n",
    );
    login(&sb, &[]).assert_ok();
    assert_eq!(srv.par_requests(), 0);
    let opened = srv.last_authorize_request().unwrap();
    assert!(opened.query_param("request_uri").is_none());
    assert_eq!(
        opened.query_param("client_id").as_deref(),
        Some("lmi-public")
    );
    assert!(opened.query_param("code_challenge").is_some());

    // An IdP that requires pushed requests refuses the login, and the
    // hint says why.
    srv.set(|b| b.par.required = true);
    let out = login(&sb, &["--force"]);
    out.assert_code(4)
        .assert_stderr_contains("pushed authorization requests are required");
    let hint = out.stderr.lines().find(|l| l.starts_with("hint:")).unwrap();
    assert!(
        hint.contains("requires pushed authorization requests")
            && hint.contains("OAUTH_SSO_PAR=false"),
        "{hint}"
    );
    assert_eq!(srv.par_requests(), 0);
}

#[test]
fn sso_par_true_without_an_endpoint_is_a_configuration_error() {
    let srv = idp("unused");
    let sb = sandbox(
        srv.idp_url(),
        "lmi-public",
        Store::File,
        "OAUTH_SSO_PAR=true\n",
    );
    let out = login(&sb, &[]);
    out.assert_code(3);
    let error = out.error_line().unwrap();
    assert!(
        error.contains("OAUTH_SSO_PAR=true")
            && error.contains("pushed_authorization_request_endpoint"),
        "{error}"
    );
    assert_eq!(srv.authorize_requests(), 0, "no browser");
    assert_eq!(srv.par_requests(), 0);
    assert!(session_file(&sb).is_none());

    // A mistyped value is a configuration error too.
    let out = sb.run(&["login", "sso", "--set", "OAUTH_SSO_PAR=sometimes"]);
    out.assert_code(3).assert_stderr_contains("OAUTH_SSO_PAR");
}

#[test]
fn sso_a_refused_push_quotes_the_server_and_keeps_the_session() {
    let srv = idp("unused");
    let sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    login(&sb, &[]).assert_ok();
    assert_eq!(srv.par_requests(), 0, "not advertised: not pushed");
    let before = std::fs::read(session_file(&sb).unwrap()).unwrap();
    srv.set(|b| {
        b.par.advertised = true;
        b.par.refusal = Some((
            "invalid_request".into(),
            "pushed requests from this client are off".into(),
        ));
    });
    let out = login(&sb, &["--force", "-vv"]);
    out.assert_code(4);
    let error = out.error_line().unwrap();
    assert!(
        error.contains("invalid_request: pushed requests from this client are off")
            && error.contains(&srv.par_url()),
        "{error}"
    );
    assert_eq!(srv.par_requests(), 1);
    assert_eq!(srv.authorize_requests(), 1, "no browser after the refusal");
    assert!(!out.stderr.contains("open this URL"), "{}", out.stderr);
    assert_eq!(std::fs::read(session_file(&sb).unwrap()).unwrap(), before);
    let status = sb.run(&["auth", "status"]);
    status.assert_ok();
    assert_eq!(status.json()["sso"]["logged_in"], true);
}
