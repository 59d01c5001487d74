//! The loopback callback listener and the browser: forged and stateless
//! callbacks, the login timeout, a busy redirect port, `$BROWSER` parsing,
//! Ctrl-C during a login, and concurrent logins sharing one browser.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{browser, idp, login, sandbox, session_file, stored, take_report, Store};
use crate::support::{workspace_bin, Outcome, Sandbox};

/// The login URL lmi printed on stderr.
fn printed_url(out: &Outcome) -> String {
    out.stderr
        .lines()
        .map(str::trim)
        .find(|l| l.contains("/authorize?"))
        .unwrap_or_else(|| panic!("no login URL on stderr:\n{}", out.stderr))
        .to_owned()
}

/// A running lmi whose stderr is read line by line as it arrives.
pub(super) struct Running {
    pub(super) child: Child,
    lines: mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<String>,
}

impl Running {
    pub(super) fn start(sb: &Sandbox, args: &[&str]) -> Running {
        let mut child = sb
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lmi");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in stderr.lines() {
                let line = line.unwrap();
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        Running {
            child,
            lines,
            reader,
        }
    }

    /// Blocks until a stderr line contains `needle`; panics when lmi ends
    /// first or after 30 s.
    pub(super) fn wait_for_stderr(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(e) => panic!("no stderr line with {needle:?} ({e})"),
            }
        }
    }

    pub(super) fn finish(self) -> Outcome {
        let out = self.child.wait_with_output().expect("wait for lmi");
        let stderr = self.reader.join().unwrap();
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        }
    }
}

/// A `$BROWSER` command that records its arguments (one per line) in the
/// returned file, then runs the scripted browser on its first argument.
fn recording_browser(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let script = dir.join(name);
    let argv = dir.join(format!("{name}.argv"));
    let report = dir.join(format!("{name}.report"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{argv}.tmp' && mv '{argv}.tmp' '{argv}'\nexec '{testidp}' browser --report '{report}' \"$1\"\n",
            argv = argv.display(),
            testidp = workspace_bin("testidp").display(),
            report = report.display(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, argv)
}

#[test]
fn sso_forged_state_then_real_callback_succeeds() {
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    sb.var("BROWSER", browser(" --forge-state"));
    let out = login(&sb, &[]);
    out.assert_ok();
    // lmi saw (and refused with 400) the forged callback before the real one.
    out.assert_stderr_contains("state does not match");
    assert_eq!(out.json()["user"], "alice@example.test");
    assert_eq!(srv.authorize_requests(), 1);
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 1);
}

#[test]
fn sso_callback_listener_ignores_favicon_and_stateless_callbacks() {
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    let report = sb.home().join("browser-report.json");
    sb.var(
        "BROWSER",
        browser(&format!(
            " --hit-favicon --omit-state --report {}",
            report.display()
        )),
    );
    let out = login(&sb, &[]);
    out.assert_ok();
    assert_eq!(out.json()["user"], "alice@example.test");
    // The browser got 404 for the favicon, 400 for the callback without
    // state, then 200 for the real one; it exits non-zero otherwise.
    let seen = take_report(&report);
    assert_eq!(
        seen,
        serde_json::json!({"exit": 0, "final_status": 200, "error": null,
            "probes": {"favicon": 404, "omit_state": 400}})
    );
    out.assert_stderr_contains("state does not match");
    assert_eq!(srv.authorize_requests(), 1);
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 1);
}

#[test]
fn sso_login_timeout_without_browser() {
    let srv = idp("unused");
    let sb = sandbox(
        srv.idp_url(),
        "lmi-public",
        Store::File,
        "OAUTH_SSO_LOGIN_TIMEOUT=1\n",
    );
    let started = Instant::now();
    let out = login(&sb, &["--no-browser"]);
    out.assert_code(4)
        .assert_stderr_contains("no login callback");
    out.assert_stderr_contains(&format!("{}/authorize?", srv.idp_url()));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(srv.authorize_requests(), 0, "--no-browser opens nothing");
    assert!(session_file(&sb).is_none());
}

#[test]
fn sso_redirect_port_in_use() {
    let srv = idp("unused");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let sb = sandbox(
        srv.idp_url(),
        "lmi-public",
        Store::File,
        &format!("OAUTH_SSO_REDIRECT_PORT={port}\n"),
    );
    let out = login(&sb, &[]);
    out.assert_code(4)
        .assert_stderr_contains(&format!("port {port}"));
    assert_eq!(srv.authorize_requests(), 0);
    assert!(session_file(&sb).is_none());

    // The same port, once free, is used as the redirect URI's.
    drop(busy);
    login(&sb, &[]).assert_ok();
    let redirect = srv
        .last_authorize_request()
        .unwrap()
        .query_param("redirect_uri")
        .unwrap();
    assert_eq!(redirect, format!("http://127.0.0.1:{port}/callback"));
}

#[test]
fn sso_concurrent_logins_open_one_browser() {
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    // The browser holds the first login until the test creates `go`, so the
    // second login is known to start while the first one is busy.
    let go = sb.home().join("go");
    let report = sb.home().join("browser-report.json");
    sb.var(
        "BROWSER",
        browser(&format!(
            " --wait-for-file {} --report {}",
            go.display(),
            report.display()
        )),
    );
    let first = Running::start(&sb, &["login", "sso"]);
    // Printed under the login lock, once the browser has been started.
    first.wait_for_stderr("/authorize?");
    let second = Running::start(&sb, &["login", "sso"]);
    second.wait_for_stderr("Another lmi login sso is in progress");
    assert_eq!(
        srv.authorize_requests(),
        0,
        "the browser waits for the go-ahead"
    );
    std::fs::write(&go, "").unwrap();

    let a = first.finish();
    let b = second.finish();
    a.assert_ok();
    b.assert_ok();
    assert_eq!(a.json()["user"], "alice@example.test");
    let (mut a_json, mut b_json) = (a.json(), b.json());
    // The first logged in through the browser; the second reports its result.
    assert_eq!(
        (a_json["source"].as_str(), b_json["source"].as_str()),
        (Some("login"), Some("existing"))
    );
    assert_eq!(
        (a_json["flow"].as_str(), b_json["flow"].as_str()),
        (Some("browser"), Some("browser"))
    );
    a_json.as_object_mut().unwrap().remove("source");
    b_json.as_object_mut().unwrap().remove("source");
    assert_eq!(b_json, a_json, "both report the same session");
    assert_eq!(srv.authorize_requests(), 1, "one browser for two logins");
    assert_eq!(srv.token_requests_by_grant("authorization_code"), 1);
    assert_eq!(srv.token_requests(), 1);
    assert!(!b.stderr.contains("/authorize?"), "{}", b.stderr);
    assert_eq!(take_report(&report)["exit"], 0);
    let session = stored(&sb);
    assert_eq!(session["user"], "alice@example.test");
}

#[test]
fn sso_browser_variable_is_a_list_with_percent_s() {
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::File, "");
    let dir = sb.home().to_owned();
    let cases = [
        // %s is replaced by the URL.
        ("percent", "{w} %s"),
        // Without %s the URL is appended.
        ("appended", "{w}"),
        // A colon-separated list: a first command that cannot start is
        // skipped.
        ("list", "/nonexistent/browser --new-window:{w} %s"),
    ];
    for (n, (name, spec)) in cases.into_iter().enumerate() {
        let (script, argv) = recording_browser(&dir, name);
        sb.var(
            "BROWSER",
            spec.replace("{w}", &script.display().to_string()),
        );
        let out = login(&sb, &["--force"]);
        out.assert_ok();
        assert_eq!(out.json()["user"], "alice@example.test", "{name}");
        let url = printed_url(&out);
        let args: Vec<String> = std::fs::read_to_string(&argv)
            .unwrap_or_else(|e| panic!("{name}: the browser did not run ({e})"))
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(args, vec![url], "{name}: the browser's arguments");
        assert_eq!(
            take_report(&dir.join(format!("{name}.report")))["exit"],
            0,
            "{name}"
        );
        assert_eq!(srv.authorize_requests(), n + 1, "{name}");
    }
}

#[test]
fn sso_ctrl_c_exits_130_and_keeps_the_previous_session() {
    let srv = idp("unused");
    let sb = sandbox(
        srv.idp_url(),
        "lmi-public",
        Store::File,
        "OAUTH_SSO_LOGIN_TIMEOUT=60\n",
    );
    login(&sb, &[]).assert_ok();
    let file = session_file(&sb).unwrap();
    let before = std::fs::read(&file).unwrap();

    let running = Running::start(&sb, &["login", "sso", "--force", "--no-browser"]);
    // lmi is listening once it has printed the URL.
    running.wait_for_stderr("/authorize?");
    let pid = running.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = running.finish();
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert_eq!(session_file(&sb).as_deref(), Some(file.as_path()));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "Ctrl-C leaves the previous session as it was"
    );
    assert_eq!(srv.authorize_requests(), 1, "only the first login's");
    assert_eq!(srv.token_requests(), 1);
    sb.run(&["auth", "status"]).assert_ok();
}
