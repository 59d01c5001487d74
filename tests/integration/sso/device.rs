//! The device flow (SPEC §5.1, RFC 8628) against the in-repo IdP: a real
//! user agent (`testidp browser --confirm-device` as `$BROWSER`) approving
//! the code, the pacing of polls after `slow_down` (from the IdP's recorded
//! poll times), every failure leaving the previous session as it was,
//! Ctrl-C, the choice of flow, and what never reaches a log.

use std::process::Command;
use std::time::Duration;

use lmi_testidp::{
    Behaviour, DeviceAuthorizationFailure, DeviceDenial, PollFailure, TestServer, DEVICE_CODE_GRANT,
};

use super::callback::Running;
use super::{browser, idp, login, sandbox, session_file, stored, take_report, Store};
use crate::support::Sandbox;

/// The test IdP with one-second polling.
fn device_idp(configure: impl FnOnce(&mut lmi_testidp::Behaviour)) -> TestServer {
    let srv = idp("unused");
    srv.set(|b| {
        b.device_interval = Some(1);
        configure(b);
    });
    srv
}

/// A file-store sandbox whose `$BROWSER` is unset (empty).
fn device_sandbox(srv: &TestServer, extra: &str) -> Sandbox {
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, extra);
    sb.var("BROWSER", "");
    sb
}

#[test]
fn sso_device_login_approved_by_a_user_agent() {
    let srv = device_idp(|b| b.device_auto_approve = false);
    let mut sb = device_sandbox(&srv, "");
    let report = sb.home().join("browser-report.json");
    sb.var(
        "BROWSER",
        browser(&format!(
            " --confirm-device --expect-body approved --report {}",
            report.display()
        )),
    );
    let out = login(&sb, &["--device", "-vv"]);
    out.assert_ok();
    let json = out.json();
    assert_eq!(json["flow"], "device");
    assert_eq!(json["source"], "login");
    assert_eq!(json["user"], "alice@example.test");
    assert_eq!(json["issuer"], srv.idp_url());
    assert_eq!(take_report(&report)["exit"], 0, "the browser approved");

    // The request: the public client and the configured scopes.
    let request = srv.last_device_authorization_request().unwrap();
    assert_eq!(request.param("client_id"), Some("lmi-public"));
    assert_eq!(
        request.param("scope"),
        Some("openid profile email offline_access")
    );
    assert!(srv.token_requests_by_grant(DEVICE_CODE_GRANT) >= 1);
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 0);

    // The person sees the page, the code exactly as given, and the link.
    let user_code = srv.last_user_code().unwrap();
    let verification = srv.device_verification_url();
    out.assert_stderr_contains(&format!("    {verification}\n"));
    out.assert_stderr_contains(&format!("    {user_code}\n"));
    out.assert_stderr_contains(&format!("    {verification}?user_code={user_code}\n"));

    // Stored exactly as a browser login's session.
    let session = stored(&sb);
    let mut fields: Vec<&str> = session
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    fields.sort_unstable();
    for field in [
        "access_token",
        "refresh_token",
        "id_token",
        "expires_at",
        "issuer",
        "client_id",
        "user",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert_eq!(session["user"], "alice@example.test");
    sb.run(&["auth", "status"]).assert_ok();

    // Neither code reaches a log line (stderr at -vv, or the file); the
    // user code is only in the lines meant for the person.
    let device_code = srv
        .last_token_request()
        .unwrap()
        .param("device_code")
        .unwrap()
        .to_owned();
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    assert!(log.contains("device authorization at"), "{log}");
    assert!(
        !log.contains(&device_code) && !log.contains(&user_code),
        "{log}"
    );
    assert!(!out.stderr.contains(&device_code));
    for line in out.stderr.lines() {
        if line.starts_with("debug[") || line.starts_with("info[") || line.starts_with("warning") {
            assert!(!line.contains(&user_code), "logged: {line}");
        }
    }

    // The session refreshes and logs out like any other.
    let out = login(&sb, &["--device"]);
    out.assert_ok();
    assert_eq!(out.json()["source"], "existing");
    assert_eq!(
        out.json()["flow"],
        "device",
        "the flow that made the session"
    );
    sb.run(&["logout", "sso"]).assert_ok();
    assert!(session_file(&sb).is_none());
}

#[test]
fn sso_device_polls_slow_down_for_good() {
    // Poll 1 pending, poll 2 slow_down, poll 3 pending, poll 4 tokens.
    let srv = device_idp(|b| {
        b.device_pending_polls = 2;
        b.device_slow_down_polls = vec![2];
    });
    let sb = device_sandbox(&srv, "OAUTH_SSO_FLOW=device\n");
    let out = login(&sb, &["-v"]);
    out.assert_ok();
    out.assert_stderr_contains("slow down; polling every 6 s");
    let times = srv.device_poll_times();
    assert_eq!(times.len(), 4, "{}", out.stderr);
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] < Duration::from_secs(3), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_secs(6), "slowed down: {gaps:?}");
    assert!(
        gaps[2] >= Duration::from_secs(6),
        "and stays slow: {gaps:?}"
    );
    assert_eq!(out.json()["flow"], "device");
}

/// A session, made by a first login, and its file's bytes.
fn logged_in(sb: &Sandbox) -> (std::path::PathBuf, Vec<u8>) {
    login(sb, &[]).assert_ok();
    let file = session_file(sb).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    (file, bytes)
}

#[track_caller]
fn assert_unchanged(sb: &Sandbox, before: &(std::path::PathBuf, Vec<u8>)) {
    assert_eq!(session_file(sb).as_deref(), Some(before.0.as_path()));
    assert_eq!(
        std::fs::read(&before.0).unwrap(),
        before.1,
        "the previous session is left as it was"
    );
}

/// A change to the IdP's behaviour.
type Setup = Box<dyn Fn(&mut Behaviour)>;
type Change = fn(&mut Behaviour);

#[test]
fn sso_device_failures_store_nothing() {
    let srv = device_idp(|_| {});
    let mut sb = device_sandbox(&srv, "OAUTH_SSO_LOGIN_TIMEOUT=4\n");
    sb.var("BROWSER", browser(""));
    let before = logged_in(&sb);
    sb.var("BROWSER", "");

    let polls: [(&str, Change); 4] = [
        ("access_denied", |b| {
            b.device_denial = Some(DeviceDenial::AccessDenied)
        }),
        ("expired_token", |b| {
            b.device_denial = Some(DeviceDenial::ExpiredToken)
        }),
        ("not approved within 4 s", |b| b.device_auto_approve = false),
        ("kept failing", |b| b.device_failing_polls = 100),
    ];
    let authorizations: [(&str, DeviceAuthorizationFailure); 6] = [
        (
            "invalid_client: Client authentication failed",
            DeviceAuthorizationFailure::InvalidClient,
        ),
        (
            "invalid_scope: The requested scope",
            DeviceAuthorizationFailure::InvalidScope,
        ),
        ("HTTP 500", DeviceAuthorizationFailure::ServerError),
        ("not a JSON object", DeviceAuthorizationFailure::NotJson),
        (
            "lacks user_code",
            DeviceAuthorizationFailure::MissingField("user_code".into()),
        ),
        (
            "expires_in is a string",
            DeviceAuthorizationFailure::WrongType("expires_in".into()),
        ),
    ];
    let mut cases: Vec<(&str, Setup)> = Vec::new();
    for (words, set) in polls {
        cases.push((words, Box::new(set)));
    }
    for (words, failure) in authorizations {
        cases.push((
            words,
            Box::new(move |b| b.device_authorization_failure = Some(failure.clone())),
        ));
    }
    for (words, set) in cases {
        srv.set(|b| {
            *b = lmi_testidp::Behaviour::default();
            b.device_interval = Some(1);
            set(b);
        });
        let out = login(&sb, &["--device", "--force"]);
        out.assert_code(4).assert_stderr_contains(words);
        assert!(out.error_line().is_some(), "{}", out.stderr);
        assert!(
            out.stdout.trim().is_empty() || out.stdout.contains("\"error\""),
            "{}",
            out.stdout
        );
        assert_unchanged(&sb, &before);
    }
}

#[test]
fn sso_device_polls_survive_dropped_connections_and_5xx() {
    let srv = device_idp(|b| {
        b.device_failing_polls = 2;
        b.device_poll_failure = PollFailure::Close;
    });
    let sb = device_sandbox(&srv, "OAUTH_SSO_FLOW=device\n");
    let out = login(&sb, &["-v"]);
    out.assert_ok();
    out.assert_stderr_contains("polling for the device login failed");
    assert_eq!(srv.device_polls(), 3);

    srv.set(|b| {
        b.device_failing_polls = 1;
        b.device_poll_failure = PollFailure::Status(503);
    });
    login(&sb, &["--force"]).assert_ok();
    assert_eq!(srv.device_polls(), 5);
}

#[test]
fn sso_device_ctrl_c_exits_130_and_keeps_the_previous_session() {
    let srv = device_idp(|_| {});
    let mut sb = device_sandbox(&srv, "");
    sb.var("BROWSER", browser(""));
    let before = logged_in(&sb);
    sb.var("BROWSER", "");
    srv.set(|b| b.device_auto_approve = false);

    let running = Running::start(&sb, &["login", "sso", "--device", "--force"]);
    running.wait_for_stderr("enter the code");
    // Polling has begun once the IdP saw a poll.
    crate::support::wait_until("no poll arrived", Duration::from_secs(30), || {
        srv.device_polls() > 0
    });
    let pid = running.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = running.finish();
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert_unchanged(&sb, &before);
    assert_eq!(
        srv.token_requests_by_grant(DEVICE_CODE_GRANT),
        srv.device_polls()
    );
}

#[test]
fn sso_flow_choice_and_its_configuration_errors() {
    let srv = device_idp(|_| {});
    // SSH, no BROWSER: auto picks the device flow and -v says why.
    let mut sb = device_sandbox(&srv, "");
    sb.var("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22");
    let out = login(&sb, &["-v"]);
    out.assert_ok();
    out.assert_stderr_contains("info[sso]: login flow: device (auto: no browser can be shown here (this is an SSH session and BROWSER is not set) and the IdP has a device authorization endpoint)");
    assert_eq!(out.json()["flow"], "device");

    // BROWSER set: auto picks the browser flow.
    sb.var("BROWSER", browser(""));
    let out = login(&sb, &["-v", "--force"]);
    out.assert_ok();
    out.assert_stderr_contains("login flow: browser (auto: BROWSER is set)");
    assert_eq!(out.json()["flow"], "browser");

    // No device endpoint: auto falls back to the browser flow...
    srv.set(|b| b.device_endpoint_in_metadata = false);
    let sb = device_sandbox(&srv, "OAUTH_SSO_LOGIN_TIMEOUT=1\n");
    let out = login(&sb, &["-v", "--no-browser"]);
    out.assert_code(4)
        .assert_stderr_contains("no login callback");
    out.assert_stderr_contains("login flow: browser (auto: no browser can be shown here");
    out.assert_stderr_contains(&format!("{}/authorize?", srv.idp_url()));
    // ...and a forced device flow is a configuration error naming the key.
    for (extra, args) in [
        ("OAUTH_SSO_FLOW=device\n", &[][..]),
        ("", &["--device"][..]),
    ] {
        let sb = device_sandbox(&srv, extra);
        let out = login(&sb, args);
        out.assert_code(3)
            .assert_stderr_contains("OAUTH_SSO_DEVICE_AUTHORIZATION_URL");
    }
    // The explicit endpoint works where the metadata names none.
    let sb = device_sandbox(
        &srv,
        &format!(
            "OAUTH_SSO_DEVICE_AUTHORIZATION_URL={}\n",
            srv.device_authorization_url()
        ),
    );
    let out = login(&sb, &["--device"]);
    out.assert_ok();
    assert_eq!(out.json()["flow"], "device");

    // An unknown flow lists the allowed ones.
    let sb = device_sandbox(&srv, "OAUTH_SSO_FLOW=carrier-pigeon\n");
    let out = login(&sb, &[]);
    out.assert_code(3).assert_stderr_contains("OAUTH_SSO_FLOW");
    out.assert_stderr_contains("auto (the default), browser, device");
    // A plain-http device endpoint on another host.
    let sb = device_sandbox(
        &srv,
        "OAUTH_SSO_DEVICE_AUTHORIZATION_URL=http://idp.example.test/device\n",
    );
    let out = login(&sb, &["--device"]);
    out.assert_code(3)
        .assert_stderr_contains("OAUTH_SSO_DEVICE_AUTHORIZATION_URL");
    assert_eq!(srv.device_authorization_requests(), 2);
}

#[test]
fn sso_device_unusable_verification_uris_and_codes_are_refused_unshown() {
    use crate::support::hostile::{Hostile, Reply};
    let srv = device_idp(|_| {});
    let long_uri = format!("https://idp.example.test/{}", "a".repeat(2100));
    let long_code = "C".repeat(900_000);
    let ok_uri = "https://idp.example.test/device";
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "verification_uri",
            serde_json::json!({"verification_uri": "javascript:alert(1)"}),
            "javascript",
        ),
        (
            "verification_uri",
            serde_json::json!({"verification_uri": "data:text/html,PWN"}),
            "PWN",
        ),
        (
            "verification_uri",
            serde_json::json!({"verification_uri": "file:///etc/passwd"}),
            "passwd",
        ),
        (
            "verification_uri",
            serde_json::json!({"verification_uri": "http://evil.example.test/x"}),
            "evil",
        ),
        (
            "verification_uri",
            serde_json::json!({"verification_uri": long_uri}),
            "aaaaaaaaaa",
        ),
        (
            "verification_uri_complete",
            serde_json::json!({"verification_uri": ok_uri, "verification_uri_complete": "javascript:x//PWN"}),
            "PWN",
        ),
        (
            "verification_uri_complete",
            serde_json::json!({"verification_uri": ok_uri, "verification_uri_complete": long_uri}),
            "aaaaaaaaaa",
        ),
        (
            "user_code",
            serde_json::json!({"verification_uri": ok_uri, "user_code": long_code}),
            "CCCCCCCCCC",
        ),
        (
            "user_code",
            serde_json::json!({"verification_uri": ok_uri, "user_code": "AB\nPWN"}),
            "PWN",
        ),
        (
            "user_code",
            serde_json::json!({"verification_uri": ok_uri, "user_code": "AB\u{202e}PWN"}),
            "PWN",
        ),
    ];
    for (field, fields, never_shown) in cases {
        let mut body = serde_json::json!({
            "device_code": "dev-code-1",
            "user_code": "ABCD-EFGH",
            "expires_in": 600,
            "interval": 1,
        });
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        let endpoint = Hostile::always(Reply::json(200, body.to_string()));
        let sb = device_sandbox(
            &srv,
            &format!(
                "OAUTH_SSO_DEVICE_AUTHORIZATION_URL={}\n",
                endpoint.url("/device_authorization")
            ),
        );
        let out = login(&sb, &["--device", "-vv"]);
        out.assert_code(4)
            .assert_stderr_contains(&format!("{field} "))
            .assert_stderr_contains("nothing was shown or polled");
        assert!(!out.stderr.contains(never_shown), "{field}: {}", out.stderr);
        assert!(!out.stderr.contains("open this page"), "{}", out.stderr);
        assert!(
            out.stderr.len() < 4096,
            "{field}: {} bytes",
            out.stderr.len()
        );
        assert_eq!(endpoint.hits(), 1);
        assert_eq!(
            srv.token_requests_by_grant(DEVICE_CODE_GRANT),
            0,
            "never polled"
        );
        assert!(session_file(&sb).is_none(), "nothing stored");
    }
}
