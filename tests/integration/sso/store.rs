//! Where the session is kept: the keychain when there is no Secret Service
//! or it stalls, the private file store, and `auth status` reading the
//! stored session without the network.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{files_below, idp, login, sandbox, session_file, stored, Store};
use crate::support::bare_dbus::BareDbus;
use crate::support::mode;

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
