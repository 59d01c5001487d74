//! Failures: missing and invalid settings caught before any request,
//! token-endpoint refusals that keep the cache, unreachable and slow
//! endpoints, and an endpoint that is not a token endpoint.

use std::time::{Duration, Instant};

use lmi_testidp::{TestServer, TokenFailure};

use super::{sandbox, server};
use crate::support::{dead_port, Sandbox};

/// A stale but well-formed cache file that a failed exchange must not touch.
fn seed_stale_cache(sb: &Sandbox, srv: &TestServer) -> Vec<u8> {
    srv.set(|b| b.token_lifetime = Some(30));
    sb.run(&["auth", "token"]).assert_ok();
    crate::support::backdate(&sb.token_file("dev"));
    srv.set(|b| b.token_lifetime = Some(3600));
    std::fs::read(sb.token_file("dev")).unwrap()
}

#[test]
fn service_missing_keys_fail_before_any_request() {
    let srv = server();
    let cases: &[(&str, &str)] = &[
        ("OAUTH_CLIENT_SECRET=x\n", "OAUTH_CLIENT_ID"),
        ("OAUTH_CLIENT_ID=x\n", "OAUTH_CLIENT_SECRET"),
        (
            "OAUTH_GRANT_TYPE=password\nOAUTH_CLIENT_ID=x\nOAUTH_PASSWORD=p\n",
            "OAUTH_USERNAME",
        ),
        (
            "OAUTH_GRANT_TYPE=password\nOAUTH_CLIENT_ID=x\nOAUTH_USERNAME=u\n",
            "OAUTH_PASSWORD",
        ),
    ];
    for (text, key) in cases {
        let sb = Sandbox::new();
        sb.write_env(
            "dev",
            &format!("OAUTH_TOKEN_URL={}\n{text}", srv.token_url()),
        );
        let out = sb.run(&["-e", "dev", "auth", "token"]);
        out.assert_code(3)
            .assert_stderr_contains(&format!("{key} is not set"));
        out.assert_stderr_contains("env/dev.env");
    }
    let sb = Sandbox::new();
    sb.write_env("dev", "OAUTH_CLIENT_ID=x\nOAUTH_CLIENT_SECRET=y\n");
    sb.run(&["-e", "dev", "auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("OAUTH_TOKEN_URL");
    assert_eq!(srv.token_requests(), 0);
}

#[test]
fn service_invalid_values_list_the_valid_ones() {
    let srv = server();
    // The "other" server as proxy records whatever lmi would send anywhere
    // over http, so "nothing was sent" is observable.
    let proxied = |extra: &str| {
        let mut sb = sandbox(&srv, extra);
        sb.var("HTTP_PROXY", srv.other_url());
        sb
    };
    proxied("OAUTH_GRANT_TYPE=implicit\n")
        .run(&["auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("client_credentials, password");
    proxied("OAUTH_CLIENT_AUTH_METHOD=tls_client_auth\n")
        .run(&["auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("client_secret_basic, client_secret_post, private_key_jwt");
    let sb = proxied("OAUTH_TOKEN_URL=http://idp.example.com/token\n");
    sb.run(&["auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("https");
    assert_eq!((srv.token_requests(), srv.other_requests()), (0, 0));

    // Control: a valid https configuration in the same setup does reach the
    // proxy (loopback endpoints never go through one).
    proxied("OAUTH_TOKEN_URL=https://idp.example/token\n")
        .run(&["auth", "token"])
        .assert_code(4);
    assert!(srv.other_requests() >= 1);
}

#[test]
fn service_token_endpoint_failures_keep_the_cache() {
    let cases: Vec<(TokenFailure, &str)> = vec![
        (
            TokenFailure::InvalidClient,
            "invalid_client: Client authentication failed",
        ),
        (TokenFailure::ServerError, "HTTP 500"),
        (TokenFailure::NotJson, "not a JSON object"),
        (TokenFailure::NoAccessToken, "no access_token"),
        (
            TokenFailure::ExpiresInString,
            "expires_in that is not a number",
        ),
        (TokenFailure::ExpiresInNegative, "negative expires_in"),
    ];
    for (failure, message) in cases {
        let srv = server();
        let sb = sandbox(&srv, "");
        let before = seed_stale_cache(&sb, &srv);
        srv.set(|b| b.token_failure = Some(failure.clone()));
        let out = sb.run(&["auth", "token"]);
        out.assert_code(4).assert_stderr_contains(message);
        assert!(out.stdout.is_empty());
        assert!(!out.stderr.contains("lmi-secret"));
        assert_eq!(
            std::fs::read(sb.token_file("dev")).unwrap(),
            before,
            "cache changed after {failure:?}"
        );
    }
}

#[test]
fn service_unreachable_and_slow_endpoints() {
    let dead = dead_port();
    let sb = Sandbox::new();
    let url = format!("http://127.0.0.1:{}/token", dead.port);
    sb.write_env(
        "dev",
        &format!("OAUTH_TOKEN_URL={url}\nOAUTH_CLIENT_ID=a\nOAUTH_CLIENT_SECRET=b\n"),
    );
    sb.run(&["-e", "dev", "auth", "token"])
        .assert_code(4)
        .assert_stderr_contains(&format!("could not reach {url}"))
        .assert_stderr_contains("refused");

    let srv = server();
    let sb = sandbox(&srv, "HTTP_TIMEOUT=1\n");
    let before = seed_stale_cache(&sb, &srv);
    srv.set(|b| b.token_failure = Some(TokenFailure::Slow(Duration::from_secs(30))));
    let started = Instant::now();
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4)
        .assert_stderr_contains("did not answer within 1 s");
    // Far below the server's 30 s: the 1 s timeout ended the wait.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(std::fs::read(sb.token_file("dev")).unwrap(), before);
}

#[test]
fn service_token_endpoint_that_is_not_one() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let wrong = format!("{}/tokn", srv.idp_url());
    let out = sb.run(&["auth", "token", "--oauth-token-url", &wrong]);
    out.assert_code(4)
        .assert_stderr_contains("answered HTTP 404")
        .assert_stderr_contains("is that the token endpoint?");
    assert!(!out.stderr.contains("refused"), "{}", out.stderr);
}
