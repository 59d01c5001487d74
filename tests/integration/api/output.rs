//! What `lmi api` prints and how it ends: error statuses, `--include`,
//! raw non-JSON and text output, an unreachable or slow service.

use std::time::{Duration, Instant};

use super::{sandbox, sandbox_with, server};

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
