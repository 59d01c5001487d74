//! HTTP plumbing on top of `tiny_http`: binding a loopback listener, the
//! accept loop that hands every request to its own thread, and [`Reply`], the
//! response value the handlers return.

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use serde_json::Value;

use crate::record::RecordedRequest;
use crate::state::Shared;

/// A request handler of one of the servers.
pub(crate) type Handler = fn(&Arc<Shared>, RecordedRequest) -> Reply;

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: &Value) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub(crate) fn text(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub(crate) fn html(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub(crate) fn redirect(location: &str) -> Self {
        Reply {
            status: 302,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
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

    fn into_response(self) -> tiny_http::Response<io::Cursor<Vec<u8>>> {
        let mut resp = tiny_http::Response::from_data(self.body).with_status_code(self.status);
        for (k, v) in self.headers {
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                resp.add_header(h);
            }
        }
        resp
    }
}

/// Binds `127.0.0.1:port` (0 = any free port); returns the server and its
/// `http://127.0.0.1:P` base URL.
pub(crate) fn bind(port: u16) -> io::Result<(Arc<tiny_http::Server>, String)> {
    let server = tiny_http::Server::http(("127.0.0.1", port))
        .map_err(|e| io::Error::other(format!("cannot bind 127.0.0.1:{port}: {e}")))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .ok_or_else(|| io::Error::other("listener has no IP address"))?;
    Ok((Arc::new(server), format!("http://127.0.0.1:{port}")))
}

/// Runs the accept loop on its own thread; each request is read and answered
/// on a fresh thread so that slow requests never block the others. The loop
/// ends when `server.unblock()` is called.
pub(crate) fn serve(
    name: &str,
    server: Arc<tiny_http::Server>,
    shared: Arc<Shared>,
    handler: Handler,
) -> JoinHandle<()> {
    thread::Builder::new()
        .name(format!("testidp-{name}"))
        .spawn(move || {
            for mut req in server.incoming_requests() {
                let shared = Arc::clone(&shared);
                let spawned =
                    thread::Builder::new()
                        .name("testidp-request".into())
                        .spawn(move || {
                            let recorded = RecordedRequest::read(&mut req);
                            let mut reply = handler(&shared, recorded);
                            if let Some(offset) = shared.behaviour().date_offset {
                                reply.headers.push(("Date".into(), shifted_date(offset)));
                            }
                            let _ = req.respond(reply.into_response());
                        });
                if let Err(e) = spawned {
                    eprintln!("testidp: cannot spawn request thread: {e}");
                }
            }
        })
        .expect("spawn accept thread")
}

/// An HTTP-date (RFC 9110 §5.6.7) `offset` seconds from now.
fn shifted_date(offset: i64) -> String {
    let now = std::time::SystemTime::now();
    let step = std::time::Duration::from_secs(offset.unsigned_abs());
    let then = if offset >= 0 { now + step } else { now - step };
    httpdate::fmt_http_date(then)
}
