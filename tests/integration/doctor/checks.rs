//! `lmi doctor` (SPEC §3.1): every check in order, each failing scenario
//! of the issue failing the right check with a hint, within the time
//! limits, and never a secret or a token in the output.

use std::time::{Duration, Instant};

use lmi_testidp::{Options, TestServer, TokenFailure};

use crate::support::bare_dbus::BareDbus;
use crate::support::{dead_port, Outcome, Sandbox};

const NAMES: [&str; 8] = [
    "config",
    "environment",
    "endpoints",
    "token",
    "keychain",
    "sso",
    "clock",
    "log",
];

/// A sandbox whose `dev` environment discovers the test IdP and calls its
/// API; SSO in the file store unless `sso` says otherwise.
fn sandbox(srv: &TestServer, secret: &str, sso: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main(&format!("DEFAULT_ENVIRONMENT=dev\n{sso}"));
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET={secret}\nAPI_BASE_URL={}\n",
            srv.idp_url(),
            srv.api_url()
        ),
    );
    sb
}

fn file_sso(srv: &TestServer) -> String {
    format!(
        "OAUTH_SSO_ISSUER={}\nOAUTH_SSO_CLIENT_ID=lmi-public\nOAUTH_SSO_TOKEN_STORE=file\n",
        srv.idp_url()
    )
}

/// The checks of a run, in order, as (name, status, hint).
fn checks(out: &Outcome) -> Vec<(String, String, Option<String>)> {
    out.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert!(c["detail"].is_string(), "{c}");
            (
                c["name"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["hint"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn check<'a>(
    all: &'a [(String, String, Option<String>)],
    name: &str,
) -> &'a (String, String, Option<String>) {
    all.iter().find(|c| c.0 == name).unwrap()
}

fn timed(sb: &Sandbox, args: &[&str]) -> (Outcome, Duration) {
    let started = Instant::now();
    let out = sb.run(args);
    (out, started.elapsed())
}

#[test]
fn doctor_all_ok_uses_the_cache_and_prints_no_secret() {
    let srv = TestServer::start_default().unwrap();
    let sb = sandbox(&srv, "lmi-secret", &file_sso(&srv));
    let out = sb.run(&["doctor"]);
    out.assert_ok();
    let all = checks(&out);
    let names: Vec<&str> = all.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, NAMES);
    for (name, status, hint) in &all {
        // No session is stored yet: the keychain check says to log in.
        let expected = if name == "keychain" { "warn" } else { "ok" };
        assert_eq!(status, expected, "{name}: {}", out.stdout);
        assert_eq!(hint.is_some(), status != "ok", "{name}");
    }
    assert_eq!(srv.token_requests(), 1);
    let token: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
    let token = token["access_token"].as_str().unwrap();
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("lmi-secret") && !text.contains(token));
    }

    // A second run takes the cached token: no new token request.
    let again = sb.run(&["doctor", "-o", "text"]);
    again.assert_ok();
    assert_eq!(srv.token_requests(), 1);
    let lines: Vec<&str> = again.stdout.lines().collect();
    assert_eq!(lines.len(), NAMES.len(), "{}", again.stdout);
    for (line, name) in lines.iter().zip(NAMES) {
        let mark = &line[..6];
        assert!(["[ok]  ", "[warn]", "[FAIL]"].contains(&mark), "{line}");
        assert!(line[6..].trim_start().starts_with(name), "{line}");
    }
    assert!(!again.stdout.contains(token));
}

#[test]
fn doctor_unreachable_idp_fails_endpoints_quickly() {
    let dead = dead_port();
    let sb = Sandbox::new();
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_SERVICE_URL=http://127.0.0.1:{}\nOAUTH_CLIENT_ID=c\nOAUTH_CLIENT_SECRET=s3cret-value\n",
            dead.port
        ),
    );
    let (out, took) = timed(&sb, &["-e", "dev", "doctor"]);
    out.assert_code(5);
    let all = checks(&out);
    let endpoints = check(&all, "endpoints");
    assert_eq!(endpoints.1, "fail");
    assert!(endpoints
        .2
        .as_deref()
        .unwrap()
        .contains("OAUTH_SERVICE_URL"));
    // The others still ran and are listed.
    assert_eq!(all.len(), NAMES.len());
    assert_eq!(check(&all, "log").1, "ok");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(!out.stdout.contains("s3cret-value") && !out.stderr.contains("s3cret-value"));
}

#[test]
fn doctor_wrong_secret_fails_token_with_a_hint() {
    let srv = TestServer::start_default().unwrap();
    let sb = sandbox(&srv, "wrong-secret-value", "");
    let out = sb.run(&["doctor"]);
    out.assert_code(4);
    let all = checks(&out);
    let token = check(&all, "token");
    assert_eq!(token.1, "fail");
    assert!(
        token.2.as_deref().unwrap().contains("OAUTH_CLIENT_SECRET"),
        "{token:?}"
    );
    assert_eq!(check(&all, "endpoints").1, "ok");
    assert_eq!(srv.token_requests(), 1, "one attempt, no retry loop");
    assert!(
        !out.stdout.contains("wrong-secret-value") && !out.stderr.contains("wrong-secret-value")
    );
    assert!(!sb.token_file("dev").exists());
}

#[test]
fn doctor_missing_key_fails_environment() {
    let srv = TestServer::start_default().unwrap();
    let sb = Sandbox::new();
    sb.write_env("dev", &format!("OAUTH_TOKEN_URL={}\n", srv.token_url()));
    let out = sb.run(&["-e", "dev", "doctor"]);
    out.assert_code(3);
    let all = checks(&out);
    let environment = check(&all, "environment");
    assert_eq!(environment.1, "fail");
    assert!(
        environment
            .2
            .as_deref()
            .unwrap()
            .contains("OAUTH_CLIENT_ID"),
        "{environment:?}"
    );
    assert_eq!(srv.token_requests(), 0);
}

#[test]
fn doctor_token_endpoint_error_names_the_server_words() {
    let srv = TestServer::start_default().unwrap();
    srv.set(|b| b.token_failure = Some(TokenFailure::ServerError));
    let sb = sandbox(&srv, "lmi-secret", "");
    let out = sb.run(&["doctor"]);
    out.assert_code(4);
    assert_eq!(check(&checks(&out), "token").1, "fail");
}

#[test]
fn doctor_stalled_keychain_fails_within_the_limit() {
    // A "bus" that accepts connections and never answers.
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
    let srv = TestServer::start_default().unwrap();
    let sso = format!(
        "OAUTH_SSO_ISSUER={}\nOAUTH_SSO_CLIENT_ID=lmi-public\n",
        srv.idp_url()
    );
    let mut sb = sandbox(&srv, "lmi-secret", &sso);
    sb.var(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", socket.display()),
    );
    let (out, took) = timed(&sb, &["doctor"]);
    out.assert_code(4);
    let all = checks(&out);
    let keychain = check(&all, "keychain");
    assert_eq!(keychain.1, "fail", "{}", out.stdout);
    assert!(keychain
        .2
        .as_deref()
        .unwrap()
        .contains("OAUTH_SSO_TOKEN_STORE=file"));
    assert_eq!(check(&all, "sso").1, "ok");
    assert!(took >= Duration::from_secs(3), "gave up early: {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");

    // No Secret Service at all: the same check fails at once.
    let bus = BareDbus::start();
    sb.var("DBUS_SESSION_BUS_ADDRESS", bus.address.clone());
    let (out, took) = timed(&sb, &["doctor"]);
    out.assert_code(4);
    assert_eq!(check(&checks(&out), "keychain").1, "fail");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn doctor_clock_skew_is_a_warning() {
    let srv = TestServer::start(Options {
        date_offset: Some(-600),
        ..Options::default()
    })
    .unwrap();
    let sb = sandbox(&srv, "lmi-secret", "");
    let out = sb.run(&["doctor"]);
    out.assert_ok();
    let all = checks(&out);
    let clock = check(&all, "clock");
    assert_eq!(clock.1, "warn", "{}", out.stdout);
    assert!(clock.2.as_deref().unwrap().contains("clock"));
    let detail = &out.json()["checks"][6]["detail"];
    assert!(detail.as_str().unwrap().contains("ahead of"), "{detail}");

    // 30 s off is within the limit.
    srv.set(|b| b.date_offset = Some(30));
    assert_eq!(check(&checks(&sb.run(&["doctor"])), "clock").1, "ok");
}

/// Doctor's output in both forms, each asserted free of the credentials and
/// terminal controls a hostile configuration or server put in URLs.
fn assert_hidden(sb: &Sandbox, secrets: &[&str]) {
    for format in ["json", "text"] {
        let out = sb.run(&["doctor", "-o", format]);
        assert!(
            out.code == 0 || out.code == 4,
            "{}: {}",
            out.code,
            out.stderr
        );
        let endpoints = out
            .stdout
            .lines()
            .find(|l| l.contains("endpoints"))
            .map(str::to_owned)
            .unwrap_or_default();
        if format == "text" {
            assert!(endpoints.starts_with("[ok]"), "{}", out.stdout);
        } else {
            assert_eq!(check(&checks(&out), "endpoints").1, "ok", "{}", out.stdout);
        }
        assert!(out.stdout.contains("redacted"), "{}", out.stdout);
        for text in [&out.stdout, &out.stderr] {
            for secret in secrets {
                assert!(!text.contains(secret), "{format}: {secret} in {text}");
            }
            for c in ['\u{1b}', '\u{7}', '\u{202e}'] {
                assert!(!text.contains(c), "{format}: {c:?} in {text}");
            }
        }
        if format == "text" {
            assert_eq!(out.stdout.lines().count(), NAMES.len(), "{}", out.stdout);
        }
    }
}

#[test]
fn doctor_hides_credentials_in_urls_and_cleans_server_text_when_endpoints_answer() {
    use crate::support::hostile::{Hostile, Reply};
    use std::sync::{Arc, OnceLock};
    let issuer: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let srv = {
        let issuer = issuer.clone();
        Hostile::start(move |req| {
            if req.path.starts_with("/.well-known/") {
                let meta = serde_json::json!({
                    "issuer": issuer.get().unwrap(),
                    "token_endpoint": "https://meta-user:meta-pass@idp.example.test/t\u{1b}]0;pwned\u{7}\u{202e}?token=meta-tok&x=1",
                });
                Reply::json(200, meta.to_string())
            } else {
                Reply::json(404, "{}")
            }
        })
    };
    issuer.set(srv.url("/iss")).unwrap();
    let secrets = [
        "meta-pass",
        "meta-tok",
        "api-pass",
        "api-k3y",
        "api-s1g",
        "api-t0k",
        "tok-pass",
        "tok-s1g",
    ];
    let api = format!(
        "http://api-user:api-pass@127.0.0.1:{}/api?api_key=api-k3y&sig=api-s1g&token=api-t0k",
        srv.port
    );
    // Discovery: the metadata's token endpoint and API_BASE_URL.
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID=c\nOAUTH_CLIENT_SECRET=s\nAPI_BASE_URL={api}\n",
            srv.url("/iss")
        ),
    );
    assert_hidden(&sb, &secrets);
    // An explicit token endpoint with credentials of its own.
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL=http://tok-user:tok-pass@127.0.0.1:{}/token?sig=tok-s1g\nOAUTH_CLIENT_ID=c\nOAUTH_CLIENT_SECRET=s\nAPI_BASE_URL={api}\n",
            srv.port
        ),
    );
    assert_hidden(&sb, &secrets);
}
