//! The typed settings of client authentication without a shared secret
//! (SPEC §4.1: `private_key_jwt` with a key file or a ready-made assertion
//! file) and of the token exchange's subject (SPEC §4.2). Only paths and
//! names are read here; the files themselves are read by `auth`, afresh
//! for each request, so nothing secret is held in the configuration.

use std::path::PathBuf;

use super::settings::Settings;
use crate::error::{Error, Result};
use crate::paths::Paths;

/// The JWS algorithm of a signed client assertion (RFC 7518 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    RS256,
    PS256,
    ES256,
}

impl KeyAlg {
    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::RS256 => "RS256",
            KeyAlg::PS256 => "PS256",
            KeyAlg::ES256 => "ES256",
        }
    }

    fn parse(raw: &str) -> Result<KeyAlg> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "RS256" => Ok(KeyAlg::RS256),
            "PS256" => Ok(KeyAlg::PS256),
            "ES256" => Ok(KeyAlg::ES256),
            _ => Err(
                Error::config(format!("OAUTH_CLIENT_KEY_ALG {raw:?} is not supported")).with_hint(
                    "valid values: RS256, PS256 (RSA keys), ES256 (EC P-256 keys); \
                         leave it unset to follow the key type",
                ),
            ),
        }
    }
}

/// The key that signs `private_key_jwt` assertions (RFC 7523 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// `OAUTH_CLIENT_KEY_FILE`: a PEM private key (PKCS#8, PKCS#1 RSA, SEC1 EC).
    pub file: PathBuf,
    /// `OAUTH_CLIENT_KEY_ALG`; `None` follows the key type.
    pub alg: Option<KeyAlg>,
    /// `OAUTH_CLIENT_KEY_ID`: the `kid` header.
    pub kid: Option<String>,
}

/// Where a `private_key_jwt` client's assertion comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssertionSource {
    /// lmi signs a fresh assertion for each request.
    Key(KeySpec),
    /// `OAUTH_CLIENT_ASSERTION_FILE`: a JWT someone else made (a CI
    /// platform's workload identity token), read afresh for each request.
    File(PathBuf),
}

/// Where the subject token of a token exchange comes from (RFC 8693 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectSource {
    /// `OAUTH_SUBJECT_TOKEN_FILE`, of type `OAUTH_SUBJECT_TOKEN_TYPE`.
    File { path: PathBuf, token_type: String },
    /// The SSO session's access token.
    SsoSession,
}

/// The default `OAUTH_SUBJECT_TOKEN_TYPE`.
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// `private_key_jwt`'s assertion source: exactly one of the key file and
/// the assertion file.
pub(super) fn assertion_source(settings: &Settings, paths: &Paths) -> Result<AssertionSource> {
    let key = settings.get("OAUTH_CLIENT_KEY_FILE");
    let assertion = settings.get("OAUTH_CLIENT_ASSERTION_FILE");
    let problem = match (key, assertion) {
        (Some(file), None) => {
            return Ok(AssertionSource::Key(KeySpec {
                file: PathBuf::from(file),
                alg: settings
                    .get("OAUTH_CLIENT_KEY_ALG")
                    .map(KeyAlg::parse)
                    .transpose()?,
                kid: settings.get("OAUTH_CLIENT_KEY_ID").map(str::to_owned),
            }))
        }
        (None, Some(file)) => return Ok(AssertionSource::File(PathBuf::from(file))),
        (None, None) => "neither is set",
        (Some(_), Some(_)) => "both are set",
    };
    Err(Error::config(format!(
        "OAUTH_CLIENT_AUTH_METHOD=private_key_jwt needs exactly one of OAUTH_CLIENT_KEY_FILE \
         and OAUTH_CLIENT_ASSERTION_FILE, and {problem}"
    ))
    .with_hint(settings.where_to_set(
        "OAUTH_CLIENT_KEY_FILE (a PEM private key) or OAUTH_CLIENT_ASSERTION_FILE (a file \
         holding a ready-made assertion), not both,",
        paths,
    )))
}

/// The token exchange's subject.
pub(super) fn subject_source(settings: &Settings) -> SubjectSource {
    match settings.get("OAUTH_SUBJECT_TOKEN_FILE") {
        Some(path) => SubjectSource::File {
            path: PathBuf::from(path),
            token_type: settings
                .get("OAUTH_SUBJECT_TOKEN_TYPE")
                .unwrap_or(JWT_TOKEN_TYPE)
                .trim()
                .to_owned(),
        },
        None => SubjectSource::SsoSession,
    }
}

/// How the client authenticates, as `auth status` names it, without
/// checking anything: `private_key_jwt`, the secret method when a secret is
/// set, else `none` (a public client).
pub(super) fn method_name(settings: &Settings) -> String {
    let method = settings
        .get("OAUTH_CLIENT_AUTH_METHOD")
        .unwrap_or("client_secret_basic")
        .trim()
        .to_ascii_lowercase();
    if method != "private_key_jwt" && settings.get("OAUTH_CLIENT_SECRET").is_none() {
        return "none".to_owned();
    }
    method
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_parse_in_any_case() {
        assert_eq!(KeyAlg::parse("es256").unwrap(), KeyAlg::ES256);
        assert_eq!(KeyAlg::parse("PS256").unwrap().name(), "PS256");
        let e = KeyAlg::parse("HS256").unwrap_err();
        assert!(
            e.message().contains("OAUTH_CLIENT_KEY_ALG"),
            "{}",
            e.message()
        );
    }
}
