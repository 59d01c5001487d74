//! What service authentication writes to stderr and the log file: the
//! verbosity levels, the documented log line format, and never a secret.

use super::{sandbox, server};
use crate::support::{dead_port, Sandbox};

fn cached_refresh_token(sb: &Sandbox) -> String {
    let cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
    cached["refresh_token"].as_str().unwrap().to_owned()
}

/// Checks one file-log line: `<RFC 3339 UTC time> <LEVEL> <component>: <message>`.
fn check_log_line(line: &str) -> Result<(&str, &str), String> {
    let (time, rest) = line.split_once(' ').ok_or("no space")?;
    let b = time.as_bytes();
    let date_ok = b.len() > 11
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && b[10] == b'T'
        && time.ends_with('Z');
    if !date_ok {
        return Err(format!("bad timestamp {time:?}"));
    }
    let (level, rest) = rest.trim_start().split_once(' ').ok_or("no level")?;
    if !["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level) {
        return Err(format!("bad level {level:?}"));
    }
    let (component, _) = rest.split_once(": ").ok_or("no component")?;
    if !["config", "auth", "sso", "http", "plugin"].contains(&component) {
        return Err(format!("bad component {component:?}"));
    }
    Ok((level, component))
}

#[test]
fn service_secrets_never_reach_logs() {
    let srv = server();
    // Lifetime below the skew: the second run refreshes, so a refresh token
    // travels too. The confidential client authenticates with HTTP Basic.
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = sandbox(
        &srv,
        "OAUTH_GRANT_TYPE=password\nOAUTH_USERNAME=alice\nOAUTH_PASSWORD=wonderland\n",
    );
    let first = sb.run(&["-vv", "auth", "token"]);
    first.assert_ok();
    let first_refresh = cached_refresh_token(&sb);
    crate::support::backdate(&sb.token_file("dev"));
    let second = sb.run(&["-vv", "auth", "token"]);
    second.assert_ok();
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    let req = srv.last_token_request().unwrap();
    assert_eq!(req.param("refresh_token"), Some(first_refresh.as_str()));
    // The base64 of `lmi-client:lmi-secret`, as the server received it.
    let basic = req
        .authorization()
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap()
        .to_owned();

    let mut secrets = vec![
        "lmi-secret".to_owned(),
        "wonderland".to_owned(),
        basic,
        first_refresh,
        cached_refresh_token(&sb),
    ];
    for out in [&first, &second] {
        secrets.push(out.json()["access_token"].as_str().unwrap().to_owned());
        // The exchanges were logged, so the absence checks below mean something.
        assert!(out.stderr.contains("debug[http]: POST"), "{}", out.stderr);
    }
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    assert_eq!(log.matches("DEBUG http: POST").count(), 2, "{log}");
    for text in [&first.stderr, &second.stderr, &log] {
        assert!(
            !text.contains("Basic "),
            "an Authorization header leaked:\n{text}"
        );
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{secret} leaked:\n{text}");
        }
    }
}

#[test]
fn service_verbosity_levels() {
    let srv = server();
    let sb = sandbox(&srv, "");
    // -q: only errors, so not the warning about a secret on the command line
    // that a normal run prints.
    let args = ["auth", "token", "--oauth-client-secret", "lmi-secret"];
    sb.run(&args)
        .assert_ok()
        .assert_stderr_contains("warning: OAUTH_CLIENT_SECRET was given on the command line");
    let mut quiet = vec!["-q"];
    quiet.extend_from_slice(&args);
    let out = sb.run(&quiet);
    out.assert_ok();
    assert_eq!(out.stderr, "");

    // -vv: cache misses and hits.
    sb.run(&["auth", "clear"]).assert_ok();
    let miss = sb.run(&["-vv", "auth", "token"]);
    miss.assert_ok()
        .assert_stderr_contains("debug[auth]: cache miss for environment dev");
    assert!(!miss.stderr.contains("cache hit"), "{}", miss.stderr);
    let hit = sb.run(&["-vv", "auth", "token"]);
    hit.assert_ok()
        .assert_stderr_contains("debug[auth]: cache hit for environment dev");
    assert!(!hit.stderr.contains("cache miss"), "{}", hit.stderr);

    // -vv on an unreachable endpoint: the failed exchange, then the error.
    let dead = dead_port();
    let url = format!("http://127.0.0.1:{}/token", dead.port);
    let out = sb.run(&["-vv", "auth", "token", "--oauth-token-url", &url]);
    out.assert_code(4);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let failed = lines
        .iter()
        .position(|l| l.starts_with(&format!("debug[http]: POST {url} failed")))
        .unwrap_or_else(|| panic!("no failed exchange:\n{}", out.stderr));
    let error = lines
        .iter()
        .position(|l| l.starts_with("error: ") && l.contains(&url))
        .unwrap_or_else(|| panic!("no error line:\n{}", out.stderr));
    assert!(failed < error, "{}", out.stderr);
    // -vv adds the cause chain under the error; without it there is none.
    assert!(
        lines[error..].iter().any(|l| l.starts_with("caused by: ")),
        "{}",
        out.stderr
    );
    let quiet = sb.run(&["auth", "token", "--oauth-token-url", &url]);
    quiet.assert_code(4);
    assert!(!quiet.stderr.contains("caused by:"), "{}", quiet.stderr);
}

#[test]
fn service_log_lines_have_the_documented_format() {
    let srv = server();
    let sb = sandbox(&srv, "");
    // A corrupt cache adds a WARN line to the DEBUG and INFO ones.
    std::fs::create_dir_all(sb.tokens_dir()).unwrap();
    std::fs::write(sb.token_file("dev"), b"{").unwrap();
    sb.run(&["-vv", "auth", "token"]).assert_ok();
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for line in log.lines() {
        let (level, component) =
            check_log_line(line).unwrap_or_else(|e| panic!("{e} in {line:?}\n{log}"));
        seen.insert(level);
        seen.insert(component);
    }
    for expected in ["WARN", "INFO", "DEBUG", "config", "auth", "http"] {
        assert!(seen.contains(expected), "no {expected} line:\n{log}");
    }
}
