//! `lmi api --paginate` (SPEC §4.4) against the test API's `/pages/…`:
//! merged array pages, pages in turn, `--slurp`, `--next` with a cursor or a
//! URL in the body, and the rules of §4 on every page: a next link on a
//! foreign origin, a loop, a 401 in the middle.

use serde_json::{json, Value};

use super::{assert_nothing_sent, sandbox, server};

/// Every JSON document on stdout, in order.
fn documents(stdout: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("not JSON documents ({e}): {stdout}"))
}

fn ids(items: &Value) -> Vec<u64> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn link_pages_of_arrays_merge_into_one_array() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "--paginate", "/pages/array/4"]);
    out.assert_ok();
    let all = out.json();
    assert_eq!(
        ids(&all),
        (0..12).collect::<Vec<_>>(),
        "in order, once each"
    );
    assert_eq!(all[11]["page"], 4);
    assert_eq!(srv.api_requests(), 4, "one request a page");
    assert_eq!(srv.token_requests(), 1, "one token for every page");
}

#[test]
fn object_pages_follow_one_another_and_slurp_wraps_them() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "--paginate", "/pages/object/3"]);
    out.assert_ok();
    let pages = documents(&out.stdout);
    assert_eq!(pages.len(), 3);
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(page["page"], i as u64 + 1);
    }
    assert_eq!(srv.api_requests(), 3);

    let out = sb.run(&["api", "--paginate", "--slurp", "/pages/object/3"]);
    out.assert_ok();
    let all = out.json();
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[2]["items"][2]["id"], 8);

    let out = sb.run(&["api", "--paginate", "--slurp", "/pages/array/2?per=1"]);
    out.assert_ok();
    assert_eq!(
        out.json(),
        json!([[{"id": 0, "page": 1}], [{"id": 1, "page": 2}]])
    );
}

#[test]
fn jq_applies_to_each_page_or_with_slurp_to_all_of_them() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&[
        "api",
        "--paginate",
        "/pages/object/3",
        "--jq",
        ".items[] | .id",
    ]);
    out.assert_ok();
    assert_eq!(out.stdout, "0\n1\n2\n3\n4\n5\n6\n7\n8\n");

    let out = sb.run(&[
        "api",
        "--paginate",
        "--slurp",
        "/pages/object/3",
        "--jq",
        "map(.items | length) | add",
    ]);
    out.assert_ok();
    assert_eq!(out.stdout, "9\n");

    let out = sb.run(&[
        "api",
        "--paginate",
        "--slurp",
        "/pages/object/3",
        "--jq",
        ".[] | \"page \\(.page)\"",
    ]);
    out.assert_ok();
    assert_eq!(out.stdout, "page 1\npage 2\npage 3\n");
    assert_eq!(srv.api_requests(), 9);
}

#[test]
fn next_finds_a_cursor_or_a_url_in_the_body() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&[
        "api",
        "--paginate",
        "/pages/cursor/3",
        "--next",
        ".next_cursor",
        "--cursor-param",
        "cursor",
        "--jq",
        ".items[].id",
    ]);
    out.assert_ok();
    assert_eq!(out.stdout, "0\n1\n2\n3\n4\n5\n6\n7\n8\n");
    assert_eq!(srv.api_requests(), 3);
    let last = srv.last_api_request().unwrap();
    assert_eq!(last.query_param("cursor").as_deref(), Some("c3"));

    let out = sb.run(&[
        "api",
        "--paginate",
        "/pages/next-url/4",
        "--next",
        ".links.next",
    ]);
    out.assert_ok();
    let pages = documents(&out.stdout);
    assert_eq!(pages.len(), 4);
    assert_eq!(ids(&pages[3]["items"]), vec![9, 10, 11]);
    assert_eq!(srv.api_requests(), 7);

    // A cursor needs a parameter to go into: after the first page, exit 2.
    let out = sb.run(&[
        "api",
        "--paginate",
        "/pages/cursor/3",
        "--next",
        ".next_cursor",
    ]);
    out.assert_code(2);
    out.assert_stderr_contains("--cursor-param");
    assert_eq!(srv.api_requests(), 8);
}

#[test]
fn a_next_link_to_a_foreign_origin_ends_with_exit_5_and_sends_it_nothing() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "--paginate", "/pages/foreign"]);
    out.assert_code(5);
    // The page printed before stays printed, as complete JSON.
    assert_eq!(ids(&out.json()), vec![0, 1, 2]);
    out.assert_stderr_contains(srv.other_url());
    out.assert_stderr_contains("not the service's origin");
    assert_eq!(srv.other_requests(), 0, "the foreign origin got nothing");
    assert!(srv.other_authorization_headers().is_empty());
    assert_eq!(srv.api_requests(), 1);
}

#[test]
fn a_pagination_loop_is_exit_5_not_an_endless_walk() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "--paginate", "/pages/loop/3"]);
    out.assert_code(5);
    out.assert_stderr_contains("already fetched");
    out.assert_stderr_contains("loop");
    assert_eq!(ids(&out.json()).len(), 9, "the three pages, once each");
    assert_eq!(srv.api_requests(), 3);
}

#[test]
fn a_401_in_the_middle_gets_the_single_discard_and_retry() {
    let srv = server();
    let sb = sandbox(&srv);
    // Page 2 answers, then every token is forgotten: page 3 meets a 401.
    let out = sb.run(&["api", "--paginate", "/pages/array/4?invalidate=2"]);
    out.assert_ok();
    assert_eq!(ids(&out.json()), (0..12).collect::<Vec<_>>());
    assert_eq!(srv.token_requests(), 2, "one new token after the 401");
    assert_eq!(srv.api_requests(), 5, "four pages and the one refused");
}

#[test]
fn paginate_is_for_get_only_and_bad_input_sends_nothing() {
    let srv = server();
    let sb = sandbox(&srv);
    let body = sb.home().join("body.json");
    std::fs::write(&body, "{}").unwrap();
    let body = body.to_str().unwrap();
    for args in [
        &["api", "--paginate", "-X", "POST", "/pages/array/2"][..],
        &["api", "--paginate", "--file", body, "/pages/array/2"],
        &["api", "--paginate", "-X", "DELETE", "/pages/array/2"],
        &["api", "--paginate", "-i", "/pages/array/2"],
        &["api", "--slurp", "/pages/array/2"],
        &["api", "--next", ".next", "/pages/array/2"],
        &["api", "--paginate", "--cursor-param", "c", "/pages/array/2"],
        &["api", "--paginate", "--next", ".[", "/pages/array/2"],
    ] {
        let out = sb.run(args);
        out.assert_code(2);
        assert!(out.stderr.contains("error"), "{args:?}: {}", out.stderr);
    }
    assert_nothing_sent(&srv);
}

#[test]
fn graphql_pages_follow_page_info_with_end_cursor() {
    let srv = server();
    let sb = super::sandbox_with(
        &srv,
        &format!("API_GRAPHQL_URL={}/pages/graphql/3\n", srv.api_url()),
    );
    let query = "query($endCursor: String) { items(after: $endCursor) { nodes { id } pageInfo { hasNextPage endCursor } } }";
    let out = sb.run(&[
        "api",
        "graphql",
        "--paginate",
        "-f",
        &format!("query={query}"),
        "--jq",
        ".data.items.nodes[].id",
    ]);
    out.assert_ok();
    assert_eq!(out.stdout, "0\n1\n2\n3\n4\n5\n6\n7\n8\n");
    assert_eq!(srv.api_requests(), 3);
    let last: Value = serde_json::from_str(&srv.last_api_request().unwrap().body).unwrap();
    assert_eq!(last["variables"]["endCursor"], "c3");
    assert_eq!(last["query"], query);

    // A query without $endCursor cannot page: exit 2, nothing sent.
    let out = sb.run(&[
        "api",
        "graphql",
        "--paginate",
        "-f",
        "query={ items { nodes { id } } }",
    ]);
    out.assert_code(2);
    out.assert_stderr_contains("$endCursor");
    assert_eq!(srv.api_requests(), 3);
}

#[test]
fn paginate_and_jq_flags_are_documented_and_complete() {
    let sb = crate::support::Sandbox::new();
    let out = sb.run(&["api", "--help"]);
    out.assert_ok();
    for needle in [
        "--jq <EXPR>",
        "--paginate",
        "--next <EXPR>",
        "--cursor-param <NAME>",
        "--slurp",
        "lmi api --paginate /issues --jq",
    ] {
        assert!(out.stdout.contains(needle), "{needle}: {}", out.stdout);
    }
    let out = sb
        .cmd(&["--", "lmi", "api", "--"])
        .env("LMI_COMPLETE", "fish")
        .output()
        .unwrap();
    assert!(out.status.success());
    let long = String::from_utf8(out.stdout).unwrap();
    for flag in ["--jq", "--paginate", "--next", "--cursor-param", "--slurp"] {
        assert!(
            long.lines().any(|l| l.split('\t').next() == Some(flag)),
            "{flag}: {long}"
        );
    }
    let dir = sb.home().join("man1");
    sb.run(&["man", "--dir", dir.to_str().unwrap()]).assert_ok();
    let page = std::fs::read_to_string(dir.join("lmi-api.1")).unwrap();
    for needle in ["paginate", "cursor\\-param", "slurp", "\\-\\-jq"] {
        assert!(page.contains(needle), "{needle}: {page}");
    }
}
