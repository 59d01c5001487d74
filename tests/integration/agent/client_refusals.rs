//! The client's side of `LMI_AGENT_SOCK` (SPEC §9), against sockets made
//! by the test: nothing there, a socket nobody listens on, a listener that
//! never answers (exit 4 naming the socket, within the 3-second limit), a
//! regular file or another user's socket (exit 3 naming it), and a peer
//! that speaks the protocol (`logout sso` is exit 2; an environment it does
//! not share is the usual unknown-environment error).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::Sandbox;

/// A short folder in /tmp for sockets (paths are limited to ~100 bytes).
fn socket_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("lmi-agent-")
        .tempdir_in("/tmp")
        .unwrap()
}

fn client(sock: &Path) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.var("LMI_AGENT_SOCK", sock.display().to_string());
    sb
}

/// A peer that answers each request line with `answer(line)`, one
/// connection at a time, until the test ends.
fn protocol_peer(sock: PathBuf, answer: fn(&str) -> String) {
    let listener = UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut stream = stream;
            let _ = writeln!(stream, "{}", answer(&line));
        }
    });
}

#[test]
fn agent_client_a_set_socket_with_nothing_there_is_exit_4_naming_it() {
    let dir = socket_dir();
    let sock = dir.path().join("missing.sock");
    let out = client(&sock).run(&["auth", "status"]);
    out.assert_code(4)
        .assert_stderr_contains(&sock.display().to_string());
    assert_eq!(out.stdout, "", "nothing printed");
}

#[test]
fn agent_client_a_socket_nobody_listens_on_is_exit_4_at_once() {
    let dir = socket_dir();
    let sock = dir.path().join("dead.sock");
    drop(UnixListener::bind(&sock).unwrap());
    assert!(sock.exists(), "the socket file stays behind");
    let started = Instant::now();
    let out = client(&sock).run(&["login", "sso"]);
    out.assert_code(4)
        .assert_stderr_contains(&sock.display().to_string());
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn agent_client_a_listener_that_never_answers_is_exit_4_after_3_seconds() {
    let dir = socket_dir();
    let sock = dir.path().join("mute.sock");
    // Bound and listening, never accepting: connect works, no answer comes.
    let _listener = UnixListener::bind(&sock).unwrap();
    let started = Instant::now();
    let out = client(&sock).run(&["auth", "status"]);
    let took = started.elapsed();
    out.assert_code(4)
        .assert_stderr_contains(&sock.display().to_string())
        .assert_stderr_contains("no answer within 3 s");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn agent_client_a_regular_file_is_refused_with_exit_3() {
    let dir = socket_dir();
    let file = dir.path().join("not-a.sock");
    std::fs::write(&file, "").unwrap();
    let out = client(&file).run(&["auth", "status"]);
    out.assert_code(3)
        .assert_stderr_contains(&file.display().to_string())
        .assert_stderr_contains("not a socket");
}

#[test]
fn agent_client_another_users_socket_is_refused_with_exit_3() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test gives a socket to another user, which needs root (as in CI)"
    );
    let dir = socket_dir();
    let sock = dir.path().join("theirs.sock");
    protocol_peer(sock.clone(), |_| {
        r#"{"v":1,"ok":true,"environments":[]}"#.to_owned()
    });
    // Reachable at all (so the refusal is about the owner, not the path).
    std::os::unix::net::UnixStream::connect(&sock).unwrap();
    std::os::unix::fs::chown(&sock, Some(65534), Some(65534)).unwrap();
    let out = client(&sock).run(&["auth", "status"]);
    out.assert_code(3)
        .assert_stderr_contains(&sock.display().to_string())
        .assert_stderr_contains("another user");
}

fn answer(line: &str) -> String {
    let request: serde_json::Value = serde_json::from_str(line).unwrap();
    match request["op"].as_str().unwrap() {
        "sso" => r#"{"v":1,"ok":true,"session":{"access_token":"a","id_token":null,"token_type":"Bearer","expires_at":null,"user":"alice","issuer":"https://idp.example","client_id":"lmi"}}"#.to_owned(),
        "token" => r#"{"v":1,"ok":false,"error":{"code":"not_shared","message":"environment is not shared","hint":null}}"#.to_owned(),
        _ => r#"{"v":1,"ok":true,"environments":["team"]}"#.to_owned(),
    }
}

#[test]
fn agent_client_logout_with_an_agent_is_exit_2_and_a_private_environment_stays_unknown() {
    let dir = socket_dir();
    let sock = dir.path().join("agent.sock");
    protocol_peer(sock.clone(), answer);
    let sb = client(&sock);
    sb.run(&["logout", "sso"])
        .assert_code(2)
        .assert_stderr_contains("log out where the agent runs")
        .assert_stderr_contains(&sock.display().to_string());
    let out = sb.run(&["login", "sso"]);
    out.assert_ok();
    assert_eq!(out.json()["flow"], "agent");
    assert_eq!(out.json()["user"], "alice");
    sb.run(&["-e", "private", "auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("does not exist");
    let list = sb.run(&["env", "list"]);
    list.assert_ok();
    assert_eq!(
        list.json(),
        serde_json::json!([{"name": "team", "default": false, "path": null, "source": "agent"}])
    );
}
