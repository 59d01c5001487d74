//! A token request (RFC 6749 §3.2): built from a grant and the client's
//! settings into a [`FormRequest`], passed through the client-authentication
//! step, sent through the transport, and its answer read by `response` and
//! `error`.

use url::Url;

use crate::config::AuthMethod;
use crate::http::Transport;
use crate::secret::Secret;

use super::client_auth::ClientAuth;
use super::dpop::{self, DpopStep};
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
    /// The DPoP key that binds the token (RFC 9449), when there is one.
    pub dpop: Option<DpopStep<'a>>,
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

/// Sends a token request and reads the answer (RFC 6749 §5.1, §5.2). With
/// DPoP, each attempt carries a fresh proof, every `DPoP-Nonce` answered is
/// learned, and a `use_dpop_nonce` refusal gets exactly one more attempt
/// (RFC 9449 §8): a second one in a row is the error.
pub fn send_token_request(
    transport: &dyn Transport,
    req: &TokenRequest<'_>,
) -> std::result::Result<TokenResponse, GrantError> {
    let fail = |failure: GrantFailure| GrantError {
        url: crate::redact::url(req.token_url),
        failure: Box::new(failure),
    };
    let mut nonce_retried = false;
    loop {
        let mut request = req.build();
        if let Some(step) = &req.dpop {
            step.apply(&mut request)
                .map_err(|e| fail(GrantFailure::NoEndpoint(e)))?;
        }
        let response = transport
            .post_form(request.url, &request.headers, &request.form)
            .map_err(|error| {
                fail(GrantFailure::Unreachable {
                    error,
                    timeout: transport.timeout(),
                })
            })?;
        let learned = req
            .dpop
            .is_some_and(|step| step.prover.observe(request.url, &response.headers));
        let answer = read_token_answer(
            response.status,
            &response.reason,
            &response.body,
            &request.echoed(),
        );
        match answer {
            Err(failure)
                if req.dpop.is_some()
                    && dpop::wants_nonce(&failure)
                    && !nonce_retried
                    && (learned || response.header(crate::auth::dpop::NONCE_HEADER).is_some()) =>
            {
                tracing::debug!(target: "auth", "the token endpoint asked for a DPoP nonce; sending the request again with it");
                nonce_retried = true;
            }
            Err(failure) => return Err(fail(failure)),
            Ok(tokens) => {
                return dpop::check_token_type(tokens, req.dpop.is_some()).map_err(fail);
            }
        }
    }
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
