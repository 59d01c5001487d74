//! The request lmi builds from its input, checked before anything is sent:
//! bodies from files and stdin, JSON validation, headers and methods, and
//! stdin read only for `--file -`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use super::{assert_nothing_sent, sandbox, server};

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
        &["api", "/echo", "-H", "Host: other.example"][..],
        &["api", "/echo", "-H", "host:other.example"][..],
        &["api", "/echo", "-H", "Content-Length: 0"][..],
        &["api", "/echo", "-H", "Transfer-Encoding: chunked"][..],
        &["api", "/echo", "-H", "Connection: close"][..],
        &["api", "/echo", "-H", "X-Forwarded-Host: other.example"][..],
        &["api", "/echo", "-H", ":authority: other.example"][..],
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
    let status = crate::support::exit_within(
        &mut child,
        Duration::from_secs(15),
        "lmi api without --file waited on stdin",
    );
    assert!(status.success());
    assert_eq!(srv.api_requests(), 1);
}
