//! Streamed exchanges: the request body sent from memory or from a file as
//! it is read, the response returned at its head with the body still to
//! read, without limit.

use std::io::{self, Read};
use std::path::PathBuf;
use std::time::Instant;

use ureq::http::{Method, Request};
use url::Url;

use super::{head, header, transport_error, TransportError};

/// A response whose body is read as it arrives.
pub struct StreamingResponse {
    pub status: u16,
    pub reason: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// Unlimited; a read error of kind `TimedOut` is a stall longer than
    /// `HTTP_TIMEOUT`.
    pub body: Box<dyn Read + Send>,
}

impl StreamingResponse {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

impl std::fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// A request body: bytes in memory, or a file opened afresh for each
/// attempt and sent as it is read (with its length as `Content-Length`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// A streamed body whose timeouts surface as `TimedOut` read errors
/// (ureq wraps its own `Timeout` in an `Other` error).
struct BodyReader(ureq::BodyReader<'static>);

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            let timeout = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ureq::Error>())
                .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)));
            if timeout || e.kind() == io::ErrorKind::WouldBlock {
                io::Error::new(io::ErrorKind::TimedOut, e.to_string())
            } else {
                e
            }
        })
    }
}

/// Sends one request on `agent` and returns at the response head.
pub(super) fn open(
    agent: &ureq::Agent,
    method: &str,
    url: &Url,
    headers: &[(String, String)],
    body: Option<&Payload>,
) -> std::result::Result<StreamingResponse, TransportError> {
    let started = Instant::now();
    let shown = crate::redact::request_url(url, headers);
    let plain = |detail: String| TransportError {
        url: shown.clone(),
        timed_out: false,
        detail,
    };
    let method_value = Method::from_bytes(method.as_bytes())
        .map_err(|e| plain(format!("invalid method {method:?}: {e}")))?;
    let mut builder = Request::builder().method(method_value).uri(url.as_str());
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let result = match body {
        None => builder.body(()).map(|req| agent.run(req)),
        Some(Payload::Bytes(bytes)) => builder.body(bytes.as_slice()).map(|req| agent.run(req)),
        Some(Payload::File(path)) => {
            let file = std::fs::File::open(path)
                .map_err(|e| plain(format!("cannot read {}: {e}", path.display())))?;
            builder.body(file).map(|req| agent.run(req))
        }
    };
    let response = result
            .map_err(|e| plain(e.to_string()))?
            .map_err(|err| {
                tracing::debug!(target: "http", "{method} {shown} failed after {} ms: {err}", started.elapsed().as_millis());
                transport_error(&shown, err)
            })?;
    let (status, reason, version, headers) = head(&response);
    tracing::debug!(
        target: "http",
        "{method} {shown} → {status} (head) in {} ms",
        started.elapsed().as_millis()
    );
    let body = response.into_body().into_reader();
    Ok(StreamingResponse {
        status,
        reason,
        version,
        headers,
        body: Box::new(BodyReader(body)),
    })
}
