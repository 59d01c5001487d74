//! Hostile token endpoints: control characters, unknown token types, absurd
//! lifetimes, oversized bodies, echoed secrets, and credentials refused with
//! an empty 401/403.

use crate::support::hostile::{Hostile, Reply};
use crate::support::sandbox_for;

#[test]
fn control_characters_in_a_token_response_are_refused_and_nothing_is_cached() {
    for body in [
        r#"{"access_token":"tok\u001b]0;pwned\u0007","token_type":"Bearer","expires_in":60}"#,
        r#"{"access_token":"tok\r\nX-Injected: 1","token_type":"Bearer","expires_in":60}"#,
        r#"{"access_token":"tok","token_type":"Bearer\u001b[2J","expires_in":60}"#,
    ] {
        let srv = Hostile::always(Reply::json(200, body));
        let sb = sandbox_for(&srv.url("/token"), "");
        let out = sb.run(&["auth", "token", "-o", "text"]);
        out.assert_code(4);
        assert!(!out.stdout.contains('\u{1b}') && !out.stderr.contains('\u{1b}'));
        assert!(!out.stderr.contains('\u{7}'), "{}", out.stderr);
        assert!(!sb.token_file("dev").exists(), "nothing is cached");
        assert_eq!(srv.hits(), 1);
    }
}

#[test]
fn only_bearer_tokens_are_used() {
    for kind in ["mac", "Bearer extra", "DPoP"] {
        let body = serde_json::json!({"access_token": "tok", "token_type": kind}).to_string();
        let srv = Hostile::always(Reply::json(200, body));
        let sb = sandbox_for(&srv.url("/token"), "");
        let out = sb.run(&["auth", "token"]);
        out.assert_code(4).assert_stderr_contains("token_type");
        assert!(!sb.token_file("dev").exists());
    }
    let srv = Hostile::always(Reply::json(
        200,
        r#"{"access_token":"tok","token_type":"bearer"}"#,
    ));
    let sb = sandbox_for(&srv.url("/token"), "");
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    assert_eq!(out.json()["token_type"], "Bearer");
    let srv = Hostile::always(Reply::json(200, r#"{"access_token":"tok"}"#));
    let sb = sandbox_for(&srv.url("/token"), "");
    assert_eq!(sb.run(&["auth", "token"]).json()["token_type"], "Bearer");
}

#[test]
fn an_absurd_lifetime_is_clamped_and_reported() {
    let srv = Hostile::always(Reply::json(
        200,
        r#"{"access_token":"tok","token_type":"Bearer","expires_in":1e308}"#,
    ));
    let sb = sandbox_for(&srv.url("/token"), "");
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    let shown = out.json()["expires_at"].as_str().map(str::to_owned);
    let shown = shown.expect("expires_at is reported, not null");
    let cached: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.token_file("dev")).unwrap()).unwrap();
    let cached_at = cached["expires_at"].as_i64().unwrap();
    let year = 365 * 24 * 3600;
    let obtained = cached["obtained_at"].as_i64().unwrap();
    assert_eq!(cached_at - obtained, year, "clamped to one year");
    // The second run reports the same expiry, from the cache.
    let again = sb.run(&["auth", "token"]);
    assert_eq!(again.json()["source"], "cache");
    assert_eq!(again.json()["expires_at"].as_str(), Some(shown.as_str()));
}

#[test]
fn an_oversized_token_response_is_refused() {
    let mut body = br#"{"access_token":"tok","token_type":"Bearer","pad":""#.to_vec();
    body.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    body.extend_from_slice(b"\"}");
    let srv = Hostile::always(Reply {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body,
    });
    let sb = sandbox_for(&srv.url("/token"), "");
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4)
        .assert_stderr_contains("response too large");
    assert!(!sb.token_file("dev").exists());
}

#[test]
fn an_oversized_discovery_document_is_refused() {
    let mut body = br#"{"issuer":"x","pad":""#.to_vec();
    body.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    body.extend_from_slice(b"\"}");
    let srv = Hostile::always(Reply {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body,
    });
    let sb = crate::support::Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID=c\nOAUTH_CLIENT_SECRET=lmi-secret-value\n",
            srv.url("")
        ),
    );
    let out = sb.run(&["auth", "token"]);
    assert_ne!(out.code, 0);
    out.assert_stderr_contains("response too large");
}

#[test]
fn secrets_echoed_json_escaped_or_short_are_scrubbed() {
    // The server echoes the secret as JSON would escape it (`\u00e4`, `\/`).
    let srv = Hostile::always(Reply::json(
        500,
        r#"{"detail":"bad client secret s\u00e4cr\/et-\u00c4 and pw \/ab"}"#,
    ));
    let sb = sandbox_for(&srv.url("/token"), "");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=säcr/et-Ä\nOAUTH_GRANT_TYPE=password\nOAUTH_USERNAME=u\nOAUTH_PASSWORD=/ab\n",
            srv.url("/token")
        ),
    );
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4);
    for leaked in ["s\\u00e4cr", "cr\\/et", "\\/ab", "säcr"] {
        assert!(!out.stderr.contains(leaked), "{leaked} in {}", out.stderr);
    }
    assert!(out.stderr.contains("[redacted]"), "{}", out.stderr);
    let vv = sb.run(&["auth", "token", "-vv"]);
    vv.assert_code(4);
    assert!(!vv.stderr.contains("\\/ab") && !vv.stderr.contains("s\\u00e4cr"));
}

#[test]
fn an_empty_401_or_403_from_the_token_endpoint_points_at_the_credentials() {
    for status in [401, 403] {
        let srv = Hostile::always(Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        });
        let sb = sandbox_for(&srv.url("/token"), "");
        let out = sb.run(&["auth", "token"]);
        out.assert_code(4);
        let hint = out
            .stderr
            .lines()
            .find(|l| l.starts_with("hint: "))
            .unwrap_or_default()
            .to_owned();
        for key in [
            "OAUTH_CLIENT_ID",
            "OAUTH_CLIENT_SECRET",
            "OAUTH_CLIENT_AUTH_METHOD",
        ] {
            assert!(hint.contains(key), "{status}: {hint}");
        }
        assert!(!hint.contains("down"), "{hint}");
    }
}
