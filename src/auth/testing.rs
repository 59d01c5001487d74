//! Test doubles for the seams: a [`FakeTransport`] that answers from a
//! queue of canned responses and records every request.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use url::Url;

use crate::http::{Payload, Response, StreamingResponse, Transport, TransportError};

/// A request the fake transport received.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Sent {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers requests in order from canned responses; an empty queue is a
/// connection failure.
#[derive(Default)]
pub struct FakeTransport {
    replies: Mutex<VecDeque<Response>>,
    sent: Mutex<Vec<Sent>>,
}

impl FakeTransport {
    /// Queues a JSON response.
    pub fn reply(&self, status: u16, body: &str) {
        self.reply_with(status, &[("content-type", "application/json")], body);
    }

    /// Queues a response with headers.
    pub fn reply_with(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        let response = Response {
            status,
            reason: String::new(),
            version: "HTTP/1.1".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        };
        if let Ok(mut replies) = self.replies.lock() {
            replies.push_back(response);
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Sent> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Transport for FakeTransport {
    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }

    fn send(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, TransportError> {
        self.answer(method, url, headers, body)
    }

    /// The canned response, its body read from memory.
    fn open(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<&Payload>,
    ) -> Result<StreamingResponse, TransportError> {
        let bytes = match body {
            None => None,
            Some(Payload::Bytes(b)) => Some(b.clone()),
            Some(Payload::File(path)) => Some(std::fs::read(path).map_err(|e| TransportError {
                url: url.to_string(),
                timed_out: false,
                detail: e.to_string(),
            })?),
        };
        let r = self.answer(method, url, headers, bytes)?;
        Ok(StreamingResponse {
            status: r.status,
            reason: r.reason,
            version: r.version,
            headers: r.headers,
            body: Box::new(std::io::Cursor::new(r.body)),
        })
    }
}

impl FakeTransport {
    /// Records the request and pops the next canned response.
    fn answer(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, TransportError> {
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(Sent {
                method: method.to_owned(),
                url: url.to_string(),
                headers: headers.to_vec(),
                body: String::from_utf8_lossy(body.as_deref().unwrap_or_default()).into_owned(),
            });
        }
        let next = self.replies.lock().ok().and_then(|mut r| r.pop_front());
        next.ok_or_else(|| TransportError {
            url: url.to_string(),
            timed_out: false,
            detail: "connection refused (no canned response left)".into(),
        })
    }
}
