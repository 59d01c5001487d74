//! Where the token may go: the base URL's path and query, full URLs and
//! redirects on the base origin, other origins refused or explicitly
//! allowed, a missing or plain-http base URL.

use serde_json::json;

use super::{assert_nothing_sent, cached_token, sandbox, sandbox_with, server};
use crate::support::Sandbox;

#[test]
fn api_base_path_and_query_are_kept() {
    let srv = server();
    let sb = sandbox_with(&srv, &format!("API_BASE_URL={}/v1/\n", srv.api_url()));
    // The test API has no /v1: the 404 proves where the request went.
    let out = sb.run(&["api", "echo?x=1&y=two"]);
    out.assert_code(5);
    let req = srv.last_api_request().unwrap();
    assert_eq!(req.path, "/v1/echo");
    assert_eq!(req.query, "x=1&y=two");
}

#[test]
fn api_full_url_on_the_base_origin() {
    let srv = server();
    let sb = sandbox(&srv);
    let url = format!("{}/echo?q=1", srv.api_url());
    let out = sb.run(&["api", &url]);
    out.assert_ok();
    assert_eq!(
        out.json(),
        json!({ "method": "GET", "path": "/echo", "query": "q=1", "content_type": null, "body": "" })
    );
    assert_eq!(srv.api_requests(), 1);
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(
        srv.last_api_request().unwrap().authorization().unwrap(),
        format!("Bearer {}", cached_token(&sb))
    );
}

#[test]
fn api_same_origin_redirect_is_followed_with_the_token() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "/redirect-same"]);
    out.assert_ok();
    assert_eq!(out.json()["client_id"], "lmi-client");
    assert_eq!(srv.api_requests(), 2);
    let req = srv.last_api_request().unwrap();
    assert_eq!(req.path, "/whoami");
    assert_eq!(
        req.authorization().unwrap(),
        format!("Bearer {}", cached_token(&sb))
    );
}

#[test]
fn api_same_origin_redirect_loop_ends_at_the_limit() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "/redirect-loop"]);
    out.assert_code(5);
    assert_eq!(
        out.error_line().expect("error line"),
        format!(
            "error: GET {}/redirect-loop redirected more than 5 times; giving up (a redirect loop?)",
            srv.api_url()
        )
    );
    assert_eq!(out.stdout, "");
    // The first request and lmi's 5 follows, then it gives up.
    assert_eq!(srv.api_requests(), 6);
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.other_requests(), 0);
}

#[test]
fn api_cross_origin_redirect_is_not_followed() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "/redirect-other"]);
    out.assert_code(5);
    out.assert_stderr_contains(&format!("{}/capture", srv.other_url()));
    assert_eq!(srv.api_requests(), 1);
    assert_eq!(
        srv.other_requests(),
        0,
        "the other origin is never contacted"
    );
    assert!(srv.other_authorization_headers().is_empty());
}

#[test]
fn api_foreign_full_url_is_refused_before_anything_is_sent() {
    let srv = server();
    let sb = sandbox(&srv);
    let url = format!("{}/capture", srv.other_url());
    let out = sb.run(&["api", &url]);
    out.assert_code(2);
    out.assert_stderr_contains(srv.other_url());
    out.assert_stderr_contains("API_ALLOWED_ORIGINS");
    assert_nothing_sent(&srv);
    assert!(!sb.token_file("dev").exists(), "no token was acquired");
}

#[test]
fn api_allowed_origin_receives_the_token() {
    let srv = server();
    let sb = sandbox_with(
        &srv,
        &format!(
            "API_ALLOWED_ORIGINS=\"https://x.example {}\"\n",
            srv.other_url()
        ),
    );
    let url = format!("{}/capture", srv.other_url());
    let out = sb.run(&["api", &url]);
    out.assert_ok();
    assert_eq!(out.stdout, "{\n  \"captured\": true\n}\n");
    assert_eq!(
        srv.other_authorization_headers(),
        vec![Some(format!("Bearer {}", cached_token(&sb)))]
    );
    assert_eq!(srv.api_requests(), 0);

    // An allowed origin must itself be https or loopback.
    let insecure = sandbox_with(&srv, "API_ALLOWED_ORIGINS=http://api.example.com\n");
    srv.reset_counts();
    insecure.run(&["api", &url]).assert_code(3);
    assert_nothing_sent(&srv);
}

#[test]
fn api_without_base_url_is_a_config_error() {
    let srv = server();
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            srv.token_url()
        ),
    );
    let out = sb.run(&["api", "/whoami"]);
    out.assert_code(3);
    out.assert_stderr_contains("API_BASE_URL");
    out.assert_stderr_contains("hint: set API_BASE_URL in");
    out.assert_stderr_contains("dev.env");
    assert_nothing_sent(&srv);
}

#[test]
fn api_plain_http_base_url_is_refused() {
    let srv = server();
    // api.example.com is not resolved in the sandbox, so "nothing sent" is
    // only meaningful through a proxy: the other server records every
    // request, proxied ones included.
    let proxied = |sb: &mut Sandbox| {
        sb.var("HTTP_PROXY", srv.other_url());
        sb.var("HTTPS_PROXY", srv.other_url());
    };
    let mut sb = sandbox_with(&srv, "API_BASE_URL=http://api.example.com/v1\n");
    proxied(&mut sb);
    let out = sb.run(&["api", "/whoami"]);
    out.assert_code(3);
    out.assert_stderr_contains("API_BASE_URL");
    out.assert_stderr_contains("plain http:// on a non-loopback host (api.example.com)");
    assert_nothing_sent(&srv);
    assert!(!sb.token_file("dev").exists(), "no token was acquired");

    // Control: the same settings with https do reach the proxy (lmi sends
    // loopback traffic, here the token request, directly).
    let mut control = sandbox_with(&srv, "API_BASE_URL=https://api.example.com/v1\n");
    proxied(&mut control);
    let out = control.run(&["api", "/whoami"]);
    out.assert_code(5);
    out.assert_stderr_contains("could not reach https://api.example.com/v1/whoami");
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.other_requests(), 1, "the proxy got the API request");
    assert_eq!(srv.api_requests(), 0);
}
