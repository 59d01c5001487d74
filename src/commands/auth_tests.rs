//! `auth token|status|clear|inspect` through the seams: a captured stdout, a
//! session store in memory, a fixed clock and canned token answers.

use serde_json::json;

use super::{run, SsoState, SsoStatus};
use crate::auth::sso::testing::session;
use crate::cli::AuthCommand;
use crate::commands::testing::{error_of, kind_of, Harness, NOW};
use crate::config::StoreKind;
use crate::error::Kind;

pub const SVC_TOKEN_URL: &str = "https://svc.test/token";

/// SSO configured with explicit endpoints at the test IdP.
pub fn with_sso(h: Harness) -> Harness {
    h.set("OAUTH_SSO_CLIENT_ID", "lmi-public")
        .set("OAUTH_SSO_AUTHORIZATION_URL", "https://idp.test/authorize")
        .set("OAUTH_SSO_TOKEN_URL", "https://idp.test/token")
        .set("OAUTH_SSO_SCOPES", "profile offline_access")
}

/// Environment `dev`: client credentials at [`SVC_TOKEN_URL`], chosen with `-e`.
pub fn with_dev(h: Harness) -> Harness {
    h.env_file(
        "dev",
        &[
            ("OAUTH_CLIENT_ID", "cli"),
            ("OAUTH_CLIENT_SECRET", "s3cret"),
            ("OAUTH_TOKEN_URL", SVC_TOKEN_URL),
            ("API_BASE_URL", "https://api.test"),
        ],
    )
    .environment("dev")
}

fn token_answer(h: &Harness, token: &str, expires_in: i64) {
    h.http.answer(
        SVC_TOKEN_URL,
        200,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in}),
    );
}

#[test]
fn status_without_sso_or_environment_reports_both_absent() {
    let h = Harness::new();
    assert_eq!(run(&h.ctx(), AuthCommand::Status).unwrap(), 0);
    let out = h.json();
    assert_eq!(out["sso"]["configured"], false);
    assert_eq!(out["sso"]["logged_in"], false);
    assert_eq!(out["sso"]["store"], "keychain");
    assert_eq!(out["environment"], serde_json::Value::Null);
    assert!(h.http.requests().is_empty(), "status makes no request");
}

#[test]
fn status_names_the_file_store_when_sso_is_not_configured() {
    let h = Harness::new().set("OAUTH_SSO_TOKEN_STORE", "file");
    assert_eq!(run(&h.ctx(), AuthCommand::Status).unwrap(), 0);
    assert_eq!(h.json()["sso"]["store"], "file");
}

#[test]
fn status_refuses_an_unknown_store_name() {
    let h = Harness::new().set("OAUTH_SSO_TOKEN_STORE", "floppy");
    let e = error_of(run(&h.ctx(), AuthCommand::Status));
    assert_eq!(e.kind(), Kind::Config);
    assert!(
        e.message().contains("OAUTH_SSO_TOKEN_STORE"),
        "{}",
        e.message()
    );
    assert_eq!(h.out(), "", "nothing printed before the error");
}

#[test]
fn status_configured_without_a_session_prints_then_exits_auth() {
    let h = with_sso(Harness::new());
    let e = error_of(run(&h.ctx(), AuthCommand::Status));
    assert_eq!(e.kind(), Kind::Auth, "{}", e.message());
    assert_eq!(e.message(), "not logged in to SSO");
    assert_eq!(e.hint(), Some("run: lmi login sso"));
    let out = h.json();
    assert_eq!(out["sso"]["configured"], true);
    assert_eq!(out["sso"]["logged_in"], false);
    assert_eq!(out["sso"]["user"], serde_json::Value::Null);
}

#[test]
fn status_with_a_valid_session_shows_user_issuer_and_expiry() {
    let h = with_sso(Harness::new()).session(session(NOW + 600, Some("rt-1")));
    assert_eq!(run(&h.ctx(), AuthCommand::Status).unwrap(), 0);
    let sso = &h.json()["sso"];
    assert_eq!(sso["logged_in"], true);
    assert_eq!(sso["user"], "alice@example.test");
    assert_eq!(sso["issuer"], "https://idp.test/token");
    assert_eq!(sso["refreshable"], true);
    assert_eq!(
        sso["expires_at"],
        crate::clock::rfc3339(NOW + 600).unwrap().as_str()
    );
}

#[test]
fn status_counts_an_expired_refreshable_session_as_logged_in_without_refreshing() {
    let h = with_sso(Harness::new()).session(session(NOW - 600, Some("rt-1")));
    assert_eq!(run(&h.ctx(), AuthCommand::Status).unwrap(), 0);
    let sso = &h.json()["sso"];
    assert_eq!(sso["logged_in"], true);
    assert_eq!(sso["refreshable"], true);
    assert!(h.http.requests().is_empty(), "status never refreshes");
    assert_eq!(h.stored().unwrap().expires_at, Some(NOW - 600));
}

#[test]
fn status_counts_an_expired_session_without_refresh_token_as_logged_out() {
    let h = with_sso(Harness::new()).session(session(NOW - 600, None));
    assert_eq!(kind_of(run(&h.ctx(), AuthCommand::Status)), Kind::Auth);
    let sso = &h.json()["sso"];
    assert_eq!(sso["logged_in"], false);
    assert_eq!(sso["refreshable"], false);
}

#[test]
fn status_text_names_user_issuer_store_and_expiry() {
    let h = with_sso(Harness::new().text()).session(session(NOW + 600, Some("rt-1")));
    assert_eq!(run(&h.ctx(), AuthCommand::Status).unwrap(), 0);
    let expires = crate::clock::rfc3339(NOW + 600).unwrap();
    assert_eq!(
        h.out(),
        format!(
            "SSO: logged in as alice@example.test at https://idp.test/token (store: keychain, access token expires {expires})\nenvironment: none selected\n"
        )
    );
}

#[test]
fn status_text_without_sso_says_not_configured() {
    let h = Harness::new().text();
    assert_eq!(run(&h.ctx(), AuthCommand::Status).unwrap(), 0);
    assert_eq!(h.out(), "SSO: not configured\nenvironment: none selected\n");
}

#[test]
fn status_text_not_logged_in_names_the_store() {
    let h = with_sso(Harness::new().text()).set("OAUTH_SSO_TOKEN_STORE", "file");
    assert_eq!(kind_of(run(&h.ctx(), AuthCommand::Status)), Kind::Auth);
    assert!(
        h.out().starts_with("SSO: not logged in (store: file)\n"),
        "{}",
        h.out()
    );
}

#[test]
fn status_with_an_environment_and_no_cached_token() {
    let h = with_dev(Harness::new());
    assert_eq!(run(&h.ctx(), AuthCommand::Status).unwrap(), 0);
    let env = &h.json()["environment"];
    assert_eq!(env["name"], "dev");
    assert_eq!(env["grant_type"], "client_credentials");
    assert_eq!(env["client_auth"], "client_secret_basic");
    assert_eq!(env["token_cached"], false);
    assert_eq!(env["expires_at"], serde_json::Value::Null);
    assert!(h.http.requests().is_empty());
}

#[test]
fn status_after_a_token_shows_it_cached_until_its_expiry() {
    let h = with_dev(Harness::new().text());
    token_answer(&h, "svc-token-1", 3600);
    assert_eq!(run(&h.ctx(), AuthCommand::Token).unwrap(), 0);
    let h2 = Harness {
        stdout: Default::default(),
        ..h
    };
    assert_eq!(run(&h2.ctx(), AuthCommand::Status).unwrap(), 0);
    let until = crate::clock::rfc3339(NOW + 3600).unwrap();
    assert!(
        h2.out().ends_with(&format!(
            "environment dev: client_credentials grant (client_secret_basic client authentication), token cached until {until}\n"
        )),
        "{}",
        h2.out()
    );
}

#[test]
fn status_shows_an_expired_cached_token_as_not_cached() {
    let h = with_dev(Harness::new());
    token_answer(&h, "svc-token-1", 3600);
    assert_eq!(run(&h.ctx(), AuthCommand::Token).unwrap(), 0);
    h.clock.advance(3600);
    let h2 = Harness {
        stdout: Default::default(),
        ..h
    };
    assert_eq!(run(&h2.ctx(), AuthCommand::Status).unwrap(), 0);
    assert_eq!(h2.json()["environment"]["token_cached"], false);
}

#[test]
fn token_json_carries_the_token_and_its_source() {
    let h = with_dev(Harness::new());
    token_answer(&h, "svc-token-1", 3600);
    assert_eq!(run(&h.ctx(), AuthCommand::Token).unwrap(), 0);
    let out = h.json();
    assert_eq!(out["environment"], "dev");
    assert_eq!(out["access_token"], "svc-token-1");
    assert_eq!(out["token_type"], "Bearer");
    assert_eq!(out["source"], "acquired");
    let sent = h.http.requests_to(SVC_TOKEN_URL);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].field("grant_type").as_deref(),
        Some("client_credentials")
    );
}

#[test]
fn token_text_is_the_bare_token_and_a_second_run_uses_the_cache() {
    let h = with_dev(Harness::new().text());
    token_answer(&h, "svc-token-1", 3600);
    assert_eq!(run(&h.ctx(), AuthCommand::Token).unwrap(), 0);
    assert_eq!(run(&h.ctx(), AuthCommand::Token).unwrap(), 0);
    assert_eq!(h.out(), "svc-token-1\nsvc-token-1\n");
    assert_eq!(h.http.requests_to(SVC_TOKEN_URL).len(), 1);
}

#[test]
fn token_refused_by_the_server_is_an_auth_error_and_prints_nothing() {
    let h = with_dev(Harness::new());
    h.http.answer(
        SVC_TOKEN_URL,
        401,
        json!({"error": "invalid_client", "error_description": "bad secret"}),
    );
    let e = error_of(run(&h.ctx(), AuthCommand::Token));
    assert_eq!(e.kind(), Kind::Auth);
    assert!(e.message().contains("invalid_client"), "{}", e.message());
    assert!(!e.message().contains("s3cret"));
    assert_eq!(h.out(), "");
}

#[test]
fn clear_removes_the_cached_token_once() {
    let h = with_dev(Harness::new());
    token_answer(&h, "svc-token-1", 3600);
    assert_eq!(run(&h.ctx(), AuthCommand::Token).unwrap(), 0);
    let h = Harness {
        stdout: Default::default(),
        ..h
    };
    assert_eq!(run(&h.ctx(), AuthCommand::Clear { all: false }).unwrap(), 0);
    assert_eq!(h.json(), json!({"cleared": ["dev"]}));
    let h = Harness {
        stdout: Default::default(),
        ..h.text()
    };
    assert_eq!(run(&h.ctx(), AuthCommand::Clear { all: true }).unwrap(), 0);
    assert_eq!(h.out(), "no cached tokens to clear\n");
}

#[test]
fn inspect_sso_without_a_session_is_an_auth_error() {
    let h = with_sso(Harness::new());
    let e = error_of(run(&h.ctx(), AuthCommand::Inspect { sso: true }));
    assert_eq!(e.kind(), Kind::Auth);
    assert_eq!(e.hint(), Some("run: lmi login sso"));
    assert_eq!(h.out(), "");
}

#[test]
fn inspect_sso_decodes_without_printing_the_token() {
    let h = with_sso(Harness::new().text()).session(session(NOW + 600, Some("rt-1")));
    assert_eq!(
        run(&h.ctx(), AuthCommand::Inspect { sso: true }).unwrap(),
        0
    );
    let out = h.out();
    assert!(out.contains("id_token: none"), "{out}");
    assert!(out.ends_with("(decoded, not verified)\n"), "{out}");
    assert!(!out.contains("at-1") && !out.contains("rt-1"), "{out}");
}

#[test]
fn the_sso_state_shows_the_expiry_as_rfc3339_and_keeps_problems_out() {
    let status = SsoStatus {
        configured: true,
        logged_in: true,
        user: Some("alice@example.test".into()),
        issuer: Some("https://idp.test".into()),
        expires_at: Some(1_800_000_000),
        refreshable: true,
        token_type: Some("DPoP".into()),
        store: "keychain".into(),
        store_problem: Some(("locked".into(), "unlock it".into())),
    };
    let json = serde_json::to_value(SsoState::of(&status)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "configured": true,
            "logged_in": true,
            "user": "alice@example.test",
            "issuer": "https://idp.test",
            "expires_at": "2027-01-15T08:00:00Z",
            "refreshable": true,
            "token_type": "DPoP",
            "store": "keychain",
        })
    );
    let none =
        serde_json::to_value(SsoState::of(&SsoStatus::not_configured(StoreKind::File))).unwrap();
    assert_eq!(none["configured"], false);
    assert_eq!(none["expires_at"], serde_json::Value::Null);
    assert_eq!(none["store"], "file");
}
