//! `lmi api` against a hostile API that redirects to a target carrying the
//! token it was sent: the token is never shown, at any verbosity, nor logged.

use crate::support::hostile::{Hostile, Reply};
use crate::support::sandbox_for;

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
    assert_eq!(quiet.code, out.code, "{}", quiet.stderr);
    assert!(!quiet.stderr.contains(TOKEN), "{}", quiet.stderr);
    let same = sb.run(&["api", "/same", "-vv"]);
    assert_ne!(same.code, 0, "{}", same.stderr);
    assert!(!same.stderr.contains(TOKEN), "{}", same.stderr);
    let logged = std::fs::read_to_string(&log_file).unwrap();
    assert!(
        logged.contains("/landed") && !logged.contains(TOKEN),
        "{logged}"
    );
}
