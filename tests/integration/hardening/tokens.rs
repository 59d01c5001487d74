//! Token use against hostile or short-lived servers: a token planted in a
//! redirect target, short tokens shared by parallel runs, and the refresh
//! token kept after a 401 (items 6, 12, 23).

use std::time::Duration;

use lmi_testidp::{Options, TestServer, TokenFailure};

use super::sandbox_for;
use crate::support::hostile::{Hostile, Reply};
use crate::support::Sandbox;

#[test]
fn a_token_placed_in_a_redirect_target_is_not_shown() {
    const TOKEN: &str = "tok-HOSTILE-0123456789";
    let srv = Hostile::start(|req| {
        if req.path == "/token" {
            return Reply::json(
                200,
                format!(r#"{{"access_token":"{TOKEN}","expires_in":3600}}"#),
            );
        }
        let sent = req
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        let target = match req.path.as_str() {
            "/same" => format!("/landed?q={sent}"),
            _ => format!("https://u:{sent}@evil.example/land?q={sent}&t={sent}#frag={sent}"),
        };
        Reply::json(302, "{}").with_header("Location", &target)
    });
    let log = tempfile::tempdir().unwrap();
    let log_file = log.path().join("lmi.log");
    let sb = sandbox_for(
        &srv.url("/token"),
        &format!(
            "API_BASE_URL={}\nLOG_FILE={}\nLOG_LEVEL=debug\n",
            srv.url(""),
            log_file.display()
        ),
    );
    let out = sb.run(&["api", "/elsewhere", "-vv"]);
    assert_ne!(out.code, 0);
    out.assert_stderr_contains("evil.example");
    assert!(!out.stderr.contains(TOKEN), "{}", out.stderr);
    let quiet = sb.run(&["api", "/elsewhere"]);
    assert!(!quiet.stderr.contains(TOKEN), "{}", quiet.stderr);
    let same = sb.run(&["api", "/same", "-vv"]);
    assert!(!same.stderr.contains(TOKEN), "{}", same.stderr);
    let logged = std::fs::read_to_string(&log_file).unwrap();
    assert!(
        logged.contains("/landed") && !logged.contains(TOKEN),
        "{logged}"
    );
}

#[test]
fn parallel_runs_share_a_thirty_second_token() {
    let srv = TestServer::start(Options {
        token_lifetime: Some(30),
        ..Options::default()
    })
    .unwrap();
    srv.set(|b| b.token_failure = Some(TokenFailure::Slow(Duration::from_millis(200))));
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            srv.token_url()
        ),
    );
    let children: Vec<_> = (0..16)
        .map(|_| {
            sb.cmd(&["auth", "token", "-o", "text"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        })
        .collect();
    assert_eq!(srv.token_requests(), 1, "one token for 16 runs");
    assert!(tokens.iter().all(|t| t == &tokens[0]));
}

#[test]
fn after_a_401_the_refresh_token_is_tried_before_the_password() {
    let srv = TestServer::start_default().unwrap();
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nOAUTH_GRANT_TYPE=password\nOAUTH_USERNAME=alice\nOAUTH_PASSWORD=wonderland\nAPI_BASE_URL={}\n",
            srv.token_url(),
            srv.api_url()
        ),
    );
    sb.run(&["api", "/whoami"]).assert_ok();
    assert_eq!(srv.token_requests_by_grant("password"), 1);
    srv.invalidate_all_tokens();
    sb.run(&["api", "/whoami"]).assert_ok();
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(
        srv.token_requests_by_grant("password"),
        1,
        "no second password grant"
    );
    // When the refresh also fails, the full grant runs.
    srv.invalidate_all_tokens();
    srv.invalidate_refresh_tokens();
    sb.run(&["api", "/whoami"]).assert_ok();
    assert_eq!(srv.token_requests_by_grant("password"), 2);
}
