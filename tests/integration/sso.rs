//! The SSO session (SPEC §5): `login sso` through a real HTTP user agent
//! (`testidp browser` as `$BROWSER`) against the in-repo IdP and the
//! third-party oauth2-mock-server, the session in a real Secret Service
//! (gnome-keyring on the test's private D-Bus) or the opt-in file, refresh,
//! the `REQUIRE_SSO` gate and logout.
//!
//! Keychain tests give each IdP its own public client id, so their keychain
//! accounts never collide in the shared test keyring. Tests that are not
//! about the keychain use `OAUTH_SSO_TOKEN_STORE=file`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lmi_testidp::{Client, IdTokenFault, TestServer};

use crate::support::bare_dbus::BareDbus;
use crate::support::node_mock::NodeMockServer;
use crate::support::{mode, workspace_bin, Outcome, Sandbox};

/// Keychain tests need the Secret Service that scripts/test.sh starts; they
/// fail (never silently pass) without it.
fn require_secret_service() {
    assert!(
        std::env::var_os("LMI_TEST_SECRET_SERVICE").is_some(),
        "this test needs a real Secret Service (gnome-keyring on a private D-Bus) and \
         LMI_TEST_SECRET_SERVICE=1: run ./scripts/test.sh, or \
         `dbus-run-session -- scripts/with-keyring.sh cargo nextest run --test integration -E 'test(/sso_/)'`"
    );
}

/// A public client id no other test (or earlier run) uses.
fn unique_client(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "lmi-sso-{test}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The test IdP, with the default clients plus the public client `client`.
fn idp(client: &str) -> TestServer {
    let mut options = lmi_testidp::Options::default();
    options.clients.push(Client::public(client));
    TestServer::start(options).expect("test IdP")
}

fn browser(extra: &str) -> String {
    format!("{} browser{extra}", workspace_bin("testidp").display())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Store {
    Keychain,
    File,
}

/// A sandbox whose main `.env` configures SSO against `issuer`, with the
/// scripted browser as `$BROWSER`.
fn sandbox(issuer: &str, client: &str, store: Store, extra: &str) -> Sandbox {
    let mut sb = Sandbox::new();
    let store_line = match store {
        Store::Keychain => "",
        Store::File => "OAUTH_SSO_TOKEN_STORE=file\n",
    };
    sb.write_main(&format!(
        "OAUTH_SSO_ISSUER={issuer}\nOAUTH_SSO_CLIENT_ID={client}\n{store_line}{extra}"
    ));
    sb.var("BROWSER", browser(""));
    sb
}

fn account(client: &str, issuer: &str) -> String {
    format!("sso:{client}@{issuer}")
}

/// The keychain entry's secret, as JSON, or `None` when there is none.
fn keychain_entry(account: &str) -> Option<serde_json::Value> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "lmi", "username", account])
        .stdin(Stdio::null())
        .output()
        .expect("run secret-tool (Debian package libsecret-tools)");
    if !out.status.success() || out.stdout.is_empty() {
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).expect("the keychain secret is JSON"))
}

/// The session file of the file store (the one `*.json` under `sso/`).
fn session_file(sb: &Sandbox) -> Option<PathBuf> {
    let dir = sb.data_dir().join("sso");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .collect();
    assert!(files.len() <= 1, "more than one session file: {files:?}");
    files.pop()
}

fn stored(sb: &Sandbox) -> serde_json::Value {
    let path = session_file(sb).expect("a session file");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn login(sb: &Sandbox, args: &[&str]) -> Outcome {
    let mut all = vec!["login", "sso"];
    all.extend_from_slice(args);
    sb.run(&all)
}

/// Every file below `dir`, recursively.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn sso_login_keychain_happy_path_and_no_secret_leaks() {
    require_secret_service();
    let client = unique_client("happy");
    let srv = idp(&client);
    let sb = sandbox(srv.idp_url(), &client, Store::Keychain, "");
    let account = account(&client, srv.idp_url());

    let out = login(&sb, &["-vv"]);
    out.assert_ok();
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

    // A failing revocation endpoint is a warning; the session still goes.
    login(&sb, &[]).assert_ok();
    srv.set(|b| b.revocation_endpoint = false);
    let out = sb.run(&["logout", "sso"]);
    out.assert_ok();
    assert_eq!(out.json()["revoked"], false);
    assert_eq!(keychain_entry(&account), None);
}

#[test]
fn sso_no_secret_service_fails_fast_and_writes_nothing() {
    let bus = BareDbus::start();
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::Keychain, "");
    sb.var("DBUS_SESSION_BUS_ADDRESS", bus.address.clone());
    let started = Instant::now();
    let out = login(&sb, &[]);
    let took = started.elapsed();
    out.assert_code(4)
        .assert_stderr_contains("keychain")
        .assert_stderr_contains("OAUTH_SSO_TOKEN_STORE=file");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(
        srv.authorize_requests(),
        0,
        "no browser without a place to keep the session"
    );
    let written: Vec<PathBuf> = files_below(&sb.data_dir())
        .into_iter()
        .chain(files_below(&sb.home().join(".cache")))
        .filter(|p| p.file_name().is_none_or(|n| n != "lmi.log"))
        .collect();
    assert!(written.is_empty(), "files written: {written:?}");

    // auth status reports (exit 4: configured, no session) rather than hangs.
    let status = sb.run(&["auth", "status"]);
    status.assert_code(4);
    assert_eq!(status.json()["sso"]["logged_in"], false);
}

#[test]
fn sso_file_store_is_private_and_reported() {
    let srv = idp("unused");
    let sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    let before = sb.run(&["auth", "status"]);
    before.assert_code(4);
    assert_eq!(before.json()["sso"]["logged_in"], false);
    assert_eq!(before.json()["sso"]["store"], "file");

    login(&sb, &[]).assert_ok();
    let file = session_file(&sb).expect("a session file");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    assert_eq!(mode(&sb.data_dir()), 0o700);
    let session = stored(&sb);
    assert_eq!(session["user"], "alice@example.test");
    assert_eq!(session["client_id"], "lmi-public");
    assert!(session["access_token"].is_string() && session["refresh_token"].is_string());

    let status = sb.run(&["auth", "status"]);
    status.assert_ok();
    assert_eq!(status.json()["sso"]["store"], "file");
    assert_eq!(status.json()["sso"]["logged_in"], true);

    let bad = sb.run(&["login", "sso", "--set", "OAUTH_SSO_TOKEN_STORE=plaintext"]);
    bad.assert_code(3)
        .assert_stderr_contains("OAUTH_SSO_TOKEN_STORE");
}

#[test]
fn sso_forged_state_then_real_callback_succeeds() {
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    sb.var("BROWSER", browser(" --forge-state"));
    let out = login(&sb, &[]);
    out.assert_ok();
    // lmi saw (and refused with 400) the forged callback before the real one.
    out.assert_stderr_contains("state does not match");
    assert_eq!(out.json()["user"], "alice@example.test");
    assert_eq!(srv.authorize_requests(), 1);
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 1);
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
    let cases = [
        (IdTokenFault::BadSignature, "signature"),
        (IdTokenFault::WrongAudience, "aud"),
        (IdTokenFault::WrongIssuer, "iss"),
        (IdTokenFault::Expired, "exp"),
        (IdTokenFault::WrongNonce, "nonce"),
        (IdTokenFault::AlgNone, "alg"),
        (IdTokenFault::Missing, "no ID token"),
    ];
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
fn sso_login_timeout_without_browser() {
    let srv = idp("unused");
    let sb = sandbox(
        srv.idp_url(),
        "lmi-public",
        Store::File,
        "OAUTH_SSO_LOGIN_TIMEOUT=1\n",
    );
    let started = Instant::now();
    let out = login(&sb, &["--no-browser"]);
    out.assert_code(4)
        .assert_stderr_contains("no login callback");
    out.assert_stderr_contains(&format!("{}/authorize?", srv.idp_url()));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(srv.authorize_requests(), 0, "--no-browser opens nothing");
    assert!(session_file(&sb).is_none());
}

#[test]
fn sso_redirect_port_in_use() {
    let srv = idp("unused");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let sb = sandbox(
        srv.idp_url(),
        "lmi-public",
        Store::File,
        &format!("OAUTH_SSO_REDIRECT_PORT={port}\n"),
    );
    let out = login(&sb, &[]);
    out.assert_code(4)
        .assert_stderr_contains(&format!("port {port}"));
    assert_eq!(srv.authorize_requests(), 0);
    assert!(session_file(&sb).is_none());

    // The same port, once free, is used as the redirect URI's.
    drop(busy);
    login(&sb, &[]).assert_ok();
    let redirect = srv
        .last_authorize_request()
        .unwrap()
        .query_param("redirect_uri")
        .unwrap();
    assert_eq!(redirect, format!("http://127.0.0.1:{port}/callback"));
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
    let again = login(&sb, &["--no-browser", "--set", "OAUTH_SSO_LOGIN_TIMEOUT=1"]);
    again.assert_ok();
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(srv.authorize_requests(), 0);

    // A refused refresh: exit 4 with the hint, no service token handed out.
    srv.set(|b| b.refresh_failure = true);
    srv.reset_counts();
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
fn sso_concurrent_logins_open_one_browser() {
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    // The browser takes a moment, so the second login finds the first busy.
    sb.var("BROWSER", browser(" --delay-ms 1000"));
    let spawn = || {
        sb.cmd(&["login", "sso"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lmi")
    };
    let (a, b) = (spawn(), spawn());
    let a: Outcome = a.wait_with_output().unwrap().into();
    let b: Outcome = b.wait_with_output().unwrap().into();
    a.assert_ok();
    b.assert_ok();
    assert_eq!(a.json()["user"], "alice@example.test");
    assert_eq!(b.json()["expires_at"], a.json()["expires_at"]);
    assert_eq!(srv.authorize_requests(), 1, "one browser for two logins");
    // One printed the login URL; the other waited for it on the lock.
    let (opener, waiter) = if a.stderr.contains("/authorize?") {
        (&a, &b)
    } else {
        (&b, &a)
    };
    opener.assert_stderr_contains("/authorize?");
    waiter.assert_stderr_contains("Another lmi login sso is in progress");
    assert!(!waiter.stderr.contains("/authorize?"), "{}", waiter.stderr);
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 1);
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

#[test]
fn sso_stalled_keychain_times_out() {
    // A "bus" that accepts connections and never answers: the D-Bus client
    // blocks in its handshake, as with a hung session bus.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("bus");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = std::sync::Arc::clone(&held);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::Keychain, "");
    sb.var(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", socket.display()),
    );
    let started = Instant::now();
    let out = login(&sb, &[]);
    let took = started.elapsed();
    out.assert_code(4)
        .assert_stderr_contains("did not answer within 3 s")
        .assert_stderr_contains("OAUTH_SSO_TOKEN_STORE=file");
    assert!(
        took >= Duration::from_secs(3),
        "gave up before the limit: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(!held.lock().unwrap().is_empty(), "lmi did try the bus");
    assert_eq!(srv.authorize_requests(), 0);
}

#[test]
fn sso_browser_variable_is_a_list_with_percent_s() {
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    // The first command cannot start; the second takes the URL at %s.
    sb.var(
        "BROWSER",
        format!(
            "/nonexistent/browser --new-window:{} browser %s",
            workspace_bin("testidp").display()
        ),
    );
    let out = login(&sb, &[]);
    out.assert_ok();
    assert_eq!(out.json()["user"], "alice@example.test");
    assert_eq!(srv.authorize_requests(), 1);
}

#[test]
fn sso_ctrl_c_exits_130_and_stores_nothing() {
    use std::io::{BufRead, BufReader};
    let srv = idp("unused");
    let sb = sandbox(
        srv.idp_url(),
        "lmi-public",
        Store::File,
        "OAUTH_SSO_LOGIN_TIMEOUT=60\n",
    );
    let mut child = sb
        .cmd(&["login", "sso", "--no-browser"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until lmi is listening and has printed the URL.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("/authorize?") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "lmi ended before printing the URL"
        );
    }
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        session_file(&sb).is_none(),
        "nothing is stored after Ctrl-C"
    );
}
