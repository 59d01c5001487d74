//! Bad input on the socket: garbage, a 1 MiB line, an unknown op, a wrong
//! version; a client that says nothing; another user. Each gets an error
//! answer or a closed connection, and the next client is served.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{ask, ask_raw, read_answer, serves, socket, start};
use crate::support::Sandbox;

#[test]
fn agent_bad_requests_get_an_error_and_the_next_client_is_served() {
    let sb = Sandbox::new();
    let (_agent, _) = start(&sb, &[]);
    let sock = socket(&sb);
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        (
            "garbage",
            b"\x00\xffnot json at all".to_vec(),
            Some("bad_request"),
        ),
        (
            "unknown op",
            br#"{"v":1,"op":"fly"}"#.to_vec(),
            Some("unknown_op"),
        ),
        (
            "version 2",
            br#"{"v":2,"op":"status"}"#.to_vec(),
            Some("unsupported_version"),
        ),
        (
            "no version",
            br#"{"op":"status"}"#.to_vec(),
            Some("bad_request"),
        ),
        ("1 MiB", vec![b'x'; 1 << 20], None),
    ];
    for (what, line, code) in cases {
        let answer = ask_raw(&sock, &line);
        match (code, answer) {
            (Some(code), Some(answer)) => {
                assert_eq!(answer["ok"], false, "{what}");
                assert_eq!(answer["v"], 1, "{what}");
                assert_eq!(answer["error"]["code"], code, "{what}: {answer}");
                assert!(answer["error"]["message"].is_string(), "{what}");
            }
            (Some(_), None) => panic!("{what}: no error answer"),
            // The long line: an error answer, or the connection closed.
            (None, Some(answer)) => {
                assert_eq!(answer["error"]["code"], "bad_request", "{what}")
            }
            (None, None) => {}
        }
        assert!(serves(&sock), "the next client after {what} is served");
    }
}

#[test]
fn agent_silent_client_does_not_block_another() {
    let sb = Sandbox::new();
    let (_agent, _) = start(&sb, &[]);
    let sock = socket(&sb);
    let silent = UnixStream::connect(&sock).unwrap();
    let since = Instant::now();
    // Answered while the silent one is still connected.
    assert!(serves(&sock));
    assert!(since.elapsed() < Duration::from_secs(4));
    silent.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let pending = (&silent).read(&mut byte);
    assert!(
        matches!(&pending, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the silent client is still connected: {pending:?}"
    );
    // Then dropped after the read timeout (5 s) without an answer.
    silent.set_nonblocking(false).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(read_answer(&silent), None);
    let took = since.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(15),
        "dropped after {took:?}"
    );
    assert!(serves(&sock));
}

/// A throwaway system user, removed when dropped.
struct User {
    name: String,
    uid: u32,
}

impl User {
    fn create() -> User {
        let name = format!("lmiag{}", std::process::id() % 100_000);
        let made = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/bin/sh", &name])
            .output()
            .expect("run useradd");
        assert!(made.status.success(), "useradd: {made:?}");
        let id = Command::new("id").args(["-u", &name]).output().unwrap();
        let uid = String::from_utf8_lossy(&id.stdout).trim().parse().unwrap();
        User { name, uid }
    }

    /// Runs python3 `script` (with the socket path as its argument) as
    /// this user; its stdout.
    fn python(&self, script: &str, sock: &std::path::Path) -> String {
        let out = Command::new("runuser")
            .args(["-u", &self.name, "--", "python3", "-c", script])
            .arg(sock)
            .output()
            .expect("run runuser");
        assert!(out.status.success(), "as {}: {out:?}", self.name);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

#[test]
fn agent_refuses_another_user_who_can_reach_the_socket() {
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("skipped: making a throwaway user needs root (CI runs the tests as root)");
        return;
    }
    let user = User::create();
    // A socket folder the other user can enter, after the agent checked
    // and bound it: only the peer credentials stand in the way.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let mut sb = Sandbox::new();
    sb.var("LMI_AGENT_SOCK", sock.display().to_string());
    let (_agent, _) = start(&sb, &[]);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();

    let script = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
print("connected")
try:
    s.sendall(b'{"v":1,"op":"status"}\n')
except OSError as e:
    print("send failed", e)
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError as e:
    print("recv failed", e)
print("answer", repr(data))
"#;
    let out = user.python(script, &sock);
    assert!(
        out.contains("connected"),
        "the other user reached the socket: {out}"
    );
    assert!(
        out.contains("answer b''"),
        "no answer for another user: {out}"
    );
    assert!(!out.contains("\"ok\""), "{out}");
    // Our own user is served on the same socket.
    assert_eq!(ask(&sock, json!({"v": 1, "op": "status"}))["ok"], true);
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    assert!(
        log.contains("refused a connection from pid") && log.contains(&format!("uid {}", user.uid)),
        "the refusal is logged: {log}"
    );
}
