//! The grants lmi sends to a token endpoint (RFC 6749 §4.1.3, §4.3, §4.4,
//! §6; RFC 8628 §3.4; RFC 8693 §2.1) and the form parameters of each.

use crate::secret::Secret;

/// `grant_type` of the token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `grant_type` of a device-code poll (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The token type lmi asks a token exchange for (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The grant to send.
#[derive(Debug, Clone)]
pub enum Grant {
    ClientCredentials,
    Password {
        username: String,
        password: Secret,
    },
    RefreshToken(Secret),
    AuthorizationCode {
        code: Secret,
        verifier: Secret,
        redirect_uri: String,
    },
    /// A device-code poll (RFC 8628 §3.4).
    DeviceCode(Secret),
    /// RFC 8693 §2.1: another token, exchanged for an access token.
    TokenExchange {
        subject_token: Secret,
        subject_token_type: String,
    },
}

impl Grant {
    /// The `grant_type` parameter.
    pub fn name(&self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::Password { .. } => "password",
            Grant::RefreshToken(_) => "refresh_token",
            Grant::AuthorizationCode { .. } => "authorization_code",
            Grant::DeviceCode(_) => DEVICE_CODE_GRANT,
            Grant::TokenExchange { .. } => TOKEN_EXCHANGE_GRANT,
        }
    }

    /// The form parameters, `grant_type` first.
    pub fn params(&self) -> Vec<(&'static str, &str)> {
        let mut form = vec![("grant_type", self.name())];
        match self {
            Grant::ClientCredentials => {}
            Grant::Password { username, password } => {
                form.push(("username", username));
                form.push(("password", password.expose()));
            }
            Grant::RefreshToken(token) => form.push(("refresh_token", token.expose())),
            Grant::AuthorizationCode {
                code,
                verifier,
                redirect_uri,
            } => {
                form.push(("code", code.expose()));
                form.push(("code_verifier", verifier.expose()));
                form.push(("redirect_uri", redirect_uri));
            }
            Grant::DeviceCode(code) => form.push(("device_code", code.expose())),
            Grant::TokenExchange {
                subject_token,
                subject_token_type,
            } => {
                form.push(("subject_token", subject_token.expose()));
                form.push(("subject_token_type", subject_token_type));
                form.push(("requested_token_type", ACCESS_TOKEN_TYPE));
            }
        }
        form
    }

    /// The secrets this grant sends, which a server's answer must not echo
    /// to the person.
    pub fn secrets(&self) -> Vec<&Secret> {
        match self {
            Grant::Password { password, .. } => vec![password],
            Grant::RefreshToken(t) | Grant::DeviceCode(t) => vec![t],
            Grant::AuthorizationCode { code, verifier, .. } => vec![code, verifier],
            Grant::TokenExchange { subject_token, .. } => vec![subject_token],
            Grant::ClientCredentials => Vec::new(),
        }
    }
}
