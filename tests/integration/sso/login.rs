//! `login sso` when it works: the authorization request (PKCE, state,
//! nonce, scopes), the code exchange, what is stored and reported, an
//! existing session reused unless `--force`, explicit endpoints over
//! discovery, and the user name fallbacks.

use lmi_testidp::{IdTokenFault, SsoUser, WellKnown};

use super::{
    account, browser, files_below, idp, keychain_entry, login, require_secret_service, sandbox,
    stored, take_report, unique_client, Store,
};

#[test]
fn sso_login_keychain_happy_path_and_no_secret_leaks() {
    require_secret_service();
    let client = unique_client("happy");
    let srv = idp(&client);
    let mut sb = sandbox(srv.idp_url(), &client, Store::Keychain, "");
    let account = account(&client, srv.idp_url());
    // The page the browser ends on says who logged in and that it may be
    // closed ($BROWSER splits on spaces, so the text is percent-encoded).
    let report = sb.home().join("browser-report.json");
    sb.var(
        "BROWSER",
        browser(&format!(
            " --expect-body You%20may%20close%20this%20window --expect-body alice@example.test --report {}",
            report.display()
        )),
    );

    let out = login(&sb, &["-vv"]);
    out.assert_ok();
    let seen = take_report(&report);
    assert_eq!(seen["exit"], 0, "the browser: {seen}");
    assert_eq!(seen["final_status"], 200);
    let json = out.json();
    assert_eq!(json["logged_in"], true);
    assert_eq!(json["user"], "alice@example.test");
    assert_eq!(json["issuer"], srv.idp_url());
    assert!(json["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(srv.authorize_requests(), 1);
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 1);

    // The authorization request: PKCE S256, state, nonce, default scopes.
    let auth = srv.last_authorize_request().unwrap();
    let q = |k: &str| {
        auth.query_param(k)
            .unwrap_or_else(|| panic!("no {k} in {}", auth.query))
    };
    assert_eq!(q("response_type"), "code");
    assert_eq!(q("client_id"), client);
    assert_eq!(q("code_challenge_method"), "S256");
    assert_eq!(q("scope"), "openid profile email offline_access");
    let redirect = q("redirect_uri");
    assert!(
        redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"),
        "{redirect}"
    );
    assert!(q("state").len() >= 16 && q("nonce").len() >= 16 && q("state") != q("nonce"));
    // The URL is always printed on stderr.
    out.assert_stderr_contains(&format!("{}/authorize?", srv.idp_url()));

    // The exchange: public client, the verifier matching the challenge.
    let token = srv.last_token_request().unwrap();
    assert_eq!(token.param("client_id"), Some(client.as_str()));
    assert_eq!(token.param("client_secret"), None);
    assert_eq!(token.header("authorization"), None);
    assert_eq!(token.param("redirect_uri"), Some(redirect.as_str()));
    let verifier = token.param("code_verifier").unwrap().to_owned();
    let code = token.param("code").unwrap().to_owned();
    assert_eq!(lmi_testidp::pkce_challenge(&verifier), q("code_challenge"));

    // One keychain entry with the documented fields.
    let entry = keychain_entry(&account).expect("a keychain entry for the session");
    for field in [
        "access_token",
        "refresh_token",
        "id_token",
        "expires_at",
        "issuer",
        "client_id",
        "user",
    ] {
        assert!(
            !entry[field].is_null(),
            "keychain entry lacks {field}: {}",
            entry["user"]
        );
    }
    assert_eq!(entry["user"], "alice@example.test");
    assert_eq!(entry["client_id"], client.as_str());
    assert_eq!(entry["issuer"], srv.idp_url());

    // No secret in stderr (at -vv), in the log file, or in any file at all.
    let secrets = [
        entry["access_token"].as_str().unwrap().to_owned(),
        entry["refresh_token"].as_str().unwrap().to_owned(),
        entry["id_token"].as_str().unwrap().to_owned(),
        code,
        verifier,
    ];
    let log = std::fs::read_to_string(sb.log_file()).expect("the log file");
    assert!(
        log.contains("sso"),
        "the log names the sso component:\n{log}"
    );
    // The secrets would travel in these requests: the log must hold them
    // (at -vv) for their absence below to mean anything.
    let posts = |needle: &str| {
        log.lines()
            .any(|l| l.contains("DEBUG http:") && l.contains("POST ") && l.contains(needle))
    };
    assert!(
        posts(&srv.token_url()),
        "no DEBUG http POST to the token endpoint in the log:\n{log}"
    );
    assert!(
        out.stderr.contains("debug[http]: POST "),
        "no debug[http] POST on stderr:\n{}",
        out.stderr
    );
    for secret in &secrets {
        assert!(
            !out.stderr.contains(secret.as_str()),
            "stderr leaks a secret:\n{}",
            out.stderr
        );
        assert!(
            !log.contains(secret.as_str()),
            "the log leaks a secret:\n{log}"
        );
        for file in files_below(sb.home()) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(secret.as_str()),
                "{} holds a secret",
                file.display()
            );
        }
    }

    let status = sb.run(&["auth", "status"]);
    status.assert_ok();
    let sso = &status.json()["sso"];
    assert_eq!(sso["configured"], true);
    assert_eq!(sso["logged_in"], true);
    assert_eq!(sso["user"], "alice@example.test");
    assert_eq!(sso["issuer"], srv.idp_url());
    assert_eq!(sso["refreshable"], true);
    assert_eq!(sso["store"], "keychain");
    assert_eq!(srv.token_requests(), 1, "auth status makes no request");

    let _ = sb.run(&["logout", "sso"]);
}

#[test]
fn sso_already_logged_in_reports_without_browser_unless_forced() {
    require_secret_service();
    let client = unique_client("again");
    let srv = idp(&client);
    let sb = sandbox(srv.idp_url(), &client, Store::Keychain, "");
    let account = account(&client, srv.idp_url());
    let first = login(&sb, &[]);
    first.assert_ok();
    let before = keychain_entry(&account).unwrap();
    srv.reset_counts();

    let again = login(&sb, &[]);
    again.assert_ok();
    assert_eq!(again.json()["user"], "alice@example.test");
    assert_eq!(again.json()["expires_at"], first.json()["expires_at"]);
    assert_eq!(
        srv.authorize_requests(),
        0,
        "no browser for a valid session"
    );
    assert_eq!(srv.token_requests(), 0);
    assert!(!again.stderr.contains("/authorize?"), "{}", again.stderr);
    assert_eq!(keychain_entry(&account).unwrap(), before);

    let forced = login(&sb, &["--force", "-o", "text"]);
    forced.assert_ok();
    assert!(
        forced.stdout.contains("Logged in as alice@example.test"),
        "{}",
        forced.stdout
    );
    assert_eq!(srv.authorize_requests(), 1);
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 1);
    let after = keychain_entry(&account).unwrap();
    assert_ne!(after["access_token"], before["access_token"]);

    let _ = sb.run(&["logout", "sso"]);
}

#[test]
fn sso_forced_login_revokes_the_replaced_session() {
    let srv = idp("unused");
    let sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    login(&sb, &[]).assert_ok();
    let old = super::stored(&sb);
    let old_refresh = old["refresh_token"].as_str().unwrap().to_owned();
    srv.reset_counts();

    login(&sb, &["--force"]).assert_ok();
    let new = super::stored(&sb);
    assert_ne!(new["refresh_token"], old["refresh_token"]);
    assert_eq!(
        srv.revocations(),
        vec![old_refresh.clone()],
        "only the replaced session's refresh token is revoked"
    );
    // The new session is the one stored: logout revokes it.
    sb.run(&["logout", "sso"]).assert_ok();
    assert_eq!(srv.revocations().len(), 2);
    assert_eq!(srv.revocations()[1], new["refresh_token"].as_str().unwrap());

    // Without a revocation endpoint, --force still logs in.
    login(&sb, &[]).assert_ok();
    srv.set(|b| b.revocation_endpoint = false);
    srv.reset_counts();
    login(&sb, &["--force"]).assert_ok();
    assert!(srv.revocations().is_empty());
    assert!(super::session_file(&sb).is_some());
}

#[test]
fn sso_explicit_endpoints_win_over_discovery() {
    // The issuer's discovery names its own endpoints; the explicit ones are
    // another server's. Without the openid scope no ID token is validated
    // (that needs the issuer's JWKS), and the other server sends none.
    let issuer = idp("unused");
    let other = idp("unused");
    other.set(|b| b.id_token_fault = Some(IdTokenFault::Missing));
    let sb = sandbox(
        issuer.idp_url(),
        "lmi-public",
        Store::File,
        &format!(
            "OAUTH_SSO_AUTHORIZATION_URL={}\nOAUTH_SSO_TOKEN_URL={}\nOAUTH_SSO_SCOPES=profile offline_access\n",
            other.authorize_url(),
            other.token_url()
        ),
    );
    let out = login(&sb, &[]);
    out.assert_ok();
    assert_eq!(out.json()["issuer"], issuer.idp_url());
    out.assert_stderr_contains(&format!("{}?", other.authorize_url()));
    assert_eq!(other.authorize_requests(), 1);
    assert_eq!(other.token_requests_by_grant("authorization_code"), 1);
    assert_eq!(issuer.authorize_requests(), 0);
    assert_eq!(issuer.token_requests(), 0);
    assert_eq!(
        other
            .last_authorize_request()
            .unwrap()
            .query_param("scope")
            .as_deref(),
        Some("profile offline_access")
    );

    // The same with the issuer's discovery switched off: nothing needs it.
    issuer.set(|b| b.well_known = WellKnown::None);
    login(&sb, &["--force"]).assert_ok();
    assert_eq!(other.authorize_requests(), 2);
    assert_eq!(other.token_requests_by_grant("authorization_code"), 2);
    assert_eq!(issuer.authorize_requests() + issuer.token_requests(), 0);

    // With openid, discovery still supplies the JWKS, while the explicit
    // URLs (told apart from the discovered ones by their query, which is
    // kept, RFC 6749 §3.1/§3.2) are the ones used.
    let srv = idp("unused");
    let sb = sandbox(
        srv.idp_url(),
        "lmi-public",
        Store::File,
        &format!(
            "OAUTH_SSO_AUTHORIZATION_URL={}?via=explicit\nOAUTH_SSO_TOKEN_URL={}?via=explicit\n",
            srv.authorize_url(),
            srv.token_url()
        ),
    );
    let out = login(&sb, &[]);
    out.assert_ok();
    assert_eq!(out.json()["user"], "alice@example.test");
    assert_eq!(srv.authorize_requests(), 1);
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 1);
    let via = |r: Option<lmi_testidp::RecordedRequest>| r.unwrap().query_param("via");
    assert_eq!(
        via(srv.last_authorize_request()).as_deref(),
        Some("explicit")
    );
    assert_eq!(via(srv.last_token_request()).as_deref(), Some("explicit"));
    assert!(
        srv.discovery_requests() > 0,
        "the JWKS comes from discovery"
    );
}

#[test]
fn sso_user_falls_back_and_custom_scopes_are_sent() {
    let srv = idp("unused");
    srv.set(|b| {
        b.sso_user = SsoUser {
            email: None,
            ..SsoUser::default()
        }
    });
    let sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    let out = login(
        &sb,
        &["--set", "OAUTH_SSO_SCOPES=openid  custom:read email"],
    );
    out.assert_ok();
    assert_eq!(
        out.json()["user"],
        "alice",
        "preferred_username without email"
    );
    assert_eq!(
        srv.last_authorize_request()
            .unwrap()
            .query_param("scope")
            .as_deref(),
        Some("openid custom:read email")
    );

    srv.set(|b| {
        b.sso_user = SsoUser {
            sub: "s-0042".into(),
            email: None,
            preferred_username: None,
        }
    });
    let out = login(&sb, &["--force"]);
    out.assert_ok();
    assert_eq!(out.json()["user"], "s-0042", "sub without either");
    assert_eq!(
        srv.last_authorize_request()
            .unwrap()
            .query_param("scope")
            .as_deref(),
        Some("openid profile email offline_access"),
        "the default scopes without OAUTH_SSO_SCOPES"
    );
    assert_eq!(stored(&sb)["user"], "s-0042");
    assert_eq!(sb.run(&["auth", "status"]).json()["sso"]["user"], "s-0042");
}

#[test]
fn sso_user_name_with_format_characters_is_cleaned() {
    // A right-to-left override makes this read as alice@example.com.
    let hostile = "\u{202e}moc.elpmaxe@ecila\u{200b}";
    let srv = idp("unused");
    srv.set(|b| {
        b.sso_user = SsoUser {
            email: Some(hostile.into()),
            ..SsoUser::default()
        }
    });
    let sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    let out = login(&sb, &["-vv"]);
    out.assert_ok();
    let cleaned = "\u{fffd}moc.elpmaxe@ecila\u{fffd}";
    assert_eq!(out.json()["user"], cleaned);
    let status = sb.run(&["auth", "status", "-o", "text", "-vv"]);
    status.assert_ok();
    assert!(status.stdout.contains(cleaned), "{}", status.stdout);
    let log = std::fs::read_to_string(sb.log_file()).expect("the log file");
    for text in [
        &out.stdout,
        &out.stderr,
        &status.stdout,
        &status.stderr,
        &log,
    ] {
        assert!(
            !text.contains('\u{202e}') && !text.contains('\u{200b}'),
            "{text}"
        );
    }
}
