//! `credential git get|store|erase` through the seams: git's request on a
//! byte slice, the answer on a captured stdout, canned token answers.

use serde_json::json;

use super::run;
use crate::cli::GitAction;
use crate::commands::auth::tests::{with_dev, SVC_TOKEN_URL};
use crate::commands::testing::{error_of, Harness, NOW};
use crate::error::Kind;

fn git(h: &Harness, action: GitAction, request: &str) -> crate::error::Result<u8> {
    run(&h.ctx(), action, &mut request.as_bytes())
}

fn ready() -> Harness {
    let h = with_dev(Harness::new());
    h.http.answer(
        SVC_TOKEN_URL,
        200,
        json!({"access_token": "svc-token-1", "token_type": "Bearer", "expires_in": 3600}),
    );
    h
}

const API: &str = "protocol=https\nhost=api.test\n\n";

#[test]
fn get_for_the_api_origin_answers_with_the_token_and_its_expiry() {
    let h = ready();
    assert_eq!(git(&h, GitAction::Get, API).unwrap(), 0);
    assert_eq!(
        h.out(),
        format!(
            "username=oauth2\npassword=svc-token-1\npassword_expiry_utc={}\n",
            NOW + 3600
        )
    );
}

#[test]
fn get_answers_with_the_configured_user_name() {
    let h = ready().set("CREDENTIAL_USERNAME", "x-access-token");
    assert_eq!(git(&h, GitAction::Get, API).unwrap(), 0);
    assert!(
        h.out().starts_with("username=x-access-token\n"),
        "{}",
        h.out()
    );
}

#[test]
fn get_answers_for_an_allowed_extra_origin() {
    let h = ready().set("API_ALLOWED_ORIGINS", "https://git.test:8443");
    let request = "protocol=https\nhost=git.test:8443\n";
    assert_eq!(git(&h, GitAction::Get, request).unwrap(), 0);
    assert!(h.out().contains("password=svc-token-1\n"), "{}", h.out());
}

#[test]
fn get_for_a_foreign_host_prints_nothing_and_asks_for_no_token() {
    let h = ready();
    let request = "protocol=https\nhost=evil.test\n\n";
    assert_eq!(git(&h, GitAction::Get, request).unwrap(), 0);
    assert_eq!(h.out(), "");
    assert!(h.http.requests().is_empty());
}

#[test]
fn get_over_plain_http_to_the_api_host_is_not_answered() {
    let h = ready();
    let request = "protocol=http\nhost=api.test\n\n";
    assert_eq!(git(&h, GitAction::Get, request).unwrap(), 0);
    assert_eq!(h.out(), "");
    assert!(h.http.requests().is_empty());
}

#[test]
fn get_with_a_malformed_request_is_not_answered() {
    let h = ready();
    for request in [
        "host=api.test\n\n",
        "protocol=https\n\n",
        "protocol=https\nhost=user@api.test\n",
        "garbage without equals\n",
        "",
    ] {
        assert_eq!(git(&h, GitAction::Get, request).unwrap(), 0, "{request:?}");
    }
    assert_eq!(h.out(), "");
    assert!(h.http.requests().is_empty());
}

#[test]
fn get_prints_nothing_when_the_token_is_refused() {
    let h = with_dev(Harness::new());
    h.http
        .answer(SVC_TOKEN_URL, 400, json!({"error": "invalid_client"}));
    let e = error_of(git(&h, GitAction::Get, API));
    assert_eq!(e.kind(), Kind::Auth);
    assert_eq!(h.out(), "", "stdout carries only a credential");
}

#[test]
fn store_is_a_no_op_even_without_configuration() {
    let h = Harness::new();
    let request = "protocol=https\nhost=api.test\nusername=oauth2\npassword=p\n\n";
    assert_eq!(git(&h, GitAction::Store, request).unwrap(), 0);
    assert_eq!(h.out(), "");
    assert!(h.http.requests().is_empty());
}

#[test]
fn erase_of_the_cached_token_discards_it() {
    let h = ready();
    assert_eq!(git(&h, GitAction::Get, API).unwrap(), 0);
    let erase = API.replace("\n\n", "\npassword=svc-token-1\n\n");
    assert_eq!(git(&h, GitAction::Erase, &erase).unwrap(), 0);
    assert_eq!(git(&h, GitAction::Get, API).unwrap(), 0);
    assert_eq!(
        h.http.requests_to(SVC_TOKEN_URL).len(),
        2,
        "the next get acquires a new token"
    );
}

#[test]
fn erase_of_another_token_keeps_the_cached_one() {
    let h = ready();
    assert_eq!(git(&h, GitAction::Get, API).unwrap(), 0);
    let erase = "protocol=https\nhost=api.test\npassword=an-older-token\n\n";
    assert_eq!(git(&h, GitAction::Erase, erase).unwrap(), 0);
    assert_eq!(git(&h, GitAction::Get, API).unwrap(), 0);
    assert_eq!(h.http.requests_to(SVC_TOKEN_URL).len(), 1);
}

#[test]
fn erase_without_a_password_or_for_a_foreign_host_does_nothing() {
    let h = ready();
    assert_eq!(git(&h, GitAction::Get, API).unwrap(), 0);
    assert_eq!(git(&h, GitAction::Erase, API).unwrap(), 0);
    let foreign = "protocol=https\nhost=evil.test\npassword=svc-token-1\n\n";
    assert_eq!(git(&h, GitAction::Erase, foreign).unwrap(), 0);
    assert_eq!(git(&h, GitAction::Get, API).unwrap(), 0);
    assert_eq!(h.http.requests_to(SVC_TOKEN_URL).len(), 1);
}
