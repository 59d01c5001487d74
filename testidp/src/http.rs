//! HTTP plumbing on top of `tiny_http`: binding a loopback listener, the
//! accept loop that hands every request to its own thread, and [`Reply`], the
//! response value the handlers return (a buffered body, a streamed one, raw
//! bytes written to the client's socket, or no answer at all).
//!
//! Each public port is a small TCP relay in front of a private `tiny_http`
//! listener. tiny_http never closes a keep-alive connection on its own and
//! does not expose the socket, so the relay is what lets a handler send a
//! truncated body and then close (`/drop`), stall mid-body (`/stall`) or hang
//! up without answering (a failing device poll). For every other request the
//! relay (`relay.rs`) only copies bytes both ways.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use serde_json::Value;

use crate::record::RecordedRequest;
use crate::relay::{relay_connection, Relay};
use crate::state::Shared;

/// A request handler of one of the servers.
pub(crate) type Handler = fn(&Arc<Shared>, RecordedRequest) -> Reply;

/// Writes a whole raw HTTP response (status line, headers, body) straight to
/// the client's socket; the connection is closed when it returns.
pub(crate) type RawWriter = Box<dyn FnOnce(&mut TcpStream) -> io::Result<()> + Send>;

/// What follows the status line and headers.
pub(crate) enum Body {
    /// A complete body, sent with `Content-Length`.
    Bytes(Vec<u8>),
    /// Read as it is sent; `Some(len)` sends `Content-Length: len`, `None`
    /// sends chunked.
    Stream(Box<dyn Read + Send>, Option<u64>),
    /// The handler writes everything itself, then the connection closes.
    Raw(RawWriter),
    /// No answer: the connection is closed without a byte.
    Close,
}

/// An HTTP response.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl Reply {
    fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Body::Bytes(body),
        }
    }

    pub(crate) fn json(status: u16, body: &Value) -> Self {
        Reply::bytes(status, "application/json", body.to_string().into_bytes())
    }

    pub(crate) fn text(status: u16, body: &str) -> Self {
        Reply::bytes(
            status,
            "text/plain; charset=utf-8",
            body.as_bytes().to_vec(),
        )
    }

    pub(crate) fn html(status: u16, body: &str) -> Self {
        Reply::bytes(status, "text/html; charset=utf-8", body.as_bytes().to_vec())
    }

    pub(crate) fn redirect(location: &str) -> Self {
        Reply {
            status: 302,
            headers: vec![("Location".into(), location.into())],
            body: Body::Bytes(Vec::new()),
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    /// A body read from `reader` while it is sent (never held in memory).
    pub(crate) fn stream(
        status: u16,
        content_type: &str,
        reader: impl Read + Send + 'static,
        length: Option<u64>,
    ) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Body::Stream(Box::new(reader), length),
        }
    }

    /// `write` produces the whole response on the socket; then it closes.
    pub(crate) fn raw(
        write: impl FnOnce(&mut TcpStream) -> io::Result<()> + Send + 'static,
    ) -> Self {
        Reply {
            status: 0,
            headers: Vec::new(),
            body: Body::Raw(Box::new(write)),
        }
    }

    /// Closes the connection without answering.
    pub(crate) fn close() -> Self {
        Reply {
            status: 0,
            headers: Vec::new(),
            body: Body::Close,
        }
    }

    /// An OAuth error body (RFC 6749 §5.2).
    pub(crate) fn oauth_error(status: u16, error: &str, description: &str) -> Self {
        Reply::json(
            status,
            &serde_json::json!({ "error": error, "error_description": description }),
        )
        .no_store()
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub(crate) fn no_store(self) -> Self {
        self.header("Cache-Control", "no-store")
            .header("Pragma", "no-cache")
    }

    /// Sends the reply for `req`, through tiny_http or, for raw and closing
    /// replies, straight on the relayed client socket.
    fn send(self, req: tiny_http::Request, relay: &Relay) {
        let headers: Vec<tiny_http::Header> = self
            .headers
            .iter()
            .filter_map(|(k, v)| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).ok())
            .collect();
        let status = tiny_http::StatusCode(self.status);
        match self.body {
            Body::Bytes(body) => {
                let len = body.len();
                let resp = tiny_http::Response::new(
                    status,
                    headers,
                    io::Cursor::new(body),
                    Some(len),
                    None,
                )
                .with_chunked_threshold(usize::MAX);
                let _ = req.respond(resp);
            }
            Body::Stream(reader, length) => {
                // A usize holds any length on the 64-bit targets this runs on;
                // a larger one is sent chunked instead.
                let length = length.and_then(|l| usize::try_from(l).ok());
                let resp = tiny_http::Response::new(status, headers, reader, length, None)
                    .with_chunked_threshold(usize::MAX);
                let _ = req.respond(resp);
            }
            Body::Raw(write) => {
                let socket = req.remote_addr().copied().and_then(|a| relay.take(a));
                // tiny_http must not answer this request itself (dropping a
                // request unanswered sends a 500): take its writer and
                // drop it unused; the relay discards anything it would send.
                drop(req.into_writer());
                if let Some(mut socket) = socket {
                    let _ = write(&mut socket).and_then(|()| socket.flush());
                    let _ = socket.shutdown(Shutdown::Both);
                }
            }
            Body::Close => {
                let socket = req.remote_addr().copied().and_then(|a| relay.take(a));
                drop(req.into_writer());
                if let Some(socket) = socket {
                    let _ = socket.shutdown(Shutdown::Both);
                }
            }
        }
    }
}

/// A bound public port and the private tiny_http listener behind it.
pub(crate) struct Server {
    tiny: Arc<tiny_http::Server>,
    front: TcpListener,
    front_addr: SocketAddr,
    relay: Arc<Relay>,
    stopping: Arc<AtomicBool>,
}

/// Handle that stops a running [`Server`].
pub(crate) struct Stopper {
    tiny: Arc<tiny_http::Server>,
    front_addr: SocketAddr,
    stopping: Arc<AtomicBool>,
}

impl Stopper {
    /// Ends both accept loops (the threads returned by [`serve`] then end).
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.tiny.unblock();
        // Wakes the blocking accept() of the relay, which then sees `stopping`.
        let _ = TcpStream::connect(self.front_addr);
    }
}

/// Binds `127.0.0.1:port` (0 = any free port); returns the server and its
/// `http://127.0.0.1:P` base URL.
pub(crate) fn bind(port: u16) -> io::Result<(Server, String)> {
    let front = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind 127.0.0.1:{port}: {e}")))?;
    let front_addr = front.local_addr()?;
    let private = TcpListener::bind(("127.0.0.1", 0))?;
    // tiny_http writes the head and a large body in two writes: with Nagle,
    // the body waits for the delayed ACK of the head (40 ms) on a reused
    // connection. Accepted sockets inherit TCP_NODELAY from the listener.
    #[cfg(unix)]
    let _ = rustix::net::sockopt::set_tcp_nodelay(&private, true);
    let tiny = tiny_http::Server::from_listener(private, None)
        .map_err(|e| io::Error::other(format!("cannot bind a private listener: {e}")))?;
    let url = format!("http://127.0.0.1:{}", front_addr.port());
    Ok((
        Server {
            tiny: Arc::new(tiny),
            front,
            front_addr,
            relay: Arc::new(Relay::default()),
            stopping: Arc::new(AtomicBool::new(false)),
        },
        url,
    ))
}

/// Runs the accept loops on their own threads; each request is read and
/// answered on a fresh thread so that slow requests never block the others.
/// The loops end on [`Stopper::stop`].
pub(crate) fn serve(
    name: &str,
    server: Server,
    shared: Arc<Shared>,
    handler: Handler,
) -> io::Result<(Stopper, Vec<JoinHandle<()>>)> {
    let Server {
        tiny,
        front,
        front_addr,
        relay,
        stopping,
    } = server;
    let inner_addr = tiny
        .server_addr()
        .to_ip()
        .ok_or_else(|| io::Error::other("listener has no IP address"))?;
    let stopper = Stopper {
        tiny: Arc::clone(&tiny),
        front_addr,
        stopping: Arc::clone(&stopping),
    };
    let requests = {
        let relay = Arc::clone(&relay);
        thread::Builder::new()
            .name(format!("testidp-{name}"))
            .spawn(move || {
                for mut req in tiny.incoming_requests() {
                    let shared = Arc::clone(&shared);
                    let relay = Arc::clone(&relay);
                    let spawned =
                        thread::Builder::new()
                            .name("testidp-request".into())
                            .spawn(move || {
                                let recorded = RecordedRequest::read(&mut req);
                                let mut reply = handler(&shared, recorded);
                                if let Some(offset) = shared.behaviour().date_offset {
                                    reply.headers.push(("Date".into(), shifted_date(offset)));
                                }
                                reply.send(req, &relay);
                            });
                    if let Err(e) = spawned {
                        eprintln!("testidp: cannot spawn request thread: {e}");
                    }
                }
            })?
    };
    let relaying = thread::Builder::new()
        .name(format!("testidp-{name}-relay"))
        .spawn(move || {
            for client in front.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if let Err(e) = relay_connection(client, inner_addr, &relay) {
                    eprintln!("testidp: cannot relay a connection: {e}");
                }
            }
        })?;
    Ok((stopper, vec![requests, relaying]))
}

/// An HTTP-date (RFC 9110 §5.6.7) `offset` seconds from now.
fn shifted_date(offset: i64) -> String {
    let now = std::time::SystemTime::now();
    let step = std::time::Duration::from_secs(offset.unsigned_abs());
    let then = if offset >= 0 { now + step } else { now - step };
    httpdate::fmt_http_date(then)
}
