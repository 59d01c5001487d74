//! `lmi api` through the seams: the request that goes out (bearer token,
//! URL), what is printed, and the exit domain of failures.

use serde_json::json;

use crate::commands::auth::tests::{with_dev, SVC_TOKEN_URL};
use crate::commands::testing::{error_of, Harness};
use crate::error::Kind;

fn ready() -> Harness {
    let h = with_dev(Harness::new());
    h.http.answer(
        SVC_TOKEN_URL,
        200,
        json!({"access_token": "svc-token-1", "token_type": "Bearer", "expires_in": 3600}),
    );
    h
}

#[test]
fn a_get_sends_the_bearer_token_and_prints_the_body_reindented() {
    let h = ready();
    h.http.answer(
        "https://api.test/items?limit=2",
        200,
        json!({"items": [1, 2]}),
    );
    assert_eq!(h.run(&["api", "/items?limit=2"]).unwrap(), 0);
    assert_eq!(h.out(), "{\n  \"items\": [\n    1,\n    2\n  ]\n}\n");
    let sent = h.http.requests_to("https://api.test/items?limit=2");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "GET");
    assert_eq!(sent[0].header("authorization"), Some("Bearer svc-token-1"));
}

#[test]
fn jq_filters_what_is_printed_and_strings_come_out_raw() {
    let h = ready();
    h.http.answer(
        "https://api.test/items",
        200,
        json!({"items": [{"id": "a"}, {"id": "b"}]}),
    );
    assert_eq!(h.run(&["api", "/items", "--jq", ".items[].id"]).unwrap(), 0);
    assert_eq!(h.out(), "a\nb\n");
}

#[test]
fn a_field_makes_a_post_with_a_json_body() {
    let h = ready();
    h.http
        .answer("https://api.test/items", 201, json!({"id": "c"}));
    assert_eq!(h.run(&["api", "/items", "-f", "name=c"]).unwrap(), 0);
    let sent = h.http.requests_to("https://api.test/items");
    assert_eq!(sent[0].method, "POST");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&sent[0].body).unwrap(),
        json!({"name": "c"})
    );
}

#[test]
fn an_error_status_prints_the_body_and_exits_with_the_service_domain() {
    let h = ready();
    h.http.answer(
        "https://api.test/missing",
        404,
        json!({"message": "no such thing"}),
    );
    let e = error_of(h.run(&["api", "/missing"]));
    assert_eq!(e.kind(), Kind::Service);
    assert!(h.out().contains("no such thing"), "{}", h.out());
}

#[test]
fn a_url_at_a_foreign_origin_is_refused_before_any_request() {
    let h = ready();
    let e = error_of(h.run(&["api", "https://evil.test/steal"]));
    assert_eq!(e.kind(), Kind::Usage);
    assert!(h.http.requests().is_empty(), "no token is even fetched");
    assert_eq!(h.out(), "");
}

#[test]
fn a_bad_jq_program_costs_no_request() {
    let h = ready();
    let e = error_of(h.run(&["api", "/items", "--jq", ".items[]["]));
    assert_eq!(e.kind(), Kind::Usage);
    assert!(e.message().contains("--jq"), "{}", e.message());
    assert!(h.http.requests().is_empty());
}
