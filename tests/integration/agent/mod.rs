//! `lmi agent` (SPEC §9): the built binary started, stopped and asked
//! through its socket, which the tests talk to with a plain `UnixStream`
//! (one JSON line out, one back), as any client of the protocol would.
//!
//! - `lifecycle`: start/status/stop (JSON and text), a second start, two
//!   starts at once, a stale socket after `kill -9`, `--lifetime`, SIGTERM.
//! - `wire`: garbage, a 1 MiB line, an unknown op, `"v":2`, a silent
//!   client, and another user refused by peer credentials.
//! - `serving`: the SSO session from the real keychain (N clients after
//!   expiry, one refresh), shared environments (N clients, one token),
//!   `not_shared`, compare-and-discard, a missing keychain, the request log.
//!
//! - `dpop`: a DPoP-bound shared environment from a client: `lmi api` and
//!   `auth proof` with proofs the agent signs, verified at the API; a
//!   foreign origin and a token the agent does not hold are refused.
//!
//! The client's side: `client_refusals` (sockets that do not answer, are
//! not sockets, or are another user's, and a peer that speaks the
//! protocol); `ssh_forwarding` (a real sshd and `ssh -R`, the laptop's
//! session from a real browser login into a real keychain, counted at the
//! IdP and the API); `ssh_server` starts sshd.
//!
//! This file holds the helpers they share.

mod client_refusals;
mod dpop;
mod lifecycle;
mod serving;
mod ssh_forwarding;
mod ssh_server;
mod wire;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Outcome, Sandbox};

/// The socket of a sandbox without `LMI_AGENT_SOCK` or `XDG_RUNTIME_DIR`.
fn socket(sb: &Sandbox) -> PathBuf {
    sb.data_dir().join("agent.sock")
}

/// An agent started by a test, ended (SIGTERM) when the test ends, however
/// it ends.
struct Agent {
    pid: u32,
}

impl Drop for Agent {
    fn drop(&mut self) {
        signal(self.pid, "TERM");
    }
}

/// Sends `kill -SIG pid` (errors ignored: it may be gone).
fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .output();
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_owned())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// `lmi agent start` with `args`; the agent it reports is ended with the
/// returned guard.
fn start(sb: &Sandbox, args: &[&str]) -> (Agent, Value) {
    let mut all = vec!["agent", "start"];
    all.extend_from_slice(args);
    let out = sb.run(&all);
    out.assert_ok();
    let json = out.json();
    let pid = json["pid"].as_u64().expect("a pid") as u32;
    (Agent { pid }, json)
}

/// After a test changed the keychain behind lmi's back: a new generation
/// stamp in the SSO folder, as lmi's own login, refresh and logout write,
/// so the agent reads the keychain again.
fn stamp_sso_folder(sb: &Sandbox) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::fs::write(
        sb.data_dir().join("sso/.generation"),
        format!("test-{nanos}"),
    )
    .unwrap();
}

/// Sends `line` (a newline is added) and reads one answer line; `None`
/// when the agent closed the connection without one.
fn ask_raw(socket: &Path, line: &[u8]) -> Option<Value> {
    let mut stream = UnixStream::connect(socket).expect("connect to the agent");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut bytes = line.to_vec();
    bytes.push(b'\n');
    // A long line may be cut off by the agent's answer and close.
    let _ = stream.write_all(&bytes);
    read_answer(&stream)
}

/// One answer line from `stream`, or `None` at end of file (or reset).
fn read_answer(stream: &UnixStream) -> Option<Value> {
    let mut answer = String::new();
    match BufReader::new(stream).read_line(&mut answer) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(serde_json::from_str(&answer).expect("the answer is JSON")),
    }
}

/// Sends a request (JSON) and returns the answer, which must come.
fn ask(socket: &Path, request: Value) -> Value {
    ask_raw(socket, request.to_string().as_bytes()).expect("an answer")
}

/// The agent's `status` answer is `ok`.
fn serves(socket: &Path) -> bool {
    ask(socket, serde_json::json!({"v": 1, "op": "status"}))["ok"] == true
}

fn status(sb: &Sandbox) -> Outcome {
    sb.run(&["agent", "status"])
}
