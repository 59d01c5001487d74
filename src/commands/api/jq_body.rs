//! The response body as `--jq` reads it: a reader that keeps the body's
//! first bytes, and the errors that quote them (scrubbed) when the body
//! breaks off or is not JSON.

use std::io::{self, BufRead, Read};

use crate::error::Error;
use crate::redact;
use crate::secret::Secret;

/// Bytes of a body that is not JSON shown in the error.
const SHOWN_BYTES: usize = 120;

/// A reader that keeps the first [`SHOWN_BYTES`] bytes it passed on, to
/// show the start of a body that turns out not to be JSON.
pub(super) struct Recorded<R> {
    inner: R,
    start: Vec<u8>,
}

impl<R: BufRead> Recorded<R> {
    pub(super) fn new(inner: R) -> Self {
        Recorded {
            inner,
            start: Vec::with_capacity(SHOWN_BYTES),
        }
    }
}

impl<R: BufRead> Recorded<R> {
    /// The body's first bytes: those read, then those still buffered.
    pub(super) fn shown(&mut self) -> Vec<u8> {
        let mut start = std::mem::take(&mut self.start);
        if let Ok(buf) = self.inner.fill_buf() {
            let more = buf.len().min(SHOWN_BYTES.saturating_sub(start.len()));
            start.extend_from_slice(&buf[..more]);
        }
        start
    }
}

impl<R: BufRead> Read for Recorded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let got = self.fill_buf()?;
            let n = got.len().min(buf.len());
            buf[..n].copy_from_slice(&got[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Recorded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        if self.start.len() < SHOWN_BYTES {
            if let Ok(buf) = self.inner.fill_buf() {
                let take = n.min(buf.len()).min(SHOWN_BYTES - self.start.len());
                self.start.extend_from_slice(&buf[..take]);
            }
        }
        self.inner.consume(n);
    }
}

pub(super) fn read_error(what: &str, e: io::Error) -> Error {
    Error::service(format!("{what}: reading the body failed: {e}")).with_cause(e)
}

/// The body is not JSON: where, and its first bytes, scrubbed.
pub(super) fn not_json(what: &str, start: &[u8], e: &serde_json::Error, token: &Secret) -> Error {
    let text = String::from_utf8_lossy(start);
    let shown = redact::server_text(text.trim(), &[token]);
    let at = match e.line() {
        0 => format!(" ({e})"),
        line => format!(" at line {line}, column {}", e.column()),
    };
    Error::service(format!(
        "{what}: --jq needs a JSON body, but it is not JSON{at}; it starts with {shown:?}"
    ))
    .with_hint("leave --jq out to see the body as it is")
}
