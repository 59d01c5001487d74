//! The agent's listener: peer credentials, a thread per connection (a
//! bounded number), one request line and one answer line each, the
//! lifetime, and a clean end on `stop`, SIGTERM, SIGINT or SIGHUP (the
//! socket file removed).
//!
//! Every accepted connection is checked first: a peer whose uid is not the
//! agent's is closed at once, unanswered, and the refusal is logged with
//! its pid and uid (SO_PEERCRED on Linux, getpeereid and LOCAL_PEERPID on
//! macOS). A peer that sends nothing is dropped after the read timeout; a
//! line over 64 KiB gets a `bad_request` answer and the connection is
//! closed. Neither holds up other clients: each connection has its own
//! thread.

use std::io::{self, BufReader};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Sleeper;
use crate::error::{Error, Result};

use super::protocol::{self, ErrorCode, LineError, Request, WireError, MAX_LINE};
use super::serve::Serve;

/// How the agent runs.
pub struct Options {
    pub socket: PathBuf,
    /// End after this long (`--lifetime`).
    pub lifetime: Option<Duration>,
    /// How long a peer may take to send its line.
    pub read_timeout: Duration,
    /// Connections served at once; more are closed unanswered.
    pub max_connections: usize,
    /// Waits out the lifetime (a test's moves its clock).
    pub sleeper: Arc<dyn Sleeper>,
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub uid: u32,
    pub pid: Option<i32>,
}

impl Peer {
    fn pid_text(&self) -> String {
        self.pid
            .map_or_else(|| "unknown".to_owned(), |p| p.to_string())
    }
}

/// The peer's credentials (Linux: SO_PEERCRED).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer(stream: &UnixStream) -> io::Result<Peer> {
    let cred = rustix::net::sockopt::socket_peercred(stream)?;
    Ok(Peer {
        uid: cred.uid.as_raw(),
        pid: Some(cred.pid.as_raw_nonzero().get()),
    })
}

/// The peer's credentials (macOS: getpeereid, and LOCAL_PEERPID for the
/// pid).
#[cfg(target_os = "macos")]
pub fn peer(stream: &UnixStream) -> io::Result<Peer> {
    let (uid, _) = nix::unistd::getpeereid(stream).map_err(io::Error::from)?;
    let pid = nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::LocalPeerPid).ok();
    Ok(Peer {
        uid: uid.as_raw(),
        pid,
    })
}

/// Elsewhere no peer can be identified, so none is served.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "macos")))]
pub fn peer(_stream: &UnixStream) -> io::Result<Peer> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "peer credentials are not supported on this platform",
    ))
}

/// What the listener and its connections share.
struct Shared {
    serve: Serve,
    stop: AtomicBool,
    active: AtomicUsize,
    socket: PathBuf,
    uid: u32,
    read_timeout: Duration,
}

impl Shared {
    /// Ends the accept loop: the flag, then a connection of our own to
    /// wake `accept`.
    fn stop(&self) {
        if !self.stop.swap(true, Ordering::SeqCst) {
            let _ = UnixStream::connect(&self.socket);
        }
    }
}

/// Serves `listener` until `stop`, the lifetime or a signal; then removes
/// the socket file (when it is still the one bound here).
pub fn run(listener: UnixListener, serve: Serve, options: Options) -> Result<()> {
    let bound = std::fs::symlink_metadata(&options.socket)
        .map(|m| (m.dev(), m.ino()))
        .ok();
    let shared = Arc::new(Shared {
        serve,
        stop: AtomicBool::new(false),
        active: AtomicUsize::new(0),
        socket: options.socket.clone(),
        uid: rustix::process::geteuid().as_raw(),
        read_timeout: options.read_timeout,
    });
    // Ctrl-C must end the loop (and remove the socket), not the process.
    crate::interrupt::set_exits(false);
    let signals = watch_signals(&shared);
    if let Some(lifetime) = options.lifetime {
        let shared = Arc::clone(&shared);
        let sleeper = Arc::clone(&options.sleeper);
        spawn("lifetime", move || {
            sleeper.sleep(lifetime);
            tracing::info!(target: "agent", "lifetime of {} s is over; ending", lifetime.as_secs());
            shared.stop();
        })?;
    }
    tracing::info!(target: "agent", "lmi agent (pid {}) listening on {}", std::process::id(), options.socket.display());
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Out of file descriptors, say: a short pause keeps the
                // loop from spinning while connections end.
                tracing::warn!(target: "agent", "accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if shared.active.load(Ordering::SeqCst) >= options.max_connections {
            tracing::warn!(target: "agent", "{} connections already; closing a new one", options.max_connections);
            continue;
        }
        shared.active.fetch_add(1, Ordering::SeqCst);
        let conn = Arc::clone(&shared);
        let started = spawn("connection", move || {
            connection(&conn, &stream);
            conn.active.fetch_sub(1, Ordering::SeqCst);
        });
        if started.is_err() {
            shared.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
    if let Some(handle) = signals {
        handle.close();
    }
    remove_socket(&options.socket, bound);
    tracing::info!(target: "agent", "lmi agent (pid {}) ended", std::process::id());
    Ok(())
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name(format!("agent-{name}"))
        .spawn(f)
        .map(|_| ())
        .map_err(|e| Error::internal(format!("cannot start the agent's {name} thread: {e}")))
}

/// A thread that stops the agent on SIGTERM, SIGINT or SIGHUP.
fn watch_signals(shared: &Arc<Shared>) -> Option<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(signals) => signals,
        Err(e) => {
            tracing::warn!(target: "agent", "cannot watch for signals: {e}");
            return None;
        }
    };
    let handle = signals.handle();
    let shared = Arc::clone(shared);
    let watched = spawn("signals", move || {
        if let Some(signal) = signals.forever().next() {
            tracing::info!(target: "agent", "signal {signal}; ending");
            shared.stop();
        }
    });
    watched.ok().map(|()| handle)
}

/// Removes the socket file if it is still the one this agent bound (an
/// agent started after a `kill -9` elsewhere may own the path now).
fn remove_socket(socket: &Path, bound: Option<(u64, u64)>) {
    let now = std::fs::symlink_metadata(socket)
        .map(|m| (m.dev(), m.ino()))
        .ok();
    if now.is_some() && now == bound {
        if let Err(e) = std::fs::remove_file(socket) {
            tracing::warn!(target: "agent", "cannot remove {}: {e}", socket.display());
        }
    }
}

/// One connection: check the peer, read one line, answer it.
fn connection(shared: &Shared, stream: &UnixStream) {
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    let peer = match peer(stream) {
        Ok(peer) => peer,
        Err(e) => {
            tracing::warn!(target: "agent", "refused a connection: cannot read its peer credentials: {e}");
            return;
        }
    };
    if peer.uid != shared.uid {
        tracing::warn!(target: "agent", "refused a connection from pid {} uid {}: not uid {}", peer.pid_text(), peer.uid, shared.uid);
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    let pid = peer.pid_text();
    let _ = stream.set_read_timeout(Some(shared.read_timeout));
    let _ = stream.set_write_timeout(Some(shared.read_timeout));
    let line = match protocol::read_line_bounded(BufReader::new(stream), MAX_LINE) {
        Ok(line) => line,
        Err(LineError::TooLong) => {
            tracing::warn!(target: "agent", "request from pid {pid} uid {}: longer than {MAX_LINE} bytes; closing", peer.uid);
            let error = WireError::new(
                ErrorCode::BadRequest,
                format!("the request is longer than {MAX_LINE} bytes"),
            );
            let _ = protocol::write_line(stream, &error.to_line());
            return;
        }
        Err(LineError::Closed) => {
            tracing::debug!(target: "agent", "pid {pid} closed the connection without a request");
            return;
        }
        Err(LineError::Io(e)) if super::wire::is_timeout(&e) => {
            tracing::info!(target: "agent", "dropped pid {pid}: no request within {} s", shared.read_timeout.as_secs());
            return;
        }
        Err(LineError::Io(e)) => {
            tracing::debug!(target: "agent", "reading from pid {pid}: {e}");
            return;
        }
    };
    let answer = match Request::parse(&line) {
        Ok(request) => {
            tracing::info!(target: "agent", "request {} from pid {pid} uid {}", describe(&request), peer.uid);
            let answer = shared.serve.answer(&request);
            if request == Request::Stop {
                let _ = protocol::write_line(stream, &answer);
                shared.stop();
                return;
            }
            answer
        }
        Err(e) => {
            tracing::info!(target: "agent", "bad request from pid {pid} uid {}: {} ({})", peer.uid, e.code.as_str(), e.message);
            e.to_line()
        }
    };
    if let Err(e) = protocol::write_line(stream, &answer) {
        tracing::debug!(target: "agent", "answering pid {pid}: {e}");
    }
}

/// What a request asked, for the log: the op and the environment or
/// issuer, never a token.
fn describe(request: &Request) -> String {
    let clean = |s: &str| crate::redact::excerpt(s, 80);
    match request {
        Request::Sso { issuer, client_id } => format!(
            "sso (issuer {}, client id {})",
            issuer.as_deref().map_or("any".into(), clean),
            client_id.as_deref().map_or("any".into(), clean)
        ),
        Request::Token { environment } => format!("token (environment {})", clean(environment)),
        Request::Discard { environment, .. } => {
            format!("discard (environment {})", clean(environment))
        }
        Request::Proof {
            environment,
            htm,
            htu,
            ..
        } => format!(
            "proof (environment {}, {} {})",
            clean(environment),
            clean(htm),
            url::Url::parse(htu).map_or("a malformed URL".into(), |u| crate::http::origin(&u))
        ),
        other => other.op().to_owned(),
    }
}
