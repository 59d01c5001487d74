//! Several lmi processes at once: the cache lock's bounded wait, one token
//! request for many concurrent cold-cache runs, and one thirty-second token
//! shared by parallel runs.

use std::time::{Duration, Instant};

use lmi_testidp::{Options, TestServer, TokenFailure};

use super::{sandbox, server, token_json};
use crate::support::Sandbox;

#[test]
fn service_lock_wait_is_bounded() {
    let srv = server();
    let sb = sandbox(&srv, "HTTP_TIMEOUT=1\n");
    // Another holder of the environment's lock that never lets go.
    std::fs::create_dir_all(sb.tokens_dir()).unwrap();
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(sb.tokens_dir().join(".dev.lock"))
        .unwrap();
    held.lock().unwrap();
    let started = Instant::now();
    let out = sb.run(&["auth", "token"]);
    let took = started.elapsed();
    out.assert_code(4).assert_stderr_contains("lock");
    assert!(out.stdout.is_empty());
    // The wait is HTTP_TIMEOUT * 2 + 10 s = 12 s, plus slack for a busy machine.
    assert!(
        took > Duration::from_secs(1) && took < Duration::from_secs(17),
        "took {took:?}"
    );
    assert_eq!(srv.token_requests(), 0);
    assert!(!sb.token_file("dev").exists());

    held.unlock().unwrap();
    assert_eq!(token_json(&sb, &[])["source"], "acquired");
    assert_eq!(srv.token_requests(), 1);
}

#[test]
fn service_concurrent_cold_cache_makes_one_request() {
    let srv = server();
    // A slow token endpoint widens the window in which runs overlap.
    srv.set(|b| b.token_failure = Some(TokenFailure::Slow(Duration::from_millis(300))));
    let sb = sandbox(&srv, "");
    let children: Vec<_> = (0..32)
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
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        })
        .collect();
    assert_eq!(
        srv.token_requests(),
        1,
        "32 parallel runs must share one token request"
    );
    assert!(tokens.iter().all(|t| t == &tokens[0] && !t.is_empty()));
    let cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
    assert_eq!(cached["access_token"], tokens[0].as_str());
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
