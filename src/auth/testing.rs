//! Test doubles for the seams: a [`FakeTransport`] that answers from canned
//! responses (in order, or by URL) and records every request, and a service
//! configuration to test with.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value as Json;
use url::Url;

use crate::config::{AuthMethod, Endpoint, EnvName, GrantKind, ServiceConfig};
use crate::http::{Payload, Response, StreamingResponse, Transport, TransportError};
use crate::secret::Secret;

/// A valid environment name for tests.
pub fn env_name(name: &str) -> EnvName {
    EnvName::checked(name).unwrap_or_else(|| unreachable!())
}

/// Environment `dev`: client credentials for `cli` (secret `s3cret`) at an
/// explicit loopback token URL, with `skew` seconds of expiry skew.
pub fn service_config(skew: i64) -> ServiceConfig {
    ServiceConfig {
        environment: EnvName::checked("dev").unwrap_or_else(|| unreachable!()),
        grant: GrantKind::ClientCredentials,
        client_id: "cli".into(),
        client_secret: Some(Secret::new("s3cret")),
        auth_method: AuthMethod::Basic,
        assertion: None,
        subject: None,
        endpoint: Endpoint::Explicit(
            Url::parse("http://127.0.0.1:9/token").unwrap_or_else(|_| unreachable!()),
        ),
        scopes: None,
        audience: None,
        username: None,
        password: None,
        skew,
        timeout: Duration::from_secs(5),
        require_sso: false,
        exchange_origins: Vec::new(),
        dpop: false,
    }
}

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

    /// A field of a form-encoded body.
    pub fn field(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

fn json_response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response {
        status,
        reason: String::new(),
        version: "HTTP/1.1".into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

/// Answers by URL where a route was given ([`FakeTransport::answer`]: the
/// last answer of a route repeats), else in order from a queue
/// ([`FakeTransport::reply`]); with neither, 404 when some routes exist,
/// else the connection fails.
#[derive(Default)]
pub struct FakeTransport {
    replies: Mutex<VecDeque<Response>>,
    routes: Mutex<Vec<(String, VecDeque<Response>)>>,
    sent: Mutex<Vec<Sent>>,
}

impl FakeTransport {
    /// Queues a JSON response.
    pub fn reply(&self, status: u16, body: &str) {
        self.reply_with(status, &[("content-type", "application/json")], body);
    }

    /// Queues a response with headers.
    pub fn reply_with(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        if let Ok(mut replies) = self.replies.lock() {
            replies.push_back(json_response(status, headers, body));
        }
    }

    /// Adds `body` with `status` to the answers at `url`.
    pub fn answer(&self, url: &str, status: u16, body: Json) -> &FakeTransport {
        let response = json_response(
            status,
            &[("content-type", "application/json")],
            &body.to_string(),
        );
        if let Ok(mut routes) = self.routes.lock() {
            match routes.iter_mut().find(|(u, _)| u == url) {
                Some((_, queue)) => queue.push_back(response),
                None => routes.push((url.to_owned(), VecDeque::from([response]))),
            }
        }
        self
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Sent> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The requests sent to `url`.
    pub fn requests_to(&self, url: &str) -> Vec<Sent> {
        self.requests()
            .into_iter()
            .filter(|s| s.url == url)
            .collect()
    }

    fn routed(&self, url: &Url) -> Option<Response> {
        let mut routes = self.routes.lock().ok()?;
        let (_, queue) = routes.iter_mut().find(|(u, _)| u == url.as_str())?;
        if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        }
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
        self.respond(method, url, headers, body)
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
        let r = self.respond(method, url, headers, bytes)?;
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
    /// Records the request and finds its canned response.
    fn respond(
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
        if let Some(response) = self.routed(url) {
            return Ok(response);
        }
        let next = self.replies.lock().ok().and_then(|mut r| r.pop_front());
        let routed_only = self.routes.lock().is_ok_and(|r| !r.is_empty());
        if next.is_none() && routed_only {
            // A server that knows some paths answers others with 404.
            return Ok(json_response(404, &[], "{}"));
        }
        next.ok_or_else(|| TransportError {
            url: url.to_string(),
            timed_out: false,
            detail: "connection refused (no canned response left)".into(),
        })
    }
}
