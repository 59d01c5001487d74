//! The loopback redirect listener of a native-app login (RFC 8252 §7.3):
//! the small HTTP server.
//!
//! It is bound on `127.0.0.1` before the browser opens and stays open (never
//! closed and re-bound, so no other process can take the port mid-login)
//! until the callback that carries this login's `state` arrives or the
//! deadline passes. What each request means is `callback::decide`'s (a pure
//! function); the pages are `pages`'. Only the request line is parsed: the
//! listener serves one HTML page per request and closes the connection,
//! which is all a browser needs.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::secret::Secret;

use super::callback::{decide, target_url, Decision};
use super::idp::IssCheck;
use super::pages::{Reply, SHOWN_CHARS};
use crate::redact;

/// Longest request head read from a connection.
const HEAD_LIMIT: usize = 16 * 1024;
/// How long a connection may take to send its request head, in all: a
/// browser's speculative pre-connection may send nothing at all, and a
/// browser sends its request at once.
const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// Connections read at once. When another arrives, the oldest is closed:
/// idle connections (a local process opening hundreds) can neither use up
/// lmi's file descriptors nor keep the browser's callback out, since the
/// newest connection is always served.
const MAX_CONNECTIONS: usize = 16;
/// The longest pause after a failed `accept` (EMFILE, ENFILE): the listener
/// backs off instead of spinning.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The listener, bound and waiting.
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    port: u16,
}

/// A connection that sent the right callback and waits for its page.
#[derive(Debug)]
pub struct Pending {
    stream: TcpStream,
}

/// The successful callback: the code, and the browser still waiting for
/// the page that says how the login ended.
#[derive(Debug)]
pub struct Callback {
    pub code: Secret,
    pub pending: Pending,
}

/// A request head as read by a connection thread.
struct Incoming {
    method: String,
    target: String,
    stream: TcpStream,
}

impl Listener {
    /// Binds `127.0.0.1:port` (0 = any free port).
    pub fn bind(port: u16) -> Result<Listener> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| {
            let shown = if port == 0 { "a free port".to_owned() } else { format!("port {port}") };
            if e.kind() == ErrorKind::AddrInUse {
                Error::auth(format!(
                    "cannot listen for the login callback: port {port} on 127.0.0.1 is already in use"
                ))
                .with_hint(format!(
                    "stop the program that listens on port {port}, or set OAUTH_SSO_REDIRECT_PORT to another port your IdP accepts"
                ))
            } else {
                Error::auth(format!(
                    "cannot listen for the login callback on 127.0.0.1 ({shown}): {e}"
                ))
                .with_hint("set OAUTH_SSO_REDIRECT_PORT to a free port above 1024")
            }
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| {
                Error::internal(format!("cannot read the callback listener's address: {e}"))
            })?
            .port();
        tracing::debug!(target: "sso", "listening for the login callback on 127.0.0.1:{port}");
        Ok(Listener { listener, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>/callback` (RFC 8252 §7.3: the IP literal,
    /// not `localhost`, which might resolve elsewhere).
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// Waits until `deadline` for the callback carrying `state` (and, with
    /// `iss`, the right issuer). `tick` is called about once a second with
    /// the time left.
    pub fn wait(
        self,
        state: &str,
        iss: Option<&IssCheck>,
        deadline: Instant,
        timeout_secs: u64,
        mut tick: impl FnMut(Duration),
    ) -> Result<Callback> {
        let (tx, rx) = mpsc::channel::<Incoming>();
        let redirect_uri = self.redirect_uri();
        let listener = self.listener;
        // Accepting runs on its own thread, and each connection is read on
        // another, so a connection that never sends anything cannot hold up
        // the real callback. The threads end with the process.
        std::thread::spawn(move || accept_loop(&listener, &tx));
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::auth(format!(
                    "no login callback arrived within {timeout_secs} s"
                ))
                .with_hint(format!(
                    "run lmi login sso again and finish in the browser within OAUTH_SSO_LOGIN_TIMEOUT; if the IdP showed an error page, check OAUTH_SSO_CLIENT_ID and that {} is an allowed redirect URI",
                    redirect_uri
                )));
            }
            let left = deadline - now;
            tick(left);
            let incoming = match rx.recv_timeout(left.min(Duration::from_secs(1))) {
                Ok(incoming) => incoming,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::internal("the login callback listener stopped"))
                }
            };
            if let Some(callback) = handle(incoming, state, iss)? {
                return Ok(callback);
            }
        }
    }
}

/// Accepts connections and reads each on its own thread, at most
/// [`MAX_CONNECTIONS`] at once (the oldest is closed to make room), backing
/// off when `accept` fails.
fn accept_loop(listener: &TcpListener, tx: &mpsc::Sender<Incoming>) {
    let open: Arc<Mutex<VecDeque<(u64, TcpStream)>>> = Arc::default();
    let mut backoff = Duration::from_millis(10);
    for id in 0u64.. {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::debug!(target: "sso", "callback listener: accept failed ({e}); pausing {} ms", backoff.as_millis());
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(10);
        {
            let mut open = open.lock().unwrap_or_else(PoisonError::into_inner);
            while open.len() >= MAX_CONNECTIONS {
                if let Some((_, oldest)) = open.pop_front() {
                    // Its reader sees end of stream and ends.
                    let _ = oldest.shutdown(Shutdown::Both);
                }
            }
            // Without a descriptor for the handle, it is served unlisted.
            if let Ok(handle) = stream.try_clone() {
                open.push_back((id, handle));
            }
        }
        let tx = tx.clone();
        let open = open.clone();
        std::thread::spawn(move || {
            let incoming = read_head(stream);
            open.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|(other, _)| *other != id);
            if let Some(incoming) = incoming {
                // The receiver is gone once the login is over.
                let _ = tx.send(incoming);
            }
        });
    }
}

/// Reads the request line; answers 400 itself to anything unparsable.
fn read_head(mut stream: TcpStream) -> Option<Incoming> {
    let until = Instant::now() + READ_TIMEOUT;
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        // One deadline for the whole head: a byte every few seconds does
        // not keep a connection open.
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > HEAD_LIMIT {
            respond(
                stream,
                &Reply::page(
                    431,
                    "Request Header Fields Too Large",
                    "Bad request",
                    "The request is too large.",
                ),
            );
            return None;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next().unwrap_or_default();
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version)) if version.starts_with("HTTP/") => {
            Some(Incoming {
                method: method.to_owned(),
                target: target.to_owned(),
                stream,
            })
        }
        _ => {
            if !head.is_empty() {
                respond(stream, &Reply::not_ours());
            }
            None
        }
    }
}

/// Answers one request as [`decide`] says; the code when it is this
/// login's callback.
fn handle(incoming: Incoming, state: &str, iss: Option<&IssCheck>) -> Result<Option<Callback>> {
    let Incoming {
        method,
        target,
        stream,
    } = incoming;
    if let Some(url) = target_url(&target) {
        // Only the path and method are logged: the query holds the code.
        tracing::debug!(target: "sso", "{method} {} on the callback listener", url.path());
    }
    match decide(&method, &target, state, iss) {
        Decision::Ignore { reply, warning } => {
            if let Some(warning) = warning {
                tracing::warn!(target: "sso", "{warning}");
            }
            respond(stream, &reply);
            Ok(None)
        }
        Decision::Refused { reply, error } => {
            respond(stream, &reply);
            Err(error)
        }
        Decision::Code(code) => Ok(Some(Callback {
            code,
            pending: Pending { stream },
        })),
    }
}

impl Pending {
    /// Tells the browser that the login worked.
    pub fn succeeded(self, user: Option<&str>) {
        let who = user
            .map(|u| format!(" as {}", redact::excerpt(u, SHOWN_CHARS)))
            .unwrap_or_default();
        respond(
            self.stream,
            &Reply::page(
                200,
                "OK",
                "Logged in",
                &format!("lmi is logged in{who}. You may close this window."),
            ),
        );
    }

    /// Tells the browser that the login failed after the callback.
    pub fn failed(self, why: &str) {
        respond(
            self.stream,
            &Reply::page(
                200,
                "OK",
                "Login failed",
                &format!(
                    "{}. You may close this window and look at the terminal.",
                    redact::excerpt(why, SHOWN_CHARS)
                ),
            ),
        );
    }
}

fn respond(mut stream: TcpStream, reply: &Reply) {
    let Reply {
        status,
        reason,
        body,
    } = reply;
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // A browser that went away is no reason to fail the login.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .and_then(|()| stream.flush());
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sso::callback::iss_problem;

    fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn wrong_state_and_other_paths_keep_waiting() {
        let listener = Listener::bind(0).unwrap();
        let port = listener.port();
        assert_eq!(
            listener.redirect_uri(),
            format!("http://127.0.0.1:{port}/callback")
        );
        let client = std::thread::spawn(move || {
            let idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let a = get(port, "/favicon.ico");
            let b = get(port, "/callback?code=c1&state=forged");
            let c = get(port, "/callback?code=c1");
            let d = get(port, "/callback?code=the-code&state=s%3D1");
            drop(idle);
            (a, b, c, d)
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let callback = listener.wait("s=1", None, deadline, 20, |_| {}).unwrap();
        assert_eq!(callback.code.expose(), "the-code");
        callback.pending.succeeded(Some("alice"));
        let (a, b, c, d) = client.join().unwrap();
        assert!(a.starts_with("HTTP/1.1 404"), "{a}");
        assert!(b.starts_with("HTTP/1.1 400"), "{b}");
        assert!(c.starts_with("HTTP/1.1 400"), "{c}");
        assert!(
            d.starts_with("HTTP/1.1 200") && d.contains("close this window"),
            "{d}"
        );
    }

    #[test]
    fn idp_error_ends_the_login() {
        let listener = Listener::bind(0).unwrap();
        let port = listener.port();
        let client = std::thread::spawn(move || {
            get(
                port,
                "/callback?error=access_denied&error_description=No%20%3Cway%3E&state=s",
            )
        });
        let err = listener
            .wait(
                "s",
                None,
                Instant::now() + Duration::from_secs(20),
                20,
                |_| {},
            )
            .unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(
            err.message().contains("access_denied: No <way>"),
            "{}",
            err.message()
        );
        let page = client.join().unwrap();
        assert!(page.contains("No &lt;way&gt;"), "{page}");
    }

    #[test]
    fn callbacks_from_another_issuer_keep_waiting() {
        let listener = Listener::bind(0).unwrap();
        let port = listener.port();
        let check = IssCheck {
            issuer: "https://idp.test".into(),
            required: true,
        };
        let client = std::thread::spawn(move || {
            let wrong = get(
                port,
                "/callback?code=c1&state=s&iss=https%3A%2F%2Fevil.test",
            );
            // An error response from another issuer is no reason to stop.
            let wrong_error = get(
                port,
                "/callback?error=access_denied&state=s&iss=https%3A%2F%2Fevil.test",
            );
            let missing = get(port, "/callback?code=c2&state=s");
            let right = get(port, "/callback?code=c3&state=s&iss=https%3A%2F%2Fidp.test");
            (wrong, wrong_error, missing, right)
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let callback = listener
            .wait("s", Some(&check), deadline, 20, |_| {})
            .unwrap();
        assert_eq!(callback.code.expose(), "c3");
        callback.pending.succeeded(None);
        let (wrong, wrong_error, missing, right) = client.join().unwrap();
        assert!(wrong.starts_with("HTTP/1.1 400"), "{wrong}");
        assert!(wrong.contains("evil.test"), "{wrong}");
        assert!(wrong_error.starts_with("HTTP/1.1 400"), "{wrong_error}");
        assert!(missing.starts_with("HTTP/1.1 400"), "{missing}");
        assert!(right.starts_with("HTTP/1.1 200"), "{right}");

        // Without the metadata's promise, a missing iss is accepted.
        let lenient = IssCheck {
            required: false,
            ..check
        };
        assert_eq!(iss_problem(&lenient, None), None);
        assert!(iss_problem(&lenient, Some("https://idp.test/")).is_some());
        assert_eq!(iss_problem(&lenient, Some("https://idp.test")), None);
    }

    #[test]
    fn deadline_and_busy_port() {
        let listener = Listener::bind(0).unwrap();
        let port = listener.port();
        let busy = Listener::bind(port).unwrap_err();
        assert_eq!(busy.exit_code(), 4);
        assert!(busy.message().contains(&format!("port {port}")));
        let started = Instant::now();
        let err = listener
            .wait(
                "s",
                None,
                Instant::now() + Duration::from_millis(300),
                0,
                |_| {},
            )
            .unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
