//! Client authentication without a shared secret (SPEC §4.1): the
//! `private_key_jwt` client assertion of RFC 7523 §2.2 and OpenID Connect
//! Core §9, signed by `jsonwebtoken` with the configured key, or read from a
//! file that a CI platform's workload identity wrote.
//!
//! A fresh assertion is made for every request, with `aud` the
//! authorization server's issuer identifier (the token endpoint URL only
//! when no issuer is known) and a unique `jti`, so a captured one cannot be
//! replayed, at that server or another (RFC 7523 §3, items 3 and 7;
//! draft-ietf-oauth-rfc7523bis). The key is read once per invocation and only when a
//! request needs it: a cached token costs no key parsing. Key material,
//! assertions and token files never reach a message: errors name the key
//! and the file, never their content.

use std::cell::OnceCell;
use std::path::Path;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde::Serialize;
use url::Url;

use crate::clock::Clock;
use crate::config::{AssertionSource, KeyAlg, KeySpec};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// How long a signed assertion lives: SPEC §4.1 allows at most 60 s, and a
/// short life narrows the window for a replay (RFC 7523 §3, item 4).
pub const ASSERTION_LIFETIME: i64 = 60;

/// The claims of a client assertion (RFC 7523 §3).
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: &'a str,
    iat: i64,
    exp: i64,
}

/// Which kind of key a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    EcP256,
}

impl KeyType {
    fn describe(self) -> &'static str {
        match self {
            KeyType::Rsa => "an RSA key",
            KeyType::EcP256 => "an EC P-256 key",
        }
    }
}

/// A loaded signing key. Not `Debug`: nothing may print it.
struct SigningKey {
    alg: KeyAlg,
    key: EncodingKey,
}

/// The client assertions of one invocation.
pub struct Assertions<'a> {
    source: &'a AssertionSource,
    client_id: &'a str,
    clock: &'a dyn Clock,
    key: OnceCell<std::result::Result<SigningKey, Error>>,
}

impl<'a> Assertions<'a> {
    pub fn new(source: &'a AssertionSource, client_id: &'a str, clock: &'a dyn Clock) -> Self {
        Assertions {
            source,
            client_id,
            clock,
            key: OnceCell::new(),
        }
    }

    /// The `client_assertion` for one request, for `audience` (the
    /// issuer identifier, or the token endpoint URL when no issuer is
    /// known): freshly signed, or the assertion file's current content.
    pub fn make(&self, audience: &str) -> Result<Secret> {
        let spec = match self.source {
            AssertionSource::File(path) => {
                return read_token_file("OAUTH_CLIENT_ASSERTION_FILE", path)
            }
            AssertionSource::Key(spec) => spec,
        };
        let key = self
            .key
            .get_or_init(|| load_key(spec))
            .as_ref()
            .map_err(Error::shallow_clone)?;
        let now = self.clock.now();
        let jti = oauth2::CsrfToken::new_random();
        let claims = Claims {
            iss: self.client_id,
            sub: self.client_id,
            aud: audience,
            jti: jti.secret(),
            iat: now,
            exp: now + ASSERTION_LIFETIME,
        };
        let mut header = Header::new(algorithm(key.alg));
        header.kid = spec.kid.clone();
        let signed = jsonwebtoken::encode(&header, &claims, &key.key).map_err(|e| {
            // The error names what the crypto library rejected, never the key.
            key_error(
                &spec.file,
                format!("holds a key that cannot sign {}: {e}", key.alg.name()),
            )
        })?;
        tracing::debug!(target: "auth", "signed a {} client assertion for {}", key.alg.name(), Url::parse(audience).map(|u| crate::redact::url(&u)).unwrap_or_default());
        Ok(Secret::new(signed))
    }
}

fn algorithm(alg: KeyAlg) -> Algorithm {
    match alg {
        KeyAlg::RS256 => Algorithm::RS256,
        KeyAlg::PS256 => Algorithm::PS256,
        KeyAlg::ES256 => Algorithm::ES256,
    }
}

fn key_error(path: &Path, what: String) -> Error {
    Error::config(format!("OAUTH_CLIENT_KEY_FILE {} {what}", path.display())).with_hint(
        "OAUTH_CLIENT_KEY_FILE must name an unencrypted PEM private key: PKCS#8 \
         (BEGIN PRIVATE KEY), PKCS#1 RSA (BEGIN RSA PRIVATE KEY) or SEC1 EC P-256 \
         (BEGIN EC PRIVATE KEY)",
    )
}

/// Reads, checks and parses the key file; warns (as for a secret in a
/// config file) when group or others may read it.
fn load_key(spec: &KeySpec) -> std::result::Result<SigningKey, Error> {
    let path = &spec.file;
    let bytes = std::fs::read(path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "does not exist".to_owned(),
            _ => format!("cannot be read: {e}"),
        };
        key_error(path, what)
    })?;
    warn_if_shared(path);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| key_error(path, "is not a PEM file (it is not text)".into()))?;
    if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(Error::config(format!(
            "OAUTH_CLIENT_KEY_FILE {} is encrypted with a passphrase, which lmi cannot ask for",
            path.display()
        ))
        .with_hint(format!(
            "write it decrypted to a file only you can read, and point OAUTH_CLIENT_KEY_FILE \
             there: openssl pkey -in {} -out client-key.pem && chmod 600 client-key.pem",
            path.display()
        )));
    }
    let pem =
        pem::parse(text).map_err(|_| key_error(path, "does not hold a PEM private key".into()))?;
    let (kind, key) = match pem.tag() {
        "RSA PRIVATE KEY" => (KeyType::Rsa, EncodingKey::from_rsa_der(pem.contents())),
        "EC PRIVATE KEY" => {
            let key = p256::SecretKey::from_sec1_der(pem.contents())
                .map_err(|_| key_error(path, "holds an EC key that is not a P-256 key".into()))?;
            (KeyType::EcP256, ec_key(path, &key)?)
        }
        "PRIVATE KEY" => pkcs8_key(path, pem.contents())?,
        tag => {
            return Err(key_error(
                path,
                format!("holds a PEM {tag:?}, not a private key"),
            ))
        }
    };
    let alg = match (spec.alg, kind) {
        (None, KeyType::Rsa) => KeyAlg::RS256,
        (None, KeyType::EcP256) => KeyAlg::ES256,
        (Some(alg @ (KeyAlg::RS256 | KeyAlg::PS256)), KeyType::Rsa)
        | (Some(alg @ KeyAlg::ES256), KeyType::EcP256) => alg,
        (Some(alg), kind) => {
            let needs = match alg {
                KeyAlg::ES256 => KeyType::EcP256,
                KeyAlg::RS256 | KeyAlg::PS256 => KeyType::Rsa,
            };
            return Err(Error::config(format!(
                "OAUTH_CLIENT_KEY_ALG {} needs {}, but OAUTH_CLIENT_KEY_FILE {} holds {}",
                alg.name(),
                needs.describe(),
                path.display(),
                kind.describe()
            ))
            .with_hint(format!(
                "unset OAUTH_CLIENT_KEY_ALG to use {} for this key, or point \
                 OAUTH_CLIENT_KEY_FILE at {}",
                match kind {
                    KeyType::Rsa => "RS256",
                    KeyType::EcP256 => "ES256",
                },
                needs.describe()
            )));
        }
    };
    tracing::debug!(target: "auth", "loaded {} from {} for {} client assertions", kind.describe(), path.display(), alg.name());
    Ok(SigningKey { alg, key })
}

/// A PKCS#8 key (RFC 5958): RSA or EC P-256, told apart by its algorithm.
fn pkcs8_key(path: &Path, der: &[u8]) -> std::result::Result<(KeyType, EncodingKey), Error> {
    const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
    const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
    let info = p256::pkcs8::PrivateKeyInfo::try_from(der)
        .map_err(|_| key_error(path, "does not hold a valid PKCS#8 private key".into()))?;
    match info.algorithm.oid.to_string().as_str() {
        RSA_ENCRYPTION => {
            // The PKCS#1 RSAPrivateKey inside is what the signer reads.
            Ok((KeyType::Rsa, EncodingKey::from_rsa_der(info.private_key)))
        }
        EC_PUBLIC_KEY => {
            let key = p256::SecretKey::from_pkcs8_der(der)
                .map_err(|_| key_error(path, "holds an EC key that is not a P-256 key".into()))?;
            Ok((KeyType::EcP256, ec_key(path, &key)?))
        }
        other => Err(key_error(
            path,
            format!("holds a key of algorithm {other}, not RSA or EC P-256"),
        )),
    }
}

/// The signer wants PKCS#8 with the public key inside; re-encoding gives
/// exactly that whatever the file held (SEC1, or PKCS#8 without it).
fn ec_key(path: &Path, key: &p256::SecretKey) -> std::result::Result<EncodingKey, Error> {
    let der = key
        .to_pkcs8_der()
        .map_err(|_| key_error(path, "holds an EC key that cannot be used".into()))?;
    Ok(EncodingKey::from_ec_der(der.as_bytes()))
}

/// SPEC §4.1: a key file readable by group or others gets the warning a
/// secret in such a file gets.
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            tracing::warn!(
                target: "config",
                "{} holds the private key of OAUTH_CLIENT_KEY_FILE and is readable by other users; run: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// A token from a file someone else writes (an assertion, a subject token):
/// read now, trimmed; missing, unreadable or empty is an authentication
/// error naming the file and its key.
pub fn read_token_file(key: &str, path: &Path) -> Result<Secret> {
    let shown = path.display();
    let text = std::fs::read(path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "does not exist".to_owned(),
            _ => format!("cannot be read: {e}"),
        };
        Error::auth(format!("{key} {shown} {what}")).with_hint(format!(
            "the step that writes {shown} must run before lmi; check {key}"
        ))
    })?;
    let text = String::from_utf8(text).map_err(|_| {
        Error::auth(format!(
            "{key} {shown} does not hold a token (it is not text)"
        ))
        .with_hint(format!("check what writes {shown}"))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::auth(format!("{key} {shown} is empty"))
            .with_hint(format!("check that the step that writes {shown} succeeded")));
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
#[path = "client_auth_tests.rs"]
mod tests;
