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

mod streaming;

use std::io;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ureq::http::{Method, Request};
use ureq::tls::{RootCerts, TlsConfig};
use url::Url;

use crate::error::{Error, Result};

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

/// So an [`Error`] can carry it as its cause, shown with `-vv`.
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
        // A server may put the very credential it was sent into a redirect
        // target that becomes this URL: it is scrubbed from what is logged.
        let sent: Vec<crate::secret::Secret> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .filter_map(|(_, v)| v.split_once(' ').map(|(_, c)| c.trim().into()))
            .collect();
        let shown = crate::secret::scrub(&loggable_url(url), &sent.iter().collect::<Vec<_>>());
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

/// The URL as logs show it: query values that may carry secrets redacted.
pub fn loggable_url(url: &Url) -> String {
    let mut shown = url.clone();
    // `https://user:pass@host` carries a credential in the URL itself.
    if !url.username().is_empty() || url.password().is_some() {
        let _ = shown.set_username("[redacted]");
        let _ = shown.set_password(None);
    }
    if url.query().is_none() {
        return shown.to_string();
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let value = if is_sensitive_parameter(&k) {
                "[redacted]".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), value)
        })
        .collect();
    shown.query_pairs_mut().clear().extend_pairs(pairs);
    shown.to_string()
}

/// A URL lmi did not choose (a redirect target) as logs and errors show it:
/// userinfo and every query value redacted, the fragment dropped, since any
/// of them may carry what the server was given.
pub fn loggable_foreign_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_fragment(None);
    if !url.username().is_empty() || url.password().is_some() {
        let _ = shown.set_username("[redacted]");
        let _ = shown.set_password(None);
    }
    if url.query().is_some() {
        let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        shown
            .query_pairs_mut()
            .clear()
            .extend_pairs(names.iter().map(|k| (k.as_str(), "[redacted]")));
    }
    shown.to_string()
}

/// Query parameters that carry codes, tokens, keys or signatures: OAuth's
/// own, API keys, and pre-signed URLs (AWS `X-Amz-*`, Azure `sig`, GCS
/// `X-Goog-*`).
fn is_sensitive_parameter(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "code",
        "user_code",
        "device_code",
        "state",
        "nonce",
        "code_verifier",
        "assertion",
        "client_assertion",
        "password",
        "passwd",
        "key",
        "sig",
        "signature",
        "auth",
        "credential",
    ];
    const PARTS: &[&str] = &[
        "token",
        "secret",
        "apikey",
        "api_key",
        "signature",
        "credential",
        "security",
    ];
    let lower = name.to_ascii_lowercase();
    EXACT.contains(&lower.as_str()) || PARTS.iter().any(|p| lower.contains(p))
}

/// Whether the URL's host is loopback (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        // Only `localhost` itself (SPEC §2): `*.localhost` may be resolved
        // through DNS to anywhere.
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Parses a configured endpoint that will receive a secret, token or code:
/// it must be `https://`, or `http://` on a loopback host (SPEC §2).
pub fn secure_endpoint(key: &str, raw: &str) -> Result<Url> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        Error::config(format!("{key} is not a valid URL ({raw:?}: {e})"))
            .with_hint(format!("set {key} to an absolute https:// URL"))
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Error::config(format!(
            "{key} uses plain http:// on a non-loopback host ({}); lmi sends secrets and tokens only over https",
            url.host_str().unwrap_or_default()
        ))
        .with_hint(format!("change {key} to https://"))),
        other => Err(Error::config(format!("{key} must be an http(s) URL, not {other}://"))),
    }
}

/// An endpoint named by an issuer's metadata. Beyond [`secure_endpoint`]'s
/// rule, an `https://` issuer may not send lmi to plain `http://` (loopback
/// or not): a compromised IdP could otherwise aim secrets, in clear, at
/// another local service.
pub fn discovered_endpoint(field: &str, raw: &str, issuer: &Url) -> Result<Url> {
    let key = format!("{field} (from the metadata of {issuer})");
    let url = secure_endpoint(&key, raw)?;
    if url.scheme() == "http" && issuer.scheme() == "https" {
        return Err(Error::auth(format!(
            "the metadata of {issuer} points {field} at plain http:// ({})",
            loggable_url(&url)
        ))
        .with_hint("an https issuer must name https endpoints; check the IdP's configuration"));
    }
    Ok(url)
}

/// The origin of a URL, as `scheme://host:port`.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert!(secure_endpoint("K", "https://idp.example.com/token").is_ok());
        assert!(secure_endpoint("K", "http://127.0.0.1:8080/token").is_ok());
        assert!(secure_endpoint("K", "http://127.1.2.3/token").is_ok());
        assert!(secure_endpoint("K", "http://[::1]:9/token").is_ok());
        assert!(secure_endpoint("K", "http://localhost/token").is_ok());
        let err = secure_endpoint("K", "http://idp.example.com/token").unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(secure_endpoint("K", "ftp://x/").is_err());
        assert!(secure_endpoint("K", "not a url").is_err());
    }

    #[test]
    fn https_issuers_cannot_name_plain_http_endpoints() {
        let https = Url::parse("https://idp.example").unwrap();
        let local = Url::parse("http://127.0.0.1:9").unwrap();
        assert!(discovered_endpoint("token_endpoint", "https://idp.example/token", &https).is_ok());
        assert_eq!(
            discovered_endpoint("token_endpoint", "http://127.0.0.1:5/t", &https)
                .unwrap_err()
                .exit_code(),
            4
        );
        assert!(discovered_endpoint("token_endpoint", "http://127.0.0.1:9/t", &local).is_ok());
        assert_eq!(
            discovered_endpoint("token_endpoint", "http://evil.example/t", &local)
                .unwrap_err()
                .exit_code(),
            3
        );
        assert!(!is_loopback(&Url::parse("http://evil.localhost/").unwrap()));
    }

    #[test]
    fn logged_urls_hide_codes() {
        let u = Url::parse("http://127.0.0.1:5/callback?code=abc123&state=xyz&x=1").unwrap();
        let shown = loggable_url(&u);
        assert!(!shown.contains("abc123") && !shown.contains("xyz"));
        assert!(shown.contains("x=1"));
        let u = Url::parse(
            "https://u:pw@s3.example/o?X-Amz-Signature=abc&X-Amz-Security-Token=t1&page=2",
        )
        .unwrap();
        let shown = loggable_url(&u);
        assert!(
            !shown.contains("pw") && !shown.contains("abc") && !shown.contains("t1"),
            "{shown}"
        );
        assert!(shown.contains("page=2"));
        let u = Url::parse("https://u:pw@evil.example/p?q=tok1&x=2#at=tok2").unwrap();
        let shown = loggable_foreign_url(&u);
        assert!(
            !shown.contains("tok1") && !shown.contains("tok2") && !shown.contains("pw"),
            "{shown}"
        );
        assert!(shown.contains("evil.example/p?q="), "{shown}");
        let u = Url::parse("https://idp.example/device?user_code=WDJB-MJHT").unwrap();
        assert!(!loggable_url(&u).contains("WDJB"));
    }
}
