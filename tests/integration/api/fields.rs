//! `-f`/`-F` fields (SPEC §4.4) against the test API's `/echo`: where they
//! go (query string or JSON body), the method they imply, their types and
//! nesting, and the bad ones refused before anything is sent.

use serde_json::{json, Value};

use super::{assert_nothing_sent, sandbox, server};

/// The JSON body `/echo` received.
fn echoed_body(echo: &Value) -> Value {
    serde_json::from_str(echo["body"].as_str().unwrap()).unwrap()
}

#[test]
fn api_fields_form_a_json_body_and_default_to_post() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&[
        "api",
        "/echo",
        "-f",
        "title=Bug",
        "-f",
        "labels[]=ui",
        "-F",
        "labels[]=7",
        "-F",
        "draft=false",
        "-F",
        "milestone=null",
        "-f",
        "user[name]=ann",
        "-F",
        "user[age]=30",
        "-f",
        "raw=true",
    ]);
    out.assert_ok();
    let echo = out.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["query"], "");
    assert_eq!(echo["content_type"], "application/json");
    assert_eq!(
        echoed_body(&echo),
        json!({
            "title": "Bug",
            "labels": ["ui", 7],
            "draft": false,
            "milestone": null,
            "user": {"name": "ann", "age": 30},
            "raw": "true",
        })
    );
    assert_eq!(srv.api_requests(), 1);
}

#[test]
fn api_fields_go_to_the_query_for_get_head_and_beside_a_file() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&[
        "api",
        "-X",
        "GET",
        "/echo?a=1",
        "-f",
        "q=a b&c",
        "-f",
        "tag[]=x",
        "-F",
        "n=2",
    ]);
    out.assert_ok();
    let echo = out.json();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["query"], "a=1&q=a+b%26c&tag%5B%5D=x&n=2");
    assert_eq!(echo["body"], "");

    sb.run(&["api", "-X", "HEAD", "/echo", "-f", "q=1"])
        .assert_ok();
    let head = srv.last_api_request().unwrap();
    assert_eq!((head.method.as_str(), head.query.as_str()), ("HEAD", "q=1"));

    let file = sb.home().join("body.json");
    std::fs::write(&file, "{\"x\": 1}").unwrap();
    let out = sb.run(&[
        "api",
        "/echo",
        "--file",
        file.to_str().unwrap(),
        "-f",
        "dry=1",
    ]);
    out.assert_ok();
    let echo = out.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["query"], "dry=1");
    assert_eq!(echoed_body(&echo), json!({"x": 1}));
}

#[test]
fn api_typed_fields_read_files_and_stdin() {
    let srv = server();
    let sb = sandbox(&srv);
    let note = sb.home().join("note.md");
    std::fs::write(&note, "# Title\n\nline \"two\"\n").unwrap();
    let out = sb.run_with_stdin(
        &[
            "api",
            "-X",
            "PATCH",
            "/echo",
            "-F",
            &format!("body=@{}", note.display()),
            "-F",
            "stdin=@-",
        ],
        b"from stdin",
    );
    out.assert_ok();
    let echo = out.json();
    assert_eq!(echo["method"], "PATCH");
    assert_eq!(
        echoed_body(&echo),
        json!({"body": "# Title\n\nline \"two\"\n", "stdin": "from stdin"})
    );
}

#[test]
fn api_bad_fields_are_refused_before_anything_is_sent() {
    let srv = server();
    let sb = sandbox(&srv);
    let missing = sb.home().join("missing.txt");
    let missing_arg = format!("k=@{}", missing.display());
    let out = sb.run(&["api", "/echo", "-F", &missing_arg]);
    out.assert_code(2);
    out.assert_stderr_contains(missing.to_str().unwrap());
    assert_nothing_sent(&srv);

    for (flag, bad, said) in [
        ("-f", "noequals", "has no '='"),
        ("-F", "noequals", "has no '='"),
        ("-f", "=v", "no key"),
        ("-f", "a[b=1", "not closed"),
    ] {
        let out = sb.run(&["api", "/echo", flag, bad]);
        out.assert_code(2);
        out.assert_stderr_contains(said);
        assert_nothing_sent(&srv);
    }

    let out = sb.run(&["api", "/echo", "-f", "a=1", "-f", "a[b]=2"]);
    out.assert_code(2);
    out.assert_stderr_contains("clashes");
    let out = sb.run_with_stdin(&["api", "/echo", "--file", "-", "-F", "k=@-"], b"{}");
    out.assert_code(2);
    out.assert_stderr_contains("stdin is already read");
    assert_nothing_sent(&srv);
}
