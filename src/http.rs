//! HTTP: one agent per invocation, the endpoint rules and origin pinning.
//!
//! - An exchange read in full ([`Transport::send`]: token, discovery, JWKS
//!   and device requests) is bounded by `HTTP_TIMEOUT`, connect to last
//!   byte, and its body by 1 MiB (SPEC §4).
//! - A streamed exchange ([`Transport::open`]: the service call of
//!   `lmi api`) has no size limit; `HTTP_TIMEOUT` bounds connecting, the
//!   wait for the response head, and each read or write after it, so a
//!   long download runs as long as data keeps coming.
//! - Secrets, tokens and codes only go to `https://` endpoints, or to
//!   loopback hosts over plain HTTP (SPEC §2).
//! - Redirects are never followed by the agent: `lmi api` follows
//!   same-origin ones itself so the bearer token stays on its origin.
//! - Proxies (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`; `http://`, `socks5://`
//!   and `socks5h://`) and the system CA store
//!   (`SSL_CERT_FILE`) are honoured through ureq's platform verifier.

mod endpoints;
mod streaming;

use std::io;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ureq::http::{Method, Request};
use ureq::tls::{RootCerts, TlsConfig};
use url::Url;

pub use endpoints::{discovered_endpoint, is_loopback, origin, secure_endpoint};
pub use streaming::{Payload, StreamingResponse};

/// A response, read in full.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why an exchange failed before a response arrived.
#[derive(Debug)]
pub struct TransportError {
    pub url: String,
    pub timed_out: bool,
    pub detail: String,
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.detail, self.url)
    }
}

/// So an [`Error`](crate::error::Error) can carry it as its cause, shown with `-vv`.
impl std::error::Error for TransportError {}

impl TransportError {
    /// `could not reach URL: detail` or `URL did not answer within N s`.
    pub fn describe(&self, timeout: Duration) -> String {
        if self.detail.starts_with(TOO_LARGE) {
            format!("{} sent a {}", self.url, self.detail)
        } else if self.timed_out {
            format!(
                "{} did not answer within {} s (HTTP_TIMEOUT)",
                self.url,
                timeout.as_secs()
            )
        } else if self.detail.contains("certificate") {
            format!(
                "could not reach {}: {} (the server's certificate is not trusted here; for a company CA, set SSL_CERT_FILE to its bundle)",
                self.url, self.detail
            )
        } else {
            format!("could not reach {}: {}", self.url, self.detail)
        }
    }
}

/// The HTTP agent for one invocation.
pub struct Http {
    /// Through the proxy from `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (with
    /// `NO_PROXY`), if any.
    agent: ureq::Agent,
    /// Direct, for loopback hosts: plain-HTTP secrets to `127.0.0.1` must
    /// not travel to a proxy (and would reach the proxy's own loopback
    /// anyway). Go's net/http makes the same exception.
    direct: ureq::Agent,
    /// The same two for streamed exchanges, made on first use.
    streaming: OnceLock<(ureq::Agent, ureq::Agent)>,
    pub timeout: Duration,
}

/// Largest token, discovery, JWKS or device response lmi reads (SPEC §4):
/// real ones are a few kilobytes, and a hostile server must not make lmi
/// hold hundreds of MB. [`Transport::send`] reads at most this much too:
/// only the streamed service call of `lmi api` reads more.
pub const SMALL_BODY_LIMIT: u64 = 1024 * 1024;
const BODY_LIMIT: u64 = SMALL_BODY_LIMIT;

/// How [`TransportError::detail`] starts when a body passed its limit.
pub const TOO_LARGE: &str = "response too large";

/// The HTTP seam: everything that talks to an IdP or a service goes through
/// a `Transport`, so the token and session logic can be tested with canned
/// responses and no sockets.
pub trait Transport: Send + Sync {
    /// The limit for any one exchange (HTTP_TIMEOUT).
    fn timeout(&self) -> Duration;

    /// Sends one request and reads the whole response.
    fn send(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> std::result::Result<Response, TransportError>;

    /// [`Transport::send`], reading at most `limit` bytes of body; a longer
    /// body is an error whose detail starts with [`TOO_LARGE`]. Transports
    /// without a limit of their own (test doubles) use `send`.
    fn send_limited(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
        limit: u64,
    ) -> std::result::Result<Response, TransportError> {
        let _ = limit;
        self.send(method, url, headers, body)
    }

    /// Sends one request and returns once the response head has arrived;
    /// the body is read from the response as it comes, without limit.
    fn open(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<&Payload>,
    ) -> std::result::Result<StreamingResponse, TransportError>;

    /// POSTs a form (`application/x-www-form-urlencoded`), reading at most
    /// [`SMALL_BODY_LIMIT`] of the answer (token endpoints).
    fn post_form(
        &self,
        url: &Url,
        headers: &[(String, String)],
        form: &[(&str, &str)],
    ) -> std::result::Result<Response, TransportError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut all = headers.to_vec();
        all.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        all.push(("Accept".into(), "application/json".into()));
        self.send_limited("POST", url, &all, Some(body.into_bytes()), SMALL_BODY_LIMIT)
    }

    /// GETs a JSON document (discovery, JWKS), reading at most
    /// [`SMALL_BODY_LIMIT`].
    fn get_json(&self, url: &Url) -> std::result::Result<Response, TransportError> {
        self.send_limited(
            "GET",
            url,
            &[("Accept".into(), "application/json".into())],
            None,
            SMALL_BODY_LIMIT,
        )
    }
}

/// An agent that follows no redirect and sees every status as a response.
/// `streaming` swaps the whole-exchange limit for per-phase and per-read
/// ones.
fn agent(timeout: Duration, proxy: Option<ureq::Proxy>, streaming: bool) -> ureq::Agent {
    let config = ureq::Agent::config_builder();
    let config = if streaming {
        config
            .timeout_resolve(Some(timeout))
            .timeout_connect(Some(timeout))
            .timeout_send_request(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_per_read(Some(timeout))
            .timeout_per_write(Some(timeout))
    } else {
        config.timeout_global(Some(timeout))
    };
    config
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(format!("lmi/{}", env!("CARGO_PKG_VERSION")))
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::PlatformVerifier)
                .build(),
        )
        .proxy(proxy)
        .build()
        .into()
}

impl Http {
    pub fn new(timeout: Duration) -> Http {
        Http {
            agent: agent(timeout, ureq::Proxy::try_from_env(), false),
            direct: agent(timeout, None, false),
            streaming: OnceLock::new(),
            timeout,
        }
    }
}

/// The response head as lmi keeps it: status, reason, version, headers.
fn head(
    response: &ureq::http::Response<ureq::Body>,
) -> (u16, String, String, Vec<(String, String)>) {
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    (
        status.as_u16(),
        status.canonical_reason().unwrap_or("").to_owned(),
        format!("{:?}", response.version()),
        headers,
    )
}

/// A ureq error as a [`TransportError`] for `shown`.
fn transport_error(shown: &str, err: ureq::Error) -> TransportError {
    let timed_out = matches!(err, ureq::Error::Timeout(_))
        || matches!(&err, ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut);
    TransportError {
        url: shown.to_owned(),
        timed_out,
        detail: err.to_string(),
    }
}

impl Transport for Http {
    fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends one request and reads the whole response (at most 1 MiB).
    fn send(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> std::result::Result<Response, TransportError> {
        self.send_limited(method, url, headers, body, BODY_LIMIT)
    }

    fn send_limited(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
        limit: u64,
    ) -> std::result::Result<Response, TransportError> {
        let started = Instant::now();
        let shown = crate::redact::request_url(url, headers);
        let fail = |err: ureq::Error| {
            tracing::debug!(target: "http", "{method} {shown} failed after {} ms: {err}", started.elapsed().as_millis());
            let too_large = matches!(err, ureq::Error::BodyExceedsLimit(_));
            let mut error = transport_error(&shown, err);
            if too_large {
                error.detail = format!("{TOO_LARGE} (more than {limit} bytes)");
            }
            error
        };
        let method_value = Method::from_bytes(method.as_bytes()).map_err(|e| TransportError {
            url: shown.clone(),
            timed_out: false,
            detail: format!("invalid method {method:?}: {e}"),
        })?;
        let mut builder = Request::builder().method(method_value).uri(url.as_str());
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let agent = if is_loopback(url) {
            &self.direct
        } else {
            &self.agent
        };
        let result = match body {
            Some(bytes) => builder.body(bytes).map(|req| agent.run(req)),
            None => builder.body(()).map(|req| agent.run(req)),
        };
        let response = match result {
            Ok(r) => r.map_err(fail)?,
            Err(e) => {
                return Err(TransportError {
                    url: shown,
                    timed_out: false,
                    detail: e.to_string(),
                })
            }
        };
        let (status, reason, version, headers_out) = head(&response);
        let (_, mut body) = response.into_parts();
        let body = body
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(fail)?;
        tracing::debug!(
            target: "http",
            "{method} {shown} → {status} ({} bytes) in {} ms",
            body.len(),
            started.elapsed().as_millis()
        );
        Ok(Response {
            status,
            reason,
            version,
            headers: headers_out,
            body,
        })
    }

    fn open(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<&Payload>,
    ) -> std::result::Result<StreamingResponse, TransportError> {
        let (proxied, direct) = self.streaming.get_or_init(|| {
            (
                agent(self.timeout, ureq::Proxy::try_from_env(), true),
                agent(self.timeout, None, true),
            )
        });
        let agent = if is_loopback(url) { direct } else { proxied };
        streaming::open(agent, method, url, headers, body)
    }
}
