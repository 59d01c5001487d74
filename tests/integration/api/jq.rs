//! `lmi api --jq EXPR` (SPEC §4.4): jq's language on the body, strings raw
//! and other results compact, one per line; a program that does not compile
//! sends nothing; a body that is not JSON is exit 5.

use super::{assert_nothing_sent, sandbox, server};

#[test]
fn jq_prints_strings_raw_and_other_results_compact() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "/whoami", "--jq", ".client_id"]);
    out.assert_ok();
    assert_eq!(out.stdout, "lmi-client\n");

    let out = sb.run(&["api", "/whoami", "--jq", "{c: .client_id}, [1, 2]"]);
    out.assert_ok();
    assert_eq!(out.stdout, "{\"c\":\"lmi-client\"}\n[1,2]\n");

    // A streamed array, element by element.
    let out = sb.run(&["api", "/json-array/1000", "--jq", ".[] | .id"]);
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1000);
    assert_eq!(lines[0], "item-0");
    assert_eq!(lines[999], "item-999");

    let out = sb.run(&["api", "/json-array/1000", "--jq", "length"]);
    out.assert_ok();
    assert_eq!(out.stdout, "1000\n");
    assert_eq!(srv.api_requests(), 4);
}

#[test]
fn a_jq_program_that_does_not_compile_is_exit_2_before_any_request() {
    let srv = server();
    let sb = sandbox(&srv);
    for program in [".[", "nosuchfilter(1)", ".a | | .b"] {
        let out = sb.run(&["api", "/whoami", "--jq", program]);
        out.assert_code(2);
        out.assert_stderr_contains("does not compile");
    }
    assert_nothing_sent(&srv);
}

#[test]
fn jq_on_a_body_that_is_not_json_is_exit_5_showing_its_start() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "/text", "--jq", "."]);
    out.assert_code(5);
    out.assert_stderr_contains("not JSON");
    out.assert_stderr_contains("hello");
    assert!(out.stdout.is_empty(), "{}", out.stdout);

    // Broken part-way: the elements before the break are already out.
    let out = sb.run(&["api", "/json-broken/3", "--jq", ".[] | .id"]);
    out.assert_code(5);
    assert_eq!(out.stdout, "item-0\nitem-1\nitem-2\n");
    out.assert_stderr_contains("not JSON");
}
