//! `lmi api` (SPEC §4): authenticated calls against the in-repo test API,
//! with the token and API request counts asserted — the warm cache, the
//! 401 discard-reacquire-retry, origin pinning (full URLs and redirects),
//! input validation before anything is sent, output and failures, and a
//! hostile API redirecting to a target that carries the token.
//!
//! This file holds the helpers the api test files share: the test IdP and
//! API, a sandbox configured against them, and the cached token.

mod download;
mod dpop;
mod fields;
mod graphql;
mod help;
mod hostile_redirects;
mod input;
mod jq;
mod origin;
mod output;
mod paginate;
mod streaming;
mod token;

use lmi_testidp::TestServer;

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
