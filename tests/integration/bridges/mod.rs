//! Tokens for other tools (SPEC §8): `lmi exec`, `lmi credential git` with
//! a real `git` against a loopback git server, and `lmi credential kubectl`
//! with a real `kubectl` against the test API behind TLS.
//!
//! This file holds the helpers the three files share: the test IdP and API,
//! a sandbox whose `dev` environment uses them, and the cached token.

mod exec;
mod git;
mod kubectl;

use lmi_testidp::TestServer;

use crate::support::Sandbox;

fn server() -> TestServer {
    TestServer::start_default().expect("test IdP")
}

/// A sandbox whose default `dev` environment gets client-credentials tokens
/// from the test IdP for the test API (`API_BASE_URL`), plus `extra` lines.
fn sandbox(srv: &TestServer, extra: &str) -> Sandbox {
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

/// The `dev` environment's cached token file, as JSON.
fn cached(sb: &Sandbox) -> serde_json::Value {
    let text = std::fs::read_to_string(sb.token_file("dev")).expect("a cached token");
    serde_json::from_str(&text).expect("the token cache is JSON")
}

/// The cached access token.
fn cached_token(sb: &Sandbox) -> String {
    cached(sb)["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// Seconds since the epoch as RFC 3339 UTC, computed by date(1) rather
/// than by lmi's own code.
fn rfc3339(unix: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{unix}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("run date");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
