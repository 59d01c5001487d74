//! A token request (RFC 6749 §3.2): built from a grant and the client's
//! settings into a [`FormRequest`], passed through the client-authentication
//! step, sent through the transport, and its answer read by `response` and
//! `error`.

use url::Url;

use crate::config::AuthMethod;
use crate::http::Transport;
use crate::secret::Secret;

use super::client_auth::ClientAuth;
use super::error::{parse_error, ErrorBody, GrantError, GrantFailure};
use super::grant::Grant;
use super::response::{check_size, parse_token_response, TokenResponse};

/// A token request, as its caller configured it.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    pub token_url: &'a Url,
    pub client_id: &'a str,
    /// `None` for a public client, which sends only `client_id`.
    pub client_secret: Option<&'a Secret>,
    pub auth_method: AuthMethod,
    /// The client assertion of [`AuthMethod::PrivateKeyJwt`], made for this
    /// request.
    pub client_assertion: Option<&'a Secret>,
    pub grant: Grant,
    pub scopes: Option<&'a str>,
    pub audience: Option<&'a str>,
}

impl<'a> TokenRequest<'a> {
    /// The client-authentication step this request is configured for.
    pub fn client_auth(&self) -> ClientAuth<'a> {
        ClientAuth::of(
            self.auth_method,
            self.client_id,
            self.client_secret,
            self.client_assertion,
        )
    }

    /// The form and headers to send, client authentication included.
    pub fn build(&'a self) -> FormRequest<'a> {
        let mut request = FormRequest {
            url: self.token_url,
            form: self.grant.params(),
            headers: Vec::new(),
            // A configured secret is scrubbed even when the method does not
            // send it: a server may quote it from elsewhere.
            echo: self
                .grant
                .secrets()
                .into_iter()
                .chain(self.client_secret)
                .cloned()
                .collect(),
        };
        if let Some(scopes) = self.scopes.filter(|s| !s.trim().is_empty()) {
            request.form.push(("scope", scopes));
        }
        if let Some(audience) = self.audience.filter(|s| !s.trim().is_empty()) {
            request.form.push(("audience", audience));
        }
        self.client_auth().apply(&mut request);
        request
    }
}

/// A form POST about to be sent to an authorization server.
#[derive(Debug)]
pub struct FormRequest<'a> {
    pub url: &'a Url,
    pub form: Vec<(&'static str, &'a str)>,
    pub headers: Vec<(String, String)>,
    /// Everything secret this request carries, in each form a server might
    /// quote it: scrubbed from any answer before it is shown.
    pub echo: Vec<Secret>,
}

impl FormRequest<'_> {
    /// The secrets to scrub from an answer, as `redact::secrets` takes them.
    pub fn echoed(&self) -> Vec<&Secret> {
        self.echo.iter().collect()
    }
}

/// Sends a token request and reads the answer (RFC 6749 §5.1, §5.2).
pub fn send_token_request(
    transport: &dyn Transport,
    req: &TokenRequest<'_>,
) -> std::result::Result<TokenResponse, GrantError> {
    let request = req.build();
    let fail = |failure: GrantFailure| GrantError {
        url: crate::redact::url(req.token_url),
        failure: Box::new(failure),
    };
    let response = transport
        .post_form(request.url, &request.headers, &request.form)
        .map_err(|error| {
            fail(GrantFailure::Unreachable {
                error,
                timeout: transport.timeout(),
            })
        })?;
    read_token_answer(
        response.status,
        &response.reason,
        &response.body,
        &request.echoed(),
    )
    .map_err(fail)
}

/// Reads a token endpoint's answer: tokens, an OAuth error, or trouble.
pub fn read_token_answer(
    status: u16,
    reason: &str,
    body: &[u8],
    echo: &[&Secret],
) -> std::result::Result<TokenResponse, GrantFailure> {
    check_size(body).map_err(GrantFailure::Malformed)?;
    if (200..300).contains(&status) {
        return parse_token_response(body);
    }
    Err(match parse_error(status, body, echo) {
        ErrorBody::OAuth(e) => GrantFailure::Refused(e),
        ErrorBody::Other(snippet) => GrantFailure::Status {
            status,
            reason: reason.to_owned(),
            body: snippet,
        },
    })
}
