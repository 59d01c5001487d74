//! The OAuth wire protocol, below the flows: what lmi sends to an
//! authorization server and how it reads the answers, each written once.
//!
//! - `grant`: the grants lmi sends ([`Grant`]) and their form parameters.
//! - `request`: a token request ([`TokenRequest`]) built into a
//!   [`FormRequest`] (form, headers, and what the server might echo back),
//!   and [`send_token_request`], which sends one and reads the answer.
//! - `client_auth`: the client-authentication step ([`ClientAuth`]: Basic,
//!   Post, `private_key_jwt`, or none), applied to a [`FormRequest`] before
//!   it is sent; mTLS would plug in at the same place.
//! - `dpop`: the DPoP step ([`DpopStep`]): a proof on every attempt, the
//!   `use_dpop_nonce` retry, and the bound token type required.
//! - `response`: the token response, checked ([`TokenResponse`]: a
//!   printable token, a supported token type), and the response size bound.
//! - `error`: RFC 6749 §5.2 error bodies ([`parse_error`]), and what went
//!   wrong at a token endpoint ([`GrantError`]).
//! - `device`: the device authorization request (RFC 8628 §3.1–3.2).
//! - `par`: pushed authorization requests (RFC 9126 §2).
//! - `revoke`: token revocation (RFC 7009 §2.1).
//!
//! The use cases sit above: `auth::grants` (service tokens), the SSO
//! session's `idp`, `flow` and `device`. Nothing here logs in a person, reads
//! configuration or decides a hint: callers know which keys configured the
//! request. The parsers take canned bodies, so the protocol is unit-tested
//! without sockets.

pub mod client_auth;
pub mod device;
pub mod dpop;
pub mod error;
pub mod grant;
pub mod par;
pub mod request;
pub mod response;
pub mod revoke;

pub use client_auth::ClientAuth;
pub use device::DeviceAuthorization;
pub use dpop::DpopStep;
pub use error::{parse_error, ErrorBody, GrantError, GrantFailure, OAuthError};
pub use grant::{Grant, ACCESS_TOKEN_TYPE, JWT_BEARER_ASSERTION, TOKEN_EXCHANGE_GRANT};
pub use request::{read_token_answer, send_token_request, FormRequest, TokenRequest};
pub use response::{check_size, parse_token_response, TokenResponse};

#[cfg(test)]
mod dpop_tests;
#[cfg(test)]
mod tests;
