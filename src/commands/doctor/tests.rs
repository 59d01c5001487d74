//! `doctor` through the seams: each check's status, detail and hint from
//! canned answers, and the exit domain of the first failure.

use serde_json::{json, Value as Json};

use super::run;
use crate::auth::sso::testing::{session, FakeIdp, ISSUER};
use crate::commands::auth::tests::{with_dev, with_sso, SVC_TOKEN_URL};
use crate::commands::testing::{error_of, Harness, NOW};
use crate::error::Kind;

/// An HTTP date `offset` seconds from the harness's now.
fn date(offset: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs((NOW + offset) as u64);
    httpdate::fmt_http_date(t)
}

/// The check called `name` in the JSON report.
fn check(h: &Harness, name: &str) -> Json {
    h.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no check {name}: {}", h.out()))
}

/// `dev` whose token endpoint and API answer; the API sends `Date`
/// `offset` seconds from now.
fn healthy(offset: i64) -> Harness {
    let h = with_dev(Harness::new());
    h.http.answer(
        SVC_TOKEN_URL,
        200,
        json!({"access_token": "svc-token-1", "token_type": "Bearer", "expires_in": 3600}),
    );
    let date = date(offset);
    h.http.reply_with(200, &[("Date", date.as_str())], "{}");
    h
}

#[test]
fn a_healthy_environment_passes_every_check_in_order() {
    let h = healthy(0);
    assert_eq!(run(&h.ctx()).unwrap(), 0);
    let checks = h.json()["checks"].as_array().unwrap().clone();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "config",
            "environment",
            "endpoints",
            "token",
            "keychain",
            "sso",
            "clock",
            "log"
        ]
    );
    for c in &checks {
        assert_eq!(c["status"], "ok", "{c}");
        assert_eq!(c["hint"], Json::Null, "{c}");
    }
}

#[test]
fn the_checks_describe_what_they_found() {
    let h = healthy(0);
    assert_eq!(run(&h.ctx()).unwrap(), 0);
    assert_eq!(
        check(&h, "environment")["detail"],
        "dev: client_credentials grant for client cli"
    );
    assert_eq!(
        check(&h, "endpoints")["detail"],
        "token endpoint https://svc.test/token, API https://api.test/ answer"
    );
    let token = check(&h, "token")["detail"].as_str().unwrap().to_owned();
    assert!(
        token.starts_with("a new token was acquired, valid until "),
        "{token}"
    );
    assert!(
        !h.out().contains("svc-token-1"),
        "doctor never shows a token"
    );
    assert_eq!(
        check(&h, "keychain")["detail"],
        "not used (SSO is not configured)"
    );
    assert_eq!(check(&h, "sso")["detail"], "not configured");
    assert_eq!(check(&h, "log")["detail"], "the file log is off");
}

#[test]
fn a_second_run_reports_the_cached_token() {
    let h = healthy(0);
    assert_eq!(run(&h.ctx()).unwrap(), 0);
    let h = Harness {
        stdout: Default::default(),
        ..h
    };
    let date = date(0);
    h.http.reply_with(200, &[("Date", date.as_str())], "{}");
    assert_eq!(run(&h.ctx()).unwrap(), 0);
    let token = check(&h, "token")["detail"].as_str().unwrap().to_owned();
    assert!(token.starts_with("a cached token, valid until "), "{token}");
    assert_eq!(
        h.http
            .requests_to(SVC_TOKEN_URL)
            .iter()
            .filter(|s| s.method == "POST")
            .count(),
        1
    );
}

#[test]
fn an_unreachable_token_endpoint_fails_with_the_service_domain() {
    let h = with_dev(Harness::new());
    let e = error_of(run(&h.ctx()));
    assert_eq!(e.kind(), Kind::Service);
    assert_eq!(e.message(), "1 check failed: endpoints");
    assert_eq!(
        e.hint(),
        Some("check OAUTH_TOKEN_URL and your network (proxy, VPN)")
    );
    let endpoints = check(&h, "endpoints");
    assert_eq!(endpoints["status"], "fail");
    assert!(endpoints["detail"]
        .as_str()
        .unwrap()
        .starts_with("the token endpoint does not answer: "));
    let token = check(&h, "token");
    assert_eq!(token["status"], "warn");
    assert_eq!(
        token["detail"],
        "not checked: the OAuth service does not answer (see endpoints)"
    );
    assert_eq!(check(&h, "clock")["status"], "warn");
    // The token endpoint was tried once, not once per check.
    assert_eq!(h.http.requests().len(), 1);
}

#[test]
fn a_refused_token_fails_with_the_auth_domain() {
    let h = with_dev(Harness::new());
    h.http
        .answer(SVC_TOKEN_URL, 401, json!({"error": "invalid_client"}));
    let e = error_of(run(&h.ctx()));
    assert_eq!(e.kind(), Kind::Auth);
    assert_eq!(e.message(), "1 check failed: token");
    let token = check(&h, "token");
    assert_eq!(token["status"], "fail");
    assert!(
        token["detail"].as_str().unwrap().contains("invalid_client"),
        "{token}"
    );
    assert!(!h.out().contains("s3cret"));
}

#[test]
fn without_an_environment_the_service_checks_are_skipped() {
    let h = Harness::new();
    let e = error_of(run(&h.ctx()));
    assert_eq!(e.kind(), Kind::Config);
    assert_eq!(e.message(), "1 check failed: environment");
    assert_eq!(check(&h, "environment")["status"], "fail");
    for name in ["endpoints", "token"] {
        let c = check(&h, name);
        assert_eq!(c["status"], "warn", "{c}");
        assert_eq!(
            c["detail"],
            "not checked: the environment is incomplete (see environment)"
        );
    }
    assert!(h.http.requests().is_empty());
}

#[test]
fn a_clock_ahead_of_the_idp_is_a_warning_not_a_failure() {
    let h = healthy(-120);
    assert_eq!(run(&h.ctx()).unwrap(), 0);
    let clock = check(&h, "clock");
    assert_eq!(clock["status"], "warn");
    assert_eq!(
        clock["detail"],
        "this machine's clock is 120 s ahead of the IdP's (https://api.test/)"
    );
    assert!(clock["hint"].as_str().unwrap().contains("NTP"));
}

#[test]
fn a_clock_within_a_minute_is_fine() {
    let h = healthy(30);
    assert_eq!(run(&h.ctx()).unwrap(), 0);
    assert_eq!(
        check(&h, "clock")["detail"],
        "within 30 s of the IdP's (https://api.test/)"
    );
}

#[test]
fn a_date_that_is_not_an_http_date_is_a_warning() {
    let h = with_dev(Harness::new());
    h.http.answer(
        SVC_TOKEN_URL,
        200,
        json!({"access_token": "t", "token_type": "Bearer", "expires_in": 60}),
    );
    h.http.reply_with(200, &[("Date", "yesterday")], "{}");
    assert_eq!(run(&h.ctx()).unwrap(), 0);
    let clock = check(&h, "clock");
    assert_eq!(clock["status"], "warn");
    assert_eq!(
        clock["detail"],
        "https://api.test/ sent a Date header that is not an HTTP date"
    );
}

#[test]
fn the_keychain_check_warns_without_a_session_and_names_the_user_with_one() {
    let h = with_sso(Harness::new());
    let _ = run(&h.ctx());
    let keychain = check(&h, "keychain");
    assert_eq!(keychain["status"], "warn");
    assert_eq!(
        keychain["detail"],
        "memory answers; no SSO session is stored"
    );
    assert_eq!(keychain["hint"], "run: lmi login sso");

    let h = with_sso(Harness::new()).session(session(NOW + 600, None));
    let _ = run(&h.ctx());
    assert_eq!(
        check(&h, "keychain")["detail"],
        "memory answers and holds the session of alice@example.test"
    );
}

#[test]
fn the_sso_check_loads_the_issuers_metadata_and_keys() {
    let h = with_sso(Harness::new()).set("OAUTH_SSO_ISSUER", ISSUER);
    h.http.idp(ISSUER);
    let _ = run(&h.ctx());
    let sso = check(&h, "sso");
    assert_eq!(sso["status"], "ok", "{sso}");
    assert_eq!(
        sso["detail"],
        "metadata of https://idp.test/ and its signing keys (1 key) load"
    );
}

#[test]
fn an_unreachable_sso_issuer_fails_the_sso_check() {
    let h = with_sso(Harness::new()).set("OAUTH_SSO_ISSUER", "https://down.test");
    let e = error_of(run(&h.ctx()));
    let sso = check(&h, "sso");
    assert_eq!(sso["status"], "fail");
    assert!(sso["detail"]
        .as_str()
        .unwrap()
        .starts_with("the SSO issuer does not answer: "));
    assert_eq!(
        sso["hint"],
        "check OAUTH_SSO_ISSUER and your network (proxy, VPN)"
    );
    // environment fails first (none is chosen): its domain is the exit's.
    assert_eq!(e.kind(), Kind::Config);
    assert_eq!(e.message(), "2 checks failed: environment, sso");
}

#[test]
fn the_text_report_marks_each_check() {
    let h = Harness {
        global: crate::cli::GlobalArgs {
            output: Some(crate::cli::OutputFlag::Text),
            ..healthy(-120).global.clone()
        },
        ..healthy(-120)
    };
    assert_eq!(run(&h.ctx()).unwrap(), 0);
    let out = h.out();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "{out}");
    assert!(lines[0].starts_with("[ok]   config"), "{out}");
    assert!(lines[6].starts_with("[warn] clock"), "{out}");
    assert!(lines[6].contains("(hint: set the system clock"), "{out}");
}
