//! Pushed authorization requests (RFC 9126 §2): the authorization
//! parameters POSTed to the PAR endpoint, and its answer, a `request_uri`
//! that stands for them in the browser's URL. The `request_uri` is a
//! [`Secret`]: until it expires it is as good as the request it names, so
//! it is never logged. A refusal is an RFC 6749 §5.2 error body, read by
//! `error` as a token endpoint's is.

use serde_json::Value as Json;
use url::Url;

use crate::http::Transport;
use crate::secret::Secret;

use super::error::{parse_error, ErrorBody, GrantFailure};
use super::response::check_size;

/// The PAR endpoint's answer (RFC 9126 §2.2).
#[derive(Debug, Clone)]
pub struct PushedRequest {
    pub request_uri: Secret,
    /// Seconds the `request_uri` stays usable, when the server says.
    pub expires_in: Option<u64>,
    /// The answer's `DPoP-Nonce` header (RFC 9449 §8), for the next proof.
    pub dpop_nonce: Option<String>,
}

/// A push that failed, and the endpoint it concerns.
#[derive(Debug)]
pub struct PushError {
    /// The endpoint as logs show it.
    pub url: String,
    pub failure: Box<GrantFailure>,
    /// The answer's `DPoP-Nonce` header (RFC 9449 §8): with a
    /// `use_dpop_nonce` refusal, the nonce to retry with.
    pub dpop_nonce: Option<String>,
}

impl PushError {
    /// The OAuth `error` code, when the server sent one.
    pub fn oauth_code(&self) -> Option<&str> {
        match self.failure.as_ref() {
            GrantFailure::Refused(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The one-line description of what went wrong, quoting the server.
    pub fn message(&self, timeout: std::time::Duration) -> String {
        let url = &self.url;
        match self.failure.as_ref() {
            GrantFailure::NoEndpoint(e) => e.message().to_owned(),
            GrantFailure::Unreachable { error, .. } => format!(
                "the pushed authorization request to {url} failed: {}",
                error.describe(timeout)
            ),
            GrantFailure::Refused(e) => format!(
                "the IdP refused the pushed authorization request at {url} (HTTP {}): {}",
                e.status,
                e.summary()
            ),
            GrantFailure::Status {
                status,
                reason,
                body,
            } => format!(
                "the PAR endpoint {url} answered HTTP {status} {reason}{}",
                if body.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", body.trim())
                }
            ),
            GrantFailure::Malformed(what) => format!("the PAR endpoint {url} returned {what}"),
            // A push answers no token; this is a token endpoint's failure.
            GrantFailure::NotBound { token_type } => {
                format!("the PAR endpoint {url} answered a {token_type} token")
            }
        }
    }
}

/// POSTs `form` (the authorization request's parameters) with `headers` to
/// the PAR endpoint and reads the answer. `echo` is what the form carries
/// that an error must not quote back.
pub fn push(
    transport: &dyn Transport,
    endpoint: &Url,
    headers: &[(String, String)],
    form: &[(&str, &str)],
    echo: &[&Secret],
) -> std::result::Result<PushedRequest, PushError> {
    let fail = |failure: GrantFailure, dpop_nonce: Option<String>| PushError {
        url: crate::redact::url(endpoint),
        failure: Box::new(failure),
        dpop_nonce,
    };
    let response = transport
        .post_form(endpoint, headers, form)
        .map_err(|error| {
            fail(
                GrantFailure::Unreachable {
                    error,
                    timeout: transport.timeout(),
                },
                None,
            )
        })?;
    let nonce = response.header("DPoP-Nonce").map(str::to_owned);
    match read_push_answer(response.status, &response.reason, &response.body, echo) {
        Ok(pushed) => Ok(PushedRequest {
            dpop_nonce: nonce,
            ..pushed
        }),
        Err(failure) => Err(fail(failure, nonce)),
    }
}

/// Reads a PAR endpoint's answer: `201` (any 2xx) with `request_uri` and
/// `expires_in`, or an OAuth error.
pub fn read_push_answer(
    status: u16,
    reason: &str,
    body: &[u8],
    echo: &[&Secret],
) -> std::result::Result<PushedRequest, GrantFailure> {
    check_size(body).map_err(GrantFailure::Malformed)?;
    if !(200..300).contains(&status) {
        return Err(match parse_error(status, body, echo) {
            ErrorBody::OAuth(e) => GrantFailure::Refused(e),
            ErrorBody::Other(snippet) => GrantFailure::Status {
                status,
                reason: reason.to_owned(),
                body: snippet,
            },
        });
    }
    let bad = |what: &str| GrantFailure::Malformed(what.to_owned());
    let Ok(Json::Object(obj)) = serde_json::from_slice::<Json>(body) else {
        return Err(bad("a response that is not a JSON object"));
    };
    let request_uri = match obj.get("request_uri") {
        // Printable ASCII only: it goes into the URL the browser opens.
        Some(Json::String(s)) if !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b)) => {
            Secret::new(s.clone())
        }
        Some(_) => {
            return Err(bad(
                "a request_uri that is not a non-empty printable string",
            ))
        }
        None => return Err(bad("no request_uri")),
    };
    let expires_in = match obj.get("expires_in") {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(_) => return Err(bad("an expires_in that is not a whole number of seconds")),
    };
    Ok(PushedRequest {
        request_uri,
        expires_in,
        dpop_nonce: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_answer_gives_the_request_uri_and_its_lifetime() {
        let body = br#"{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}"#;
        let pushed = read_push_answer(201, "Created", body, &[]).unwrap();
        assert_eq!(
            pushed.request_uri.expose(),
            "urn:ietf:params:oauth:request_uri:abc"
        );
        assert_eq!(pushed.expires_in, Some(60));
        assert!(!format!("{pushed:?}").contains("abc"));
    }

    #[test]
    fn refusals_and_broken_answers_are_failures() {
        let state = Secret::new("the-state-value");
        let body =
            br#"{"error":"invalid_request","error_description":"bad state the-state-value"}"#;
        let Err(GrantFailure::Refused(e)) = read_push_answer(400, "Bad Request", body, &[&state])
        else {
            panic!("not refused");
        };
        assert_eq!(e.code, "invalid_request");
        let error = PushError {
            url: "https://idp.test/par".into(),
            failure: Box::new(GrantFailure::Refused(e)),
            dpop_nonce: None,
        };
        let message = error.message(std::time::Duration::from_secs(1));
        assert!(message.contains("invalid_request: bad state"), "{message}");
        assert!(!message.contains("the-state-value"), "{message}");
        for (status, body) in [
            (201, &b"{}"[..]),
            (201, br#"{"request_uri":""}"#),
            (201, br#"{"request_uri":"a b"}"#),
            (201, br#"{"request_uri":"x","expires_in":"60"}"#),
            (201, b"<html>"),
        ] {
            assert!(
                matches!(
                    read_push_answer(status, "", body, &[]),
                    Err(GrantFailure::Malformed(_))
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(matches!(
            read_push_answer(500, "Internal Server Error", b"down", &[]),
            Err(GrantFailure::Status { status: 500, .. })
        ));
    }
}
