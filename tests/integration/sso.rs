//! The SSO session (SPEC §5): `login sso` through a real HTTP user agent
//! (`testidp browser` as `$BROWSER`) against the in-repo IdP and the
//! third-party oauth2-mock-server, the session in a real Secret Service
//! (gnome-keyring on the test's private D-Bus) or the opt-in file, refresh,
//! the `REQUIRE_SSO` gate and logout.
//!
//! Keychain tests give each IdP its own public client id, so their keychain
//! accounts never collide in the shared test keyring. Tests that are not
//! about the keychain use `OAUTH_SSO_TOKEN_STORE=file`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lmi_testidp::{Client, IdTokenFault, SsoUser, TestServer, TokenFailure, WellKnown};

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

/// The scripted browser's report (`--report path`), once it has written
/// it: lmi starts the browser detached, and the browser finishes reading
/// the last page after lmi answered it. The file is removed, so the next
/// login's report is awaited afresh.
fn take_report(path: &Path) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "the browser wrote no report to {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let report = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    std::fs::remove_file(path).unwrap();
    report
}

/// The login URL lmi printed on stderr.
fn printed_url(out: &Outcome) -> String {
    out.stderr
        .lines()
        .map(str::trim)
        .find(|l| l.contains("/authorize?"))
        .unwrap_or_else(|| panic!("no login URL on stderr:\n{}", out.stderr))
        .to_owned()
}

/// A running lmi whose stderr is read line by line as it arrives.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<String>,
}

impl Running {
    fn start(sb: &Sandbox, args: &[&str]) -> Running {
        let mut child = sb
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lmi");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in stderr.lines() {
                let line = line.unwrap();
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        Running {
            child,
            lines,
            reader,
        }
    }

    /// Blocks until a stderr line contains `needle`; panics when lmi ends
    /// first or after 30 s.
    fn wait_for_stderr(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(e) => panic!("no stderr line with {needle:?} ({e})"),
            }
        }
    }

    fn finish(self) -> Outcome {
        let out = self.child.wait_with_output().expect("wait for lmi");
        let stderr = self.reader.join().unwrap();
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        }
    }
}

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
fn sso_callback_listener_ignores_favicon_and_stateless_callbacks() {
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    let report = sb.home().join("browser-report.json");
    sb.var(
        "BROWSER",
        browser(&format!(
            " --hit-favicon --omit-state --report {}",
            report.display()
        )),
    );
    let out = login(&sb, &[]);
    out.assert_ok();
    assert_eq!(out.json()["user"], "alice@example.test");
    // The browser got 404 for the favicon, 400 for the callback without
    // state, then 200 for the real one; it exits non-zero otherwise.
    let seen = take_report(&report);
    assert_eq!(
        seen,
        serde_json::json!({"exit": 0, "final_status": 200, "error": null,
            "probes": {"favicon": 404, "omit_state": 400}})
    );
    out.assert_stderr_contains("state does not match");
    assert_eq!(srv.authorize_requests(), 1);
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 1);
}

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
fn sso_status_counts_a_refreshable_session_without_network() {
    let srv = idp("unused");
    // Lifetime below the skew: only the refresh token keeps the session.
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = sandbox(
        srv.idp_url(),
        "lmi-public",
        Store::File,
        "TOKEN_EXPIRY_SKEW=60\n",
    );
    login(&sb, &[]).assert_ok();
    let before = std::fs::read(session_file(&sb).unwrap()).unwrap();
    srv.reset_counts();

    let status = sb.run(&["auth", "status"]);
    status.assert_ok();
    let sso = &status.json()["sso"];
    assert_eq!(sso["logged_in"], true, "{sso}");
    assert_eq!(sso["refreshable"], true);
    assert_eq!(sso["user"], "alice@example.test");
    assert!(sso["expires_at"].is_string());
    assert_eq!(srv.token_requests(), 0, "auth status does not refresh");
    assert_eq!(srv.discovery_requests(), 0, "nor use the network at all");
    assert_eq!(std::fs::read(session_file(&sb).unwrap()).unwrap(), before);
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
    // The browser holds the first login until the test creates `go`, so the
    // second login is known to start while the first one is busy.
    let go = sb.home().join("go");
    let report = sb.home().join("browser-report.json");
    sb.var(
        "BROWSER",
        browser(&format!(
            " --wait-for-file {} --report {}",
            go.display(),
            report.display()
        )),
    );
    let first = Running::start(&sb, &["login", "sso"]);
    // Printed under the login lock, once the browser has been started.
    first.wait_for_stderr("/authorize?");
    let second = Running::start(&sb, &["login", "sso"]);
    second.wait_for_stderr("Another lmi login sso is in progress");
    assert_eq!(
        srv.authorize_requests(),
        0,
        "the browser waits for the go-ahead"
    );
    std::fs::write(&go, "").unwrap();

    let a = first.finish();
    let b = second.finish();
    a.assert_ok();
    b.assert_ok();
    assert_eq!(a.json()["user"], "alice@example.test");
    let (mut a_json, mut b_json) = (a.json(), b.json());
    // The first logged in through the browser; the second reports its result.
    assert_eq!(
        (a_json["source"].as_str(), b_json["source"].as_str()),
        (Some("login"), Some("existing"))
    );
    a_json.as_object_mut().unwrap().remove("source");
    b_json.as_object_mut().unwrap().remove("source");
    assert_eq!(b_json, a_json, "both report the same session");
    assert_eq!(srv.authorize_requests(), 1, "one browser for two logins");
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 1);
    assert_eq!(srv.token_requests(), 1);
    assert!(!b.stderr.contains("/authorize?"), "{}", b.stderr);
    assert_eq!(take_report(&report)["exit"], 0);
    let session = stored(&sb);
    assert_eq!(session["user"], "alice@example.test");
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

/// A `$BROWSER` command that records its arguments (one per line) in the
/// returned file, then runs the scripted browser on its first argument.
fn recording_browser(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let script = dir.join(name);
    let argv = dir.join(format!("{name}.argv"));
    let report = dir.join(format!("{name}.report"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{argv}.tmp' && mv '{argv}.tmp' '{argv}'\nexec '{testidp}' browser --report '{report}' \"$1\"\n",
            argv = argv.display(),
            testidp = workspace_bin("testidp").display(),
            report = report.display(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, argv)
}

#[test]
fn sso_browser_variable_is_a_list_with_percent_s() {
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    let dir = sb.home().to_owned();
    let cases = [
        // %s is replaced by the URL.
        ("percent", "{w} %s"),
        // Without %s the URL is appended.
        ("appended", "{w}"),
        // A colon-separated list: a first command that cannot start is
        // skipped.
        ("list", "/nonexistent/browser --new-window:{w} %s"),
    ];
    for (n, (name, spec)) in cases.into_iter().enumerate() {
        let (script, argv) = recording_browser(&dir, name);
        sb.var(
            "BROWSER",
            spec.replace("{w}", &script.display().to_string()),
        );
        let out = login(&sb, &["--force"]);
        out.assert_ok();
        assert_eq!(out.json()["user"], "alice@example.test", "{name}");
        let url = printed_url(&out);
        let args: Vec<String> = std::fs::read_to_string(&argv)
            .unwrap_or_else(|e| panic!("{name}: the browser did not run ({e})"))
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(args, vec![url], "{name}: the browser's arguments");
        assert_eq!(
            take_report(&dir.join(format!("{name}.report")))["exit"],
            0,
            "{name}"
        );
        assert_eq!(srv.authorize_requests(), n + 1, "{name}");
    }
}

#[test]
fn sso_ctrl_c_exits_130_and_keeps_the_previous_session() {
    let srv = idp("unused");
    let sb = sandbox(
        srv.idp_url(),
        "lmi-public",
        Store::File,
        "OAUTH_SSO_LOGIN_TIMEOUT=60\n",
    );
    login(&sb, &[]).assert_ok();
    let file = session_file(&sb).unwrap();
    let before = std::fs::read(&file).unwrap();

    let running = Running::start(&sb, &["login", "sso", "--force", "--no-browser"]);
    // lmi is listening once it has printed the URL.
    running.wait_for_stderr("/authorize?");
    let pid = running.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = running.finish();
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert_eq!(session_file(&sb).as_deref(), Some(file.as_path()));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "Ctrl-C leaves the previous session as it was"
    );
    assert_eq!(srv.authorize_requests(), 1, "only the first login's");
    assert_eq!(srv.token_requests(), 1);
    sb.run(&["auth", "status"]).assert_ok();
}

#[test]
fn sso_refresh_for_another_user_is_refused() {
    let srv = idp("unused");
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = gated(&srv, Store::File, "TOKEN_EXPIRY_SKEW=60\n");
    login(&sb, &[]).assert_ok();
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
