//! The client-authentication step of a token request (RFC 6749 §2.3.1,
//! RFC 7523 §2.2): applied to a built [`FormRequest`] just before it is
//! sent. It adds form parameters or a header and records what it sent, so
//! an echo of it in the server's answer is scrubbed. A DPoP proof (a
//! header) or an mTLS client certificate would be one more step here.

use base64::Engine;

use crate::config::AuthMethod;
use crate::secret::Secret;

use super::grant::JWT_BEARER_ASSERTION;
use super::request::FormRequest;

/// How the client proves who it is.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// A public client: only `client_id` (RFC 8252 §8.4).
    None { client_id: &'a str },
    /// `client_secret_basic`: the pair in an `Authorization: Basic` header.
    Basic {
        client_id: &'a str,
        secret: &'a Secret,
    },
    /// `client_secret_post`: the pair in the form.
    Post {
        client_id: &'a str,
        secret: &'a Secret,
    },
    /// `private_key_jwt` (RFC 7523 §2.2): the assertion authenticates the
    /// client; no secret is sent even when one is configured. Without an
    /// assertion only `client_id` is sent.
    PrivateKeyJwt {
        client_id: &'a str,
        assertion: Option<&'a Secret>,
    },
}

impl<'a> ClientAuth<'a> {
    /// The step for a configured method, secret and assertion.
    pub fn of(
        method: AuthMethod,
        client_id: &'a str,
        secret: Option<&'a Secret>,
        assertion: Option<&'a Secret>,
    ) -> ClientAuth<'a> {
        match (secret, method) {
            (_, AuthMethod::PrivateKeyJwt) => ClientAuth::PrivateKeyJwt {
                client_id,
                assertion,
            },
            (Some(secret), AuthMethod::Basic) => ClientAuth::Basic { client_id, secret },
            (Some(secret), AuthMethod::Post) => ClientAuth::Post { client_id, secret },
            (None, _) => ClientAuth::None { client_id },
        }
    }

    /// Adds the client's credentials to `request`.
    pub fn apply(&self, request: &mut FormRequest<'a>) {
        match *self {
            ClientAuth::None { client_id } => request.form.push(("client_id", client_id)),
            ClientAuth::PrivateKeyJwt {
                client_id,
                assertion,
            } => {
                request.form.push(("client_id", client_id));
                if let Some(assertion) = assertion {
                    request
                        .form
                        .push(("client_assertion_type", JWT_BEARER_ASSERTION));
                    request.form.push(("client_assertion", assertion.expose()));
                    request.echo.push(assertion.clone());
                }
            }
            ClientAuth::Basic { client_id, secret } => {
                let pair = format!(
                    "{}:{}",
                    form_encode(client_id),
                    form_encode(secret.expose())
                );
                let encoded = base64::engine::general_purpose::STANDARD.encode(&pair);
                request
                    .headers
                    .push(("Authorization".to_owned(), format!("Basic {encoded}")));
                // The credential, in every form a server might echo it back.
                request.echo.push(secret.clone());
                request.echo.push(Secret::new(pair));
                request.echo.push(Secret::new(encoded));
            }
            ClientAuth::Post { client_id, secret } => {
                request.form.push(("client_id", client_id));
                request.form.push(("client_secret", secret.expose()));
                request.echo.push(secret.clone());
            }
        }
    }
}

/// RFC 6749 §2.3.1: the Basic pair is form-encoded first.
pub(super) fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
