//! `lmi api graphql` (SPEC §4.4) against the test API's `/graphql`: the
//! request it builds, `API_GRAPHQL_URL`, GraphQL errors in a 200 (exit 5,
//! body printed), the 401 retry, origin pinning and bad input.

use serde_json::json;

use super::{assert_nothing_sent, cached_token, sandbox, sandbox_with, server};

#[test]
fn api_graphql_posts_the_query_and_variables() {
    let srv = server();
    let sb = sandbox(&srv);
    let query_file = sb.home().join("q.graphql");
    std::fs::write(&query_file, "query($owner: String!, $n: Int) { repos }\n").unwrap();
    let out = sb.run(&[
        "api",
        "graphql",
        "-F",
        &format!("query=@{}", query_file.display()),
        "-f",
        "owner=ann",
        "-F",
        "n=3",
        "-F",
        "filter[archived]=false",
    ]);
    out.assert_ok();
    assert_eq!(
        out.json(),
        json!({
            "data": {
                "query": "query($owner: String!, $n: Int) { repos }\n",
                "variables": {"owner": "ann", "n": 3, "filter": {"archived": false}},
            },
            "errors": [],
        })
    );
    let sent = srv.last_api_request().unwrap();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/graphql");
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(srv.api_requests(), 1);
    assert_eq!(srv.token_requests(), 1);
}

#[test]
fn api_graphql_errors_in_a_200_print_the_body_and_exit_5() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "graphql", "-f", "query={ nope }", "-F", "fail=true"]);
    out.assert_code(5);
    assert_eq!(
        out.json()["errors"][0]["message"],
        "Field 'nope' doesn't exist"
    );
    out.assert_stderr_contains("GraphQL errors");
    assert_eq!(srv.api_requests(), 1);
}

#[test]
fn api_graphql_url_key_and_origin_rule() {
    let srv = server();
    // A base with a path: the default endpoint keeps it.
    let sb = sandbox_with(&srv, "");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL={}/v1\n",
            srv.token_url(),
            srv.api_url()
        ),
    );
    let out = sb.run(&["api", "graphql", "-f", "query={ a }"]);
    out.assert_code(5);
    assert_eq!(srv.last_api_request().unwrap().path, "/v1/graphql");

    let set = format!("API_GRAPHQL_URL={}/graphql", srv.api_url());
    let out = sb.run(&["--set", &set, "api", "graphql", "-f", "query={ a }"]);
    out.assert_ok();
    assert_eq!(srv.last_api_request().unwrap().path, "/graphql");

    // Another origin never gets the token.
    srv.reset_counts();
    let foreign = format!("API_GRAPHQL_URL={}/graphql", srv.other_url());
    let out = sb.run(&["--set", &foreign, "api", "graphql", "-f", "query={ a }"]);
    out.assert_code(2);
    out.assert_stderr_contains("not the service's origin");
    assert_eq!(srv.other_requests(), 0);
}

#[test]
fn api_graphql_retries_once_after_a_401() {
    let srv = server();
    let sb = sandbox(&srv);
    sb.run(&["api", "graphql", "-f", "query={ a }"]).assert_ok();
    let old = cached_token(&sb);
    srv.reset_counts();
    srv.invalidate_all_tokens();
    let out = sb.run(&["api", "graphql", "-f", "query={ a }", "-f", "x=1"]);
    out.assert_ok();
    assert_eq!(out.json()["data"]["variables"], json!({"x": "1"}));
    assert_eq!(srv.api_requests(), 2, "the refused request and one retry");
    assert_eq!(srv.token_requests(), 1);
    assert_ne!(cached_token(&sb), old);
}

#[test]
fn api_graphql_bad_input_sends_nothing() {
    let srv = server();
    let sb = sandbox(&srv);
    for (args, said) in [
        (&["api", "graphql", "-f", "owner=x"][..], "needs a query"),
        (&["api", "graphql", "-f", "query= "], "query is empty"),
        (&["api", "graphql", "-F", "query=12"], "must be text"),
        (
            &["api", "graphql", "-X", "GET", "-f", "query={a}"],
            "always POSTs",
        ),
        (
            &["api", "graphql", "--file", "-", "-f", "query={a}"],
            "--file",
        ),
    ] {
        let out = sb.run(args);
        out.assert_code(2);
        out.assert_stderr_contains(said);
        assert_nothing_sent(&srv);
    }
}
