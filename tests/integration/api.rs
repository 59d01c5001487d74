//! `lmi api` (SPEC §4): authenticated calls against the in-repo test API,
//! with the token and API request counts asserted — the warm cache, the
//! 401 discard-reacquire-retry, origin pinning (full URLs and redirects),
//! input validation before anything is sent, output and failures.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use lmi_testidp::TestServer;
use serde_json::json;

use crate::support::Sandbox;

#[allow(clippy::expect_used)] // test helper: failing is failing the test
fn server() -> TestServer {
    TestServer::start_default().expect("test IdP")
}

/// A sandbox whose default `dev` environment uses the IdP's client
/// credentials and the test API, plus `extra` lines.
fn sandbox_with(srv: &TestServer, extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL={}\n{extra}",
            srv.token_url(),
            srv.api_url()
        ),
    );
    sb
}

fn sandbox(srv: &TestServer) -> Sandbox {
    sandbox_with(srv, "")
}

/// The access token in the dev cache file.
#[allow(clippy::expect_used)] // test helper: failing is failing the test
fn cached_token(sb: &Sandbox) -> String {
    let text = std::fs::read(sb.token_file("dev")).expect("token file");
    let json: serde_json::Value = serde_json::from_slice(&text).expect("token JSON");
    json["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// Asserts that nothing reached any server.
#[track_caller]
fn assert_nothing_sent(srv: &TestServer) {
    assert_eq!(srv.token_requests(), 0, "no token may be acquired");
    assert_eq!(srv.api_requests(), 0, "nothing may reach the API");
    assert_eq!(
        srv.other_requests(),
        0,
        "nothing may reach the other origin"
    );
}

/// Waits (with a deadline) until `n` requests of `child` wait in the test
/// API's `/hold` latch; fails at once if `child` ends first.
#[track_caller]
fn wait_held(srv: &TestServer, child: &mut Child, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while srv.held_requests() != n {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("lmi ended ({status}) before {n} request(s) were held");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lmi never had {n} request(s) held by /hold");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn api_cold_then_warm_cache() {
    let srv = server();
    let sb = sandbox(&srv);
    let cold = sb.run(&["api", "/whoami"]);
    cold.assert_ok();
    assert_eq!(cold.json()["client_id"], "lmi-client");
    // Pretty-printed: the server sends one compact line.
    assert!(cold.stdout.starts_with("{\n  \""), "{}", cold.stdout);
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.api_requests(), 1);
    let req = srv.last_api_request().unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, "/whoami");
    assert_eq!(
        req.authorization().unwrap(),
        format!("Bearer {}", cached_token(&sb))
    );
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(req.header("content-type"), None);

    srv.reset_counts();
    let warm = sb.run(&["api", "/whoami"]);
    warm.assert_ok();
    assert_eq!(warm.stdout, cold.stdout);
    assert_eq!(
        srv.token_requests(),
        0,
        "a warm cache makes no token request"
    );
    assert_eq!(srv.api_requests(), 1);
}

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
fn api_server_side_invalidation_retries_once() {
    let srv = server();
    let sb = sandbox(&srv);
    sb.run(&["api", "/whoami"]).assert_ok();
    let old = cached_token(&sb);
    srv.reset_counts();
    srv.invalidate_all_tokens();

    let out = sb.run(&["api", "/whoami"]);
    out.assert_ok();
    assert_eq!(out.json()["client_id"], "lmi-client");
    assert_eq!(srv.api_requests(), 2, "the rejected request and one retry");
    assert_eq!(srv.token_requests(), 1, "one new token");
    let new = cached_token(&sb);
    assert_ne!(new, old, "the rejected token was replaced in the cache");
    assert_eq!(
        srv.last_api_request().unwrap().authorization().unwrap(),
        format!("Bearer {new}")
    );
}

#[test]
fn api_persistent_401_is_an_auth_error() {
    let srv = server();
    let sb = sandbox(&srv);
    srv.set(|b| b.api_always_401 = true);
    let out = sb.run(&["api", "/whoami"]);
    out.assert_code(4);
    assert_eq!(srv.api_requests(), 2, "exactly one retry");
    assert_eq!(
        srv.token_requests(),
        2,
        "the first token and one replacement"
    );
    let error = out.error_line().expect("error line");
    assert!(error.contains("401"), "{error}");
    assert!(error.contains("invalid_token"), "{error}");
    assert!(
        error.contains("The access token is invalid or expired"),
        "{error}"
    );
    // The server's body is still printed.
    assert_eq!(out.json()["error"], "invalid_token");
}

/// Run 1 sends token A; while its request is in flight the server revokes A
/// and another run replaces the cache with a valid token B. When run 1 gets
/// its 401 it must keep B (not discard it and fetch a third token) and retry
/// with B.
#[test]
fn api_token_replaced_by_another_run_is_kept() {
    let srv = server();
    let sb = sandbox(&srv);
    sb.run(&["auth", "token"]).assert_ok();
    let token_a = cached_token(&sb);
    srv.reset_counts();

    // `/hold` accepts A on arrival and answers only when released, checking
    // the token again then: run 1 is in flight for as long as the other run
    // needs, however slow the machine.
    let mut child = sb
        .cmd(&["api", "/hold"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lmi");
    wait_held(&srv, &mut child, 1);
    assert_eq!(
        srv.last_api_request().unwrap().authorization().unwrap(),
        format!("Bearer {token_a}")
    );
    srv.invalidate_all_tokens();
    sb.run(&["auth", "clear"]).assert_ok();
    sb.run(&["auth", "token"]).assert_ok();
    let token_b = cached_token(&sb);
    assert_ne!(token_a, token_b);
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.api_requests(), 1);

    // A is now revoked: run 1 gets its 401 and retries, held again.
    assert_eq!(srv.release_held(), 1);
    wait_held(&srv, &mut child, 1);
    assert_eq!(srv.api_requests(), 2, "the 401 and one retry");
    assert_eq!(
        srv.last_api_request().unwrap().authorization().unwrap(),
        format!("Bearer {token_b}"),
        "the retry carries B"
    );
    assert_eq!(srv.release_held(), 1);

    let out: crate::support::Outcome = child.wait_with_output().expect("wait lmi").into();
    out.assert_ok();
    assert_eq!(out.json()["client_id"], "lmi-client");
    assert_eq!(srv.api_requests(), 2);
    assert_eq!(srv.token_requests(), 1, "token B was kept, no third token");
    assert_eq!(cached_token(&sb), token_b);
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
fn api_empty_stdin_is_refused() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run_with_stdin(&["api", "/echo", "--file", "-"], b"");
    out.assert_code(2);
    out.assert_stderr_contains("stdin is empty");
    assert_nothing_sent(&srv);
}

#[test]
fn api_missing_file_is_refused() {
    let srv = server();
    let sb = sandbox(&srv);
    let path = sb.home().join("nope.json");
    let out = sb.run(&["api", "/echo", "--file", path.to_str().unwrap()]);
    out.assert_code(2);
    out.assert_stderr_contains(path.to_str().unwrap());
    assert_nothing_sent(&srv);
}

#[test]
fn api_invalid_json_is_refused_unless_a_content_type_is_given() {
    let srv = server();
    let sb = sandbox(&srv);
    let file = sb.home().join("body.txt");
    std::fs::write(&file, "{\"a\": 1,\n oops}").unwrap();
    let file = file.to_str().unwrap();

    let out = sb.run(&["api", "/echo", "--file", file]);
    out.assert_code(2);
    out.assert_stderr_contains("not valid JSON");
    out.assert_stderr_contains("line 2");
    assert_nothing_sent(&srv);

    // Stdin is named as the source too.
    let out = sb.run_with_stdin(&["api", "/echo", "--file", "-"], b"[1,");
    out.assert_code(2);
    out.assert_stderr_contains("stdin is not valid JSON");
    assert_nothing_sent(&srv);

    let out = sb.run(&[
        "api",
        "/echo",
        "--file",
        file,
        "-H",
        "Content-Type: text/plain",
    ]);
    out.assert_ok();
    assert_eq!(
        out.json(),
        json!({
            "method": "POST",
            "path": "/echo",
            "query": "",
            "content_type": "text/plain",
            "body": "{\"a\": 1,\n oops}",
        })
    );
    assert_eq!(srv.api_requests(), 1);
}

#[test]
fn api_json_body_from_file_and_stdin() {
    let srv = server();
    let sb = sandbox(&srv);
    let file = sb.home().join("body.json");
    std::fs::write(&file, "{\"name\": \"x\"}\n").unwrap();
    let file = file.to_str().unwrap();

    let out = sb.run(&["api", "/echo", "--file", file]);
    out.assert_ok();
    // A body makes it a POST; the file is sent byte for byte.
    assert_eq!(
        out.json(),
        json!({
            "method": "POST",
            "path": "/echo",
            "query": "",
            "content_type": "application/json",
            "body": "{\"name\": \"x\"}\n",
        })
    );

    let out = sb.run_with_stdin(&["api", "-X", "put", "/echo", "--file", "-"], b"[1, 2]");
    out.assert_ok();
    assert_eq!(
        out.json(),
        json!({
            "method": "PUT",
            "path": "/echo",
            "query": "",
            "content_type": "application/json",
            "body": "[1, 2]",
        })
    );

    let out = sb.run(&["api", "-X", "DELETE", "/echo", "-H", "X-Trace: abc"]);
    out.assert_ok();
    assert_eq!(
        out.json(),
        json!({ "method": "DELETE", "path": "/echo", "query": "", "content_type": null, "body": "" })
    );
    let req = srv.last_api_request().unwrap();
    assert_eq!(req.header("x-trace"), Some("abc"));
    assert_eq!(req.header("content-type"), None);
    assert_eq!(srv.api_requests(), 3);
    assert_eq!(srv.token_requests(), 1);
}

#[test]
fn api_bad_headers_and_methods_are_refused() {
    let srv = server();
    let sb = sandbox(&srv);
    for args in [
        &["api", "/echo", "-H", "NoColonHere"][..],
        &["api", "/echo", "-H", "Bad Name: x"][..],
        &["api", "/echo", "-H", "Authorization: Bearer mine"][..],
        &["api", "-X", "FROB", "/echo"][..],
    ] {
        let out = sb.run(args);
        out.assert_code(2);
        assert!(out.error_line().is_some(), "{args:?}: {}", out.stderr);
    }
    sb.run(&["api", "/echo", "-H", "NoColonHere"])
        .assert_stderr_contains("NoColonHere");
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

#[test]
fn api_error_status_prints_the_body_and_exits_5() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "/status/404"]);
    out.assert_code(5);
    assert_eq!(out.json()["status"], 404);
    assert_eq!(
        out.error_line().unwrap(),
        format!(
            "error: GET {}/status/404 answered HTTP 404 Not Found",
            srv.api_url()
        )
    );

    let out = sb.run(&["api", "-X", "POST", "/status/503"]);
    out.assert_code(5);
    out.assert_stderr_contains("POST");
    out.assert_stderr_contains("503 Service Unavailable");
    assert_eq!(srv.api_requests(), 2);
}

/// `-i` output split into the status line, `(name, value)` header pairs and
/// the body.
fn include_parts(stdout: &str) -> (&str, Vec<(&str, &str)>, &str) {
    let (head, body) = stdout
        .split_once("\n\n")
        .unwrap_or_else(|| panic!("no blank line after the headers: {stdout:?}"));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    let headers = lines
        .map(|l| {
            l.split_once(": ")
                .unwrap_or_else(|| panic!("not a header line: {l:?}"))
        })
        .collect();
    (status, headers, body)
}

#[test]
fn api_include_shows_status_line_and_headers() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "-i", "/whoami"]);
    out.assert_ok();
    let (status, headers, body) = include_parts(&out.stdout);
    assert_eq!(status, "HTTP/1.1 200 OK");
    let header = |name: &str| {
        let found: Vec<&str> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(found.len(), 1, "one {name} header: {headers:?}");
        found[0]
    };
    assert_eq!(header("content-type"), "application/json");
    // The headers describe the body as received (one compact line); the body
    // shown is re-indented.
    let compact = r#"{"client_id":"lmi-client","scope":null,"sub":"lmi-client"}"#;
    assert_eq!(header("content-length"), compact.len().to_string());
    assert_eq!(
        body,
        "{\n  \"client_id\": \"lmi-client\",\n  \"scope\": null,\n  \"sub\": \"lmi-client\"\n}\n"
    );

    let out = sb.run(&["api", "--include", "/status/404"]);
    out.assert_code(5);
    let (status, headers, body) = include_parts(&out.stdout);
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && *v == "application/json"),
        "{headers:?}"
    );
    assert_eq!(body, "{\n  \"status\": 404\n}\n");
    assert_eq!(
        out.error_line().unwrap(),
        format!(
            "error: GET {}/status/404 answered HTTP 404 Not Found",
            srv.api_url()
        )
    );
    assert_eq!(srv.api_requests(), 2);
}

#[test]
fn api_non_json_and_text_output_are_raw() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "/text"]);
    out.assert_ok();
    assert_eq!(out.stdout, "hello\n");

    let out = sb.run(&["-o", "text", "api", "/whoami"]);
    out.assert_ok();
    assert!(!out.stdout.contains('\n'), "as received: {:?}", out.stdout);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["client_id"], "lmi-client");
}

#[test]
fn api_unreachable_service_exits_5() {
    let srv = server();
    // A port that was free a moment ago. Residual risk: a parallel test may
    // bind it in between; then lmi reaches that listener and the assertions
    // on "could not reach ... refused" below fail (loudly, not silently).
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let sb = sandbox_with(&srv, &format!("API_BASE_URL={base}\n"));
    let out = sb.run(&["api", "/whoami"]);
    out.assert_code(5);
    let error = out.error_line().expect("error line");
    assert!(
        error.starts_with(&format!("error: could not reach {base}/whoami: ")),
        "{error}"
    );
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert_eq!(out.stdout, "");
    assert_eq!(srv.token_requests(), 1, "the token came first");
}

#[test]
fn api_slow_service_times_out() {
    let srv = server();
    let sb = sandbox_with(&srv, "HTTP_TIMEOUT=1\n");
    sb.run(&["auth", "token"]).assert_ok();
    let started = Instant::now();
    // The server would answer after 20 s; lmi gives up after HTTP_TIMEOUT.
    let out = sb.run(&["api", "/slow?ms=20000"]);
    let elapsed = started.elapsed();
    out.assert_code(5);
    assert_eq!(
        out.error_line().expect("error line"),
        format!(
            "error: {}/slow?ms=20000 did not answer within 1 s (HTTP_TIMEOUT)",
            srv.api_url()
        )
    );
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
    assert_eq!(srv.api_requests(), 1);
}

#[test]
fn api_token_is_never_logged() {
    let srv = server();
    let sb = sandbox_with(&srv, "LOG_LEVEL=debug\n");
    let first = sb.run(&["-vv", "api", "/whoami"]);
    first.assert_ok();
    let token_a = cached_token(&sb);
    // The 401-retry path logs more: cover it too.
    srv.invalidate_all_tokens();
    let second = sb.run(&["-vv", "api", "/redirect-same"]);
    second.assert_ok();
    let token_b = cached_token(&sb);
    assert_ne!(token_a, token_b);
    second.assert_stderr_contains("/whoami");
    second.assert_stderr_contains("401");
    let log = std::fs::read_to_string(sb.log_file()).expect("log file");
    assert!(log.contains("/redirect-same"), "{log}");
    for text in [&first.stderr, &second.stderr, &log] {
        for token in [&token_a, &token_b] {
            assert!(!text.contains(token.as_str()), "token leaked:\n{text}");
        }
        assert!(!text.contains("Bearer "), "Authorization leaked:\n{text}");
    }
}

#[test]
fn api_stdin_is_read_only_for_file_dash() {
    let srv = server();
    let sb = sandbox(&srv);
    // Without --file, stdin is left alone: reading this open, silent pipe
    // would block until the deadline.
    let mut child = sb
        .cmd(&["api", "/whoami"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn lmi");
    let _stdin = child.stdin.take().expect("stdin");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lmi api without --file waited on stdin");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    assert_eq!(srv.api_requests(), 1);
}
