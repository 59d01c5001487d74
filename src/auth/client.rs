//! The authenticated client: every request that carries the environment's
//! token goes through [`Client::send`] (`lmi api` today, and every later
//! path that hands the token to a service).
//!
//! - The token goes out as `Authorization: Bearer` (RFC 6750 §2.1), only to
//!   the origin of `API_BASE_URL` or one in `API_ALLOWED_ORIGINS`.
//! - The HTTP agent follows no redirect; same-origin redirects are followed
//!   here by hand (at most [`MAX_REDIRECTS`]), so the token cannot leak to
//!   another origin, and a redirect elsewhere is refused with nothing sent.
//! - A DPoP token (SPEC §4.3) goes as `Authorization: DPoP` with a fresh
//!   proof for each request, retry and redirect; a 401 asking for a DPoP
//!   nonce gets one more attempt with it, the token kept.
//! - A 401 discards the token (only if the cache still holds it), gets
//!   another and retries exactly once (RFC 6750 §3.1). It is decided from
//!   the status line: the 401's body is dropped unread, never shown.
//! - The response body is not read here: the caller streams it from
//!   [`RoundTrip::response`], in bounded memory and without size limit.

use url::Url;

use crate::auth::dpop;
use crate::auth::service::Tokens;
use crate::config::ApiConfig;
use crate::error::{Error, Result};
use crate::http::{origin, Payload, StreamingResponse, Transport};
use crate::redact;
use crate::secret::Secret;

/// Same-origin redirects followed before giving up (a loop ends here too).
pub const MAX_REDIRECTS: usize = 5;

/// One request, ready to send (without `Authorization`, added per attempt).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Payload>,
}

/// What came of a request: the last request sent, its response (the body
/// still to be read), and the token it carried (to scrub from what the
/// server says).
pub struct RoundTrip {
    pub request: Request,
    pub response: StreamingResponse,
    pub token: Secret,
    /// A redirect to another origin that was not followed: the response
    /// is the redirect itself, and this is the error to end with.
    pub refused_redirect: Option<Error>,
}

impl RoundTrip {
    /// The error a final status means: a 401 after the retry is an
    /// authentication error, any other non-2xx a service error.
    pub fn status_error(&self) -> Option<Error> {
        let url = redact::url(&self.request.url);
        let method = &self.request.method;
        match self.response.status {
            200..=299 => None,
            // Only a retried request can end on a 401 (see `Client::send`).
            401 => Some(Error::auth(format!(
                "{method} {url} answered HTTP 401 again after a new token{}",
                challenge_summary(self.response.header("www-authenticate"), &self.token)
            ))
            .with_hint(
                "the service does not accept this environment's token; check OAUTH_SCOPES, OAUTH_AUDIENCE and the client's permissions",
            )),
            status => Some(Error::service(
                format!("{method} {url} answered HTTP {status} {}", self.response.reason)
                    .trim_end()
                    .to_owned(),
            )),
        }
    }
}

/// Sends requests with the environment's token.
pub struct Client<'a> {
    api: &'a ApiConfig,
    auth: &'a dyn Tokens,
    transport: &'a dyn Transport,
}

impl<'a> Client<'a> {
    pub fn new(
        api: &'a ApiConfig,
        auth: &'a dyn Tokens,
        transport: &'a dyn Transport,
    ) -> Client<'a> {
        Client {
            api,
            auth,
            transport,
        }
    }

    /// Sends the request with the token, following same-origin redirects and
    /// retrying once after a 401. Returns the last request, its response and the
    /// token it carried (to scrub from what the server says).
    pub fn send(&self, mut request: Request) -> Result<RoundTrip> {
        if !self.api.allows(&request.url) {
            return Err(Error::usage(format!(
                "{} is not the service's origin; lmi sends the token only to API_BASE_URL's origin and API_ALLOWED_ORIGINS",
                origin(&request.url)
            )));
        }
        let http = self.transport;
        let (mut token, _) = self.auth.token()?;
        let mut retried = false;
        let mut nonce_retried = false;
        let mut redirects = 0;
        loop {
            let mut headers = request.headers.clone();
            headers.push((
                "Authorization".into(),
                authorization(&token.token_type, &token.access_token),
            ));
            // DPoP (SPEC §4.3): a fresh proof for this method and URL, on
            // every attempt, retry and redirect.
            if let Some(proof) = self.auth.proof(&request.method, &request.url, &token)? {
                headers.push((dpop::PROOF_HEADER.into(), proof.expose().to_owned()));
            }
            let response = http
                .open(
                    &request.method,
                    &request.url,
                    &headers,
                    request.body.as_ref(),
                )
                .map_err(|e| {
                    Error::service(e.describe(http.timeout()))
                        .with_hint(
                            "check API_BASE_URL and your network; HTTP_TIMEOUT sets how long lmi waits",
                        )
                        .with_cause(e)
                })?;

            let learned = self.auth.observe(&request.url, &response.headers);
            // RFC 9449 §9: the service wants a nonce. One more attempt with
            // it, keeping the token: this is not the 401 retry below.
            if response.status == 401
                && !nonce_retried
                && dpop::is_dpop(&token.token_type)
                && asks_for_nonce(&response.headers)
                && (learned || response.header(dpop::NONCE_HEADER).is_some())
            {
                nonce_retried = true;
                tracing::debug!(target: "api", "{} {} asked for a DPoP nonce; sending it again with one", request.method, shown(&request.url, &token.access_token));
                drop(response);
                continue;
            }

            // RFC 6750 §3.1: invalid_token means "get a new one". Another run may
            // already have replaced the cached token; `discard` keeps that one.
            if response.status == 401 && !retried {
                retried = true;
                tracing::info!(
                    target: "api",
                    "{} {} answered 401{}; retrying once with a new token",
                    request.method,
                    shown(&request.url, &token.access_token),
                    challenge_summary(response.header("www-authenticate"), &token.access_token)
                );
                // The body is dropped unread (the connection with it): it
                // belongs to the refused token and is never shown.
                drop(response);
                self.auth.discard(&token.access_token)?;
                token = self.auth.token()?.0;
                // The new token may meet a nonce challenge of its own.
                nonce_retried = false;
                continue;
            }

            // Other 3xx (300, 304) and a redirect without Location are final.
            let location = match (response.status, response.header("location")) {
                (301 | 302 | 303 | 307 | 308, Some(location)) => location.to_owned(),
                _ => {
                    return Ok(RoundTrip {
                        request,
                        response,
                        token: token.access_token,
                        refused_redirect: None,
                    })
                }
            };
            let next = request.url.join(&location).map_err(|e| {
                Error::service(format!(
                    "{} {} redirected to an invalid location {:?}: {e}",
                    request.method,
                    shown(&request.url, &token.access_token),
                    redact::server_text(
                        &location.chars().take(200).collect::<String>(),
                        &[&token.access_token]
                    )
                ))
            })?;
            if origin(&next) != origin(&request.url) {
                // Nothing is sent there: the token belongs to this origin only.
                let refused = Error::service(format!(
                    "{} {} redirected to {}, another origin; not followed, so the token stays on {}",
                    request.method,
                    shown(&request.url, &token.access_token),
                    redact::server_text(&redact::foreign_url(&next), &[&token.access_token]),
                    origin(&request.url)
                ))
                .with_hint(format!(
                    "if that service should get the token, add {} to API_ALLOWED_ORIGINS and call it directly",
                    origin(&next)
                ));
                return Ok(RoundTrip {
                    request,
                    response,
                    token: token.access_token,
                    refused_redirect: Some(refused),
                });
            }
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(Error::service(format!(
                    "{} {} redirected more than {MAX_REDIRECTS} times; giving up (a redirect loop?)",
                    request.method,
                    shown(&request.url, &token.access_token)
                )));
            }
            tracing::debug!(
                target: "api",
                "following HTTP {} redirect to {}",
                response.status,
                shown(&next, &token.access_token)
            );
            let status = response.status;
            drop(response);
            request = redirected(request, status, next);
        }
    }
}

/// Whether any `WWW-Authenticate` challenge asks for a DPoP nonce.
fn asks_for_nonce(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
        .any(|(_, v)| dpop::asks_for_nonce(v))
}

/// A URL of this exchange as messages show it: [`crate::redact::url`], and the
/// token scrubbed in case a server put it into a redirect target.
fn shown(url: &Url, token: &Secret) -> String {
    redact::server_text(&redact::url(url), &[token])
}

/// `Authorization: <type> <token>`; `Bearer` in its registered spelling for
/// any case of bearer or a missing type (RFC 6750 §4, §6.1.1).
fn authorization(token_type: &str, token: &Secret) -> String {
    let scheme = match token_type.trim() {
        t if t.is_empty() || t.eq_ignore_ascii_case("bearer") => "Bearer",
        t => t,
    };
    format!("{scheme} {}", token.expose())
}

/// The request after a redirect: 303, and 301/302 after a POST, become a GET
/// without body or content headers, as browsers and `curl -L` do (RFC 9110
/// §15.4.2–4, Fetch "HTTP-redirect fetch"); 307/308 repeat the request.
fn redirected(mut request: Request, status: u16, next: Url) -> Request {
    let to_get = match status {
        303 => request.method != "GET" && request.method != "HEAD",
        301 | 302 => request.method == "POST",
        _ => false,
    };
    if to_get {
        request.method = "GET".into();
        request.body = None;
        request
            .headers
            .retain(|(k, _)| !k.to_ascii_lowercase().starts_with("content-"));
    }
    request.url = next;
    request
}

/// `: error "invalid_token" (description)` from a `WWW-Authenticate` value
/// (RFC 6750 §3), or nothing when the server gave no error. The token is
/// scrubbed in case the server echoes it.
pub fn challenge_summary(header: Option<&str>, token: &Secret) -> String {
    let Some(header) = header else {
        return String::new();
    };
    let params = auth_params(header);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let summary = match (get("error"), get("error_description")) {
        (Some(e), Some(d)) => format!(": error {e:?} ({d})"),
        (Some(e), None) => format!(": error {e:?}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    };
    redact::server_text(&summary, &[token])
}

/// The `name=value` auth-params of a challenge (RFC 9110 §11.2), values
/// unquoted; schemes and token68 values are skipped.
fn auth_params(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = header.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != ',' && *c != '=') {
            name.push(c);
        }
        if name.is_empty() && chars.peek().is_none() {
            return out;
        }
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        // `abc==` is a token68 credential, not a parameter.
        if chars.peek() == Some(&'=') {
            while chars.next_if_eq(&'=').is_some() {}
            continue;
        }
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != ',') {
                value.push(c);
            }
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::testing::env_name;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn redirects_change_the_method_like_browsers() {
        let req = |m: &str| Request {
            method: m.into(),
            url: url("https://h/a"),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Accept".into(), "application/json".into()),
            ],
            body: Some(Payload::Bytes(b"{}".to_vec())),
        };
        let next = url("https://h/b");
        for (status, from, to, body) in [
            (301, "POST", "GET", false),
            (302, "POST", "GET", false),
            (303, "POST", "GET", false),
            (303, "PUT", "GET", false),
            (302, "PUT", "PUT", true),
            (307, "POST", "POST", true),
            (308, "PUT", "PUT", true),
        ] {
            let r = redirected(req(from), status, next.clone());
            assert_eq!(r.method, to, "{status} {from}");
            assert_eq!(r.body.is_some(), body, "{status} {from}");
            assert_eq!(r.headers.len(), if body { 2 } else { 1 });
            assert_eq!(r.url, next);
        }
    }

    #[test]
    fn authorization_scheme() {
        let t = Secret::new("tok");
        assert_eq!(authorization("bearer", &t), "Bearer tok");
        assert_eq!(authorization("BEARER", &t), "Bearer tok");
        assert_eq!(authorization("", &t), "Bearer tok");
        assert_eq!(authorization("DPoP", &t), "DPoP tok");
    }

    #[test]
    fn challenge_params() {
        let params = auth_params(
            r#"Bearer realm="api", error="invalid_token", error_description="The token \"x\" expired", scope=read"#,
        );
        assert_eq!(
            params,
            vec![
                ("realm".to_owned(), "api".to_owned()),
                ("error".to_owned(), "invalid_token".to_owned()),
                (
                    "error_description".to_owned(),
                    "The token \"x\" expired".to_owned()
                ),
                ("scope".to_owned(), "read".to_owned()),
            ]
        );
        assert!(auth_params("Basic").is_empty());
        assert!(auth_params("").is_empty());
        assert_eq!(auth_params("Negotiate abc==, Bearer error=x").len(), 1);
    }

    mod flows {
        use super::*;
        use crate::auth::cache::{Lookup, TokenCache};
        use crate::auth::service::ServiceAuth;
        use crate::auth::testing::FakeTransport;
        use crate::clock::FixedClock;
        use crate::config::ServiceConfig;

        fn service() -> ServiceConfig {
            crate::auth::testing::service_config(0)
        }

        fn token(access: &str) -> String {
            format!(r#"{{"access_token":"{access}","token_type":"bearer","expires_in":300}}"#)
        }

        fn get(path: &str) -> Request {
            Request {
                method: "GET".into(),
                url: url(&format!("http://127.0.0.1:8{path}")),
                headers: Vec::new(),
                body: None,
            }
        }

        #[test]
        fn a_401_discards_reacquires_and_retries_once() {
            let dir = tempfile::tempdir().unwrap();
            let cache = TokenCache::new(dir.path().join("tokens"));
            let (cfg, clock, t) = (service(), FixedClock::at(1_000), FakeTransport::default());
            let api = ApiConfig::for_base(url("http://127.0.0.1:8/v1"));
            t.reply(200, &token("tok-1"));
            t.reply_with(
                401,
                &[("www-authenticate", r#"Bearer error="invalid_token""#)],
                "",
            );
            t.reply(200, &token("tok-2"));
            t.reply(200, r#"{"ok":true}"#);
            let auth = ServiceAuth::new(&cfg, &cache, &t, &clock);
            let exchange = Client::new(&api, &auth, &t).send(get("/v1/x")).unwrap();
            assert_eq!(exchange.response.status, 200);
            assert!(exchange.status_error().is_none());
            let sent = t.requests();
            let auths: Vec<Option<&str>> = sent.iter().map(|s| s.header("authorization")).collect();
            assert_eq!(auths[1], Some("Bearer tok-1"));
            assert_eq!(auths[3], Some("Bearer tok-2"));
            assert_eq!(
                sent.len(),
                4,
                "one token, one call, one new token, one retry"
            );
            let methods: Vec<&str> = sent.iter().map(|s| s.method.as_str()).collect();
            assert_eq!(methods, ["POST", "GET", "POST", "GET"]);
            match cache.read(&env_name("dev")) {
                Lookup::Found(t) => assert_eq!(t.access_token.expose(), "tok-2"),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn a_second_401_is_an_authentication_error() {
            let dir = tempfile::tempdir().unwrap();
            let cache = TokenCache::new(dir.path().join("tokens"));
            let (cfg, clock, t) = (service(), FixedClock::at(1_000), FakeTransport::default());
            let api = ApiConfig::for_base(url("http://127.0.0.1:8/v1"));
            t.reply(200, &token("tok-1"));
            t.reply(401, "");
            t.reply(200, &token("tok-2"));
            t.reply_with(
                401,
                &[(
                    "www-authenticate",
                    r#"Bearer error="insufficient_scope", error_description="tok-2 lacks read""#,
                )],
                "",
            );
            let auth = ServiceAuth::new(&cfg, &cache, &t, &clock);
            let exchange = Client::new(&api, &auth, &t).send(get("/v1/x")).unwrap();
            let err = exchange.status_error().unwrap();
            assert_eq!(err.exit_code(), 4);
            assert!(
                err.message().contains("insufficient_scope"),
                "{}",
                err.message()
            );
            assert!(
                !err.message().contains("tok-2"),
                "the token is scrubbed: {}",
                err.message()
            );
            assert_eq!(t.requests().len(), 4, "no third attempt");
        }

        #[test]
        fn a_redirect_to_another_origin_is_not_followed() {
            let dir = tempfile::tempdir().unwrap();
            let cache = TokenCache::new(dir.path().join("tokens"));
            let (cfg, clock, t) = (service(), FixedClock::at(1_000), FakeTransport::default());
            let api = ApiConfig::for_base(url("http://127.0.0.1:8/v1"));
            t.reply(200, &token("tok-1"));
            t.reply_with(302, &[("location", "http://127.0.0.1:7/steal")], "");
            let auth = ServiceAuth::new(&cfg, &cache, &t, &clock);
            let exchange = Client::new(&api, &auth, &t).send(get("/v1/x")).unwrap();
            let refused = exchange.refused_redirect.unwrap();
            assert_eq!(refused.exit_code(), 5);
            assert!(t.requests().iter().all(|s| !s.url.contains(":7/")));
        }

        #[test]
        fn a_foreign_origin_gets_no_request_at_all() {
            let dir = tempfile::tempdir().unwrap();
            let cache = TokenCache::new(dir.path().join("tokens"));
            let (cfg, clock, t) = (service(), FixedClock::at(1_000), FakeTransport::default());
            let api = ApiConfig::for_base(url("http://127.0.0.1:8/v1"));
            let auth = ServiceAuth::new(&cfg, &cache, &t, &clock);
            let mut req = get("/v1/x");
            req.url = url("http://127.0.0.1:7/x");
            let err = Client::new(&api, &auth, &t).send(req).err().unwrap();
            assert_eq!(err.exit_code(), 2);
            assert!(t.requests().is_empty(), "not even a token request");
        }
    }
}
