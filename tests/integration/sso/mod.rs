//! The SSO session (SPEC §5): `login sso` through a real HTTP user agent
//! (`testidp browser` as `$BROWSER`) against the in-repo IdP and the
//! third-party oauth2-mock-server, the session in a real Secret Service
//! (gnome-keyring on the test's private D-Bus) or the opt-in file, refresh,
//! the `REQUIRE_SSO` gate and logout, and the callback listener against
//! hostile local clients.
//!
//! Keychain tests give each IdP its own public client id, so their keychain
//! accounts never collide in the shared test keyring. Tests that are not
//! about the keychain use `OAUTH_SSO_TOKEN_STORE=file`.
//!
//! This file holds the helpers the SSO test files share: the IdP, the
//! sandbox, the scripted browser, and reading the stored session back.

mod callback;
mod device;
mod dpop;
mod exchange;
mod hostile_callback_clients;
mod iss;
mod login;
mod logout;
mod oidc_provider;
mod par;
mod par_oidc_provider;

mod refresh;
mod refusals;
mod store;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lmi_testidp::{Client, TestServer};

use crate::support::{workspace_bin, Outcome, Sandbox};

/// Keychain tests need the Secret Service that scripts/test.sh starts; they
/// fail (never silently pass) without it.
pub(crate) fn require_secret_service() {
    assert!(
        std::env::var_os("LMI_TEST_SECRET_SERVICE").is_some(),
        "this test needs a real Secret Service (gnome-keyring on a private D-Bus) and \
         LMI_TEST_SECRET_SERVICE=1: run ./scripts/test.sh, or \
         `dbus-run-session -- scripts/with-keyring.sh cargo nextest run --test integration -E 'test(/sso_/)'`"
    );
}

/// A public client id no other test (or earlier run) uses.
pub(crate) fn unique_client(test: &str) -> String {
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
pub(crate) fn idp(client: &str) -> TestServer {
    let mut options = lmi_testidp::Options::default();
    options.clients.push(Client::public(client));
    TestServer::start(options).expect("test IdP")
}

fn browser(extra: &str) -> String {
    format!("{} browser{extra}", workspace_bin("testidp").display())
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    Keychain,
    File,
}

/// A sandbox whose main `.env` configures SSO against `issuer`, with the
/// scripted browser as `$BROWSER`.
pub(crate) fn sandbox(issuer: &str, client: &str, store: Store, extra: &str) -> Sandbox {
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

pub(crate) fn account(client: &str, issuer: &str) -> String {
    format!("sso:{client}@{issuer}")
}

/// The keychain entry's secret, as JSON, or `None` when there is none.
pub(crate) fn keychain_entry(account: &str) -> Option<serde_json::Value> {
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

/// Moves the keychain session's `obtained_at` far back (as
/// [`crate::support::backdate`] does for files), so the expiry skew decides
/// on its own whether its access token is still fresh. The entry is
/// rewritten with exactly the attributes it has, which replaces it.
pub(crate) fn backdate_keychain(account: &str) {
    let mut session = keychain_entry(account).expect("a keychain session");
    let expires_at = session["expires_at"].as_i64().expect("expires_at");
    session["obtained_at"] = (expires_at - 1_000_000).into();
    let found = Command::new("secret-tool")
        .args(["search", "--all", "service", "lmi", "username", account])
        .stdin(Stdio::null())
        .output()
        .expect("run secret-tool");
    let listing = String::from_utf8_lossy(&found.stdout).into_owned()
        + &String::from_utf8_lossy(&found.stderr);
    let mut args = vec!["store".to_owned(), "--label=lmi".to_owned()];
    for line in listing.lines() {
        if let Some((name, value)) = line
            .strip_prefix("attribute.")
            .and_then(|rest| rest.split_once(" = "))
        {
            args.push(name.trim().to_owned());
            args.push(value.trim().to_owned());
        }
    }
    assert!(args.len() > 2, "no attributes found: {listing}");
    let mut child = Command::new("secret-tool")
        .args(&args)
        .stdin(Stdio::piped())
        .spawn()
        .expect("run secret-tool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(session.to_string().as_bytes())
        .expect("write the secret");
    assert!(child.wait().expect("secret-tool").success());
    assert_eq!(
        keychain_entry(account).expect("still there")["obtained_at"],
        session["obtained_at"]
    );
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

pub(crate) fn login(sb: &Sandbox, args: &[&str]) -> Outcome {
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
    crate::support::wait_until(
        &format!("the browser wrote no report to {}", path.display()),
        Duration::from_secs(30),
        || path.exists(),
    );
    let report = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    std::fs::remove_file(path).unwrap();
    report
}
