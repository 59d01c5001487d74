//! Test-only key material (committed under `testidp/keys/`, described in
//! its README) and JWT signing through `jsonwebtoken`: the served JWKS, RS256
//! signing with the real or the rogue key, the unsigned `alg: none` token;
//! the "CI issuer" whose JWTs the token exchange accepts ([`ci_token`]); the
//! client key pairs for `private_key_jwt` and [`client_assertion`], which
//! signs an assertion the way RFC 7523 §3 wants it.

use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use serde_json::{json, Value};

/// The `kid` of the signing key (the rogue key reuses it).
pub const KEY_ID: &str = "testidp-signing-key-1";

const SIGNING_PEM: &str = include_str!("../keys/signing.key.pem");
const ROGUE_PEM: &str = include_str!("../keys/rogue.key.pem");
const SIGNING_JWK: &str = include_str!("../keys/signing.jwk.json");

/// The public signing key as a JWK (`kty`, `use`, `alg`, `kid`, `n`, `e`).
pub fn signing_jwk() -> Value {
    serde_json::from_str(SIGNING_JWK).expect("keys/signing.jwk.json is valid JSON")
}

/// The JWKS document served at `/jwks`.
pub fn jwks() -> Value {
    serde_json::json!({ "keys": [signing_jwk()] })
}

/// A `jsonwebtoken` key that verifies tokens signed by the test IdP.
pub fn decoding_key() -> DecodingKey {
    let jwk = signing_jwk();
    DecodingKey::from_rsa_components(
        jwk["n"].as_str().expect("jwk n"),
        jwk["e"].as_str().expect("jwk e"),
    )
    .expect("valid RSA components")
}

/// Which key signs a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signer {
    Real,
    Rogue,
}

pub(crate) struct Keys {
    real: EncodingKey,
    rogue: EncodingKey,
}

impl Keys {
    pub(crate) fn load() -> Self {
        Keys {
            real: EncodingKey::from_rsa_pem(SIGNING_PEM.as_bytes()).expect("signing key PEM"),
            rogue: EncodingKey::from_rsa_pem(ROGUE_PEM.as_bytes()).expect("rogue key PEM"),
        }
    }

    /// RS256 with header `kid` (and `typ: JWT`).
    pub(crate) fn sign<T: Serialize>(&self, claims: &T, signer: Signer) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KEY_ID.to_string());
        let key = match signer {
            Signer::Real => &self.real,
            Signer::Rogue => &self.rogue,
        };
        jsonwebtoken::encode(&header, claims, key).expect("RS256 signing")
    }
}

/// An unsigned JWT (`alg: none`, empty signature part).
pub(crate) fn unsigned<T: Serialize>(claims: &T) -> String {
    let header = serde_json::json!({ "alg": "none", "typ": "JWT", "kid": KEY_ID });
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
    format!("{h}.{c}.")
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

/// The folder of the key files (`testidp/keys`, absolute).
pub fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keys")
}

/// Absolute path of a file in [`keys_dir`], e.g.
/// `key_path(CLIENT_RSA_PKCS8_FILE)`.
pub fn key_path(file: &str) -> PathBuf {
    keys_dir().join(file)
}

/// The CI issuer's private key, RSA 2048, PKCS#8 PEM.
pub const CI_ISSUER_KEY_FILE: &str = "ci-issuer.key.pem";
/// The CI issuer's public key, SPKI PEM.
pub const CI_ISSUER_PUBLIC_FILE: &str = "ci-issuer.pub.pem";
/// Client key, RSA 2048, PKCS#8 PEM (`BEGIN PRIVATE KEY`).
pub const CLIENT_RSA_PKCS8_FILE: &str = "client-rsa.pkcs8.pem";
/// The same RSA key as PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`).
pub const CLIENT_RSA_PKCS1_FILE: &str = "client-rsa.pkcs1.pem";
/// The same RSA key, PKCS#8 encrypted with the passphrase `testidp`
/// (`BEGIN ENCRYPTED PRIVATE KEY`), for negative tests.
pub const CLIENT_RSA_ENCRYPTED_FILE: &str = "client-rsa.encrypted.pem";
/// The RSA client key's public half, SPKI PEM.
pub const CLIENT_RSA_PUBLIC_FILE: &str = "client-rsa.pub.pem";
/// Client key, EC P-256, SEC1 PEM (`BEGIN EC PRIVATE KEY`).
pub const CLIENT_EC_SEC1_FILE: &str = "client-ec.sec1.pem";
/// The same EC key as PKCS#8 PEM.
pub const CLIENT_EC_PKCS8_FILE: &str = "client-ec.pkcs8.pem";
/// The EC client key's public half, SPKI PEM.
pub const CLIENT_EC_PUBLIC_FILE: &str = "client-ec.pub.pem";
/// Another RSA 2048 PKCS#8 key, registered nowhere (a wrong key).
pub const CLIENT_RSA_OTHER_FILE: &str = "client-rsa-other.pkcs8.pem";

/// [`CLIENT_RSA_PUBLIC_FILE`]'s content, for [`crate::Client::with_key`].
pub const CLIENT_RSA_PUBLIC_PEM: &str = include_str!("../keys/client-rsa.pub.pem");
/// [`CLIENT_EC_PUBLIC_FILE`]'s content, for [`crate::Client::with_key`].
pub const CLIENT_EC_PUBLIC_PEM: &str = include_str!("../keys/client-ec.pub.pem");
/// The RSA client key's public JWK (`kid` `testidp-client-rsa-1`).
pub const CLIENT_RSA_JWK: &str = include_str!("../keys/client-rsa.jwk.json");
/// The EC client key's public JWK (`kid` `testidp-client-ec-1`).
pub const CLIENT_EC_JWK: &str = include_str!("../keys/client-ec.jwk.json");

// ---------------------------------------------------------------------------
// The CI issuer (subject tokens for the token exchange)
// ---------------------------------------------------------------------------

/// `iss` of the CI issuer's tokens.
pub const CI_ISSUER: &str = "https://ci.testidp.example";
/// `aud` of [`ci_token`]'s tokens (the token exchange also accepts the IdP
/// URL as audience).
pub const CI_AUDIENCE: &str = "lmi-testidp";
/// `kid` of the CI issuer's key.
pub const CI_KEY_ID: &str = "testidp-ci-issuer-1";

const CI_PEM: &str = include_str!("../keys/ci-issuer.key.pem");
const CI_JWK: &str = include_str!("../keys/ci-issuer.jwk.json");

/// The CI issuer's public key as a JWK.
pub fn ci_jwk() -> Value {
    serde_json::from_str(CI_JWK).expect("keys/ci-issuer.jwk.json is valid JSON")
}

/// The CI issuer's private key file (PKCS#8 PEM).
pub fn ci_key_path() -> PathBuf {
    key_path(CI_ISSUER_KEY_FILE)
}

/// A JWT from the test "CI issuer", as a CI platform hands a job: RS256,
/// `iss` [`CI_ISSUER`], `aud` [`CI_AUDIENCE`], this `sub`, `iat` now, `exp`
/// now + `lifetime_secs` (negative: already expired), a random `jti`. The
/// token exchange accepts it as a subject token of type `...:jwt` or
/// `...:id_token`.
pub fn ci_token(sub: &str, lifetime_secs: i64) -> String {
    let now = crate::state::now_secs() as i64;
    ci_token_with_claims(&json!({
        "iss": CI_ISSUER,
        "aud": CI_AUDIENCE,
        "sub": sub,
        "iat": now,
        "exp": now + lifetime_secs,
        "jti": crate::state::random_token(),
    }))
}

/// Any claims, signed (RS256, `kid` [`CI_KEY_ID`]) with the CI issuer's key.
pub fn ci_token_with_claims(claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(CI_PEM.as_bytes()).expect("CI issuer key PEM");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(CI_KEY_ID.to_string());
    jsonwebtoken::encode(&header, claims, &key).expect("RS256 signing")
}

pub(crate) fn ci_decoding_key() -> DecodingKey {
    let jwk = ci_jwk();
    DecodingKey::from_rsa_components(
        jwk["n"].as_str().expect("jwk n"),
        jwk["e"].as_str().expect("jwk e"),
    )
    .expect("valid RSA components")
}

// ---------------------------------------------------------------------------
// Client assertions (RFC 7523)
// ---------------------------------------------------------------------------

/// `client_assertion_type` of `private_key_jwt` (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client assertion as a correct client makes it: `iss` = `sub` =
/// `client_id`, `aud` = `audience` (the token endpoint URL), `iat` now, `exp`
/// now + 60, a random `jti`; signed with `private_pem` (PKCS#8, PKCS#1 or
/// SEC1 PEM) using `alg`. Panics on a key that does not fit `alg`.
pub fn client_assertion(
    client_id: &str,
    audience: &str,
    alg: Algorithm,
    private_pem: &str,
) -> String {
    let now = crate::state::now_secs();
    sign_client_assertion(
        &json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": crate::state::random_token(),
        }),
        alg,
        private_pem,
    )
}

/// Signs any claims as a client assertion (for malformed ones). `private_pem`
/// as for [`client_assertion`].
pub fn sign_client_assertion(claims: &Value, alg: Algorithm, private_pem: &str) -> String {
    let key = match alg {
        Algorithm::ES256 | Algorithm::ES384 => ec_encoding_key(private_pem),
        _ => EncodingKey::from_rsa_pem(private_pem.as_bytes()),
    }
    .expect("a private key PEM that fits the algorithm");
    jsonwebtoken::encode(&Header::new(alg), claims, &key).expect("signing")
}

/// An EC signing key from PKCS#8 or SEC1 PEM (`jsonwebtoken` reads only
/// PKCS#8, so SEC1 is wrapped first).
fn ec_encoding_key(pem: &str) -> jsonwebtoken::errors::Result<EncodingKey> {
    const SEC1_BEGIN: &str = "-----BEGIN EC PRIVATE KEY-----";
    const SEC1_END: &str = "-----END EC PRIVATE KEY-----";
    let Some(body) = pem
        .split_once(SEC1_BEGIN)
        .and_then(|(_, rest)| rest.split_once(SEC1_END))
        .map(|(body, _)| body)
    else {
        return EncodingKey::from_ec_pem(pem.as_bytes());
    };
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let sec1 = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
    Ok(EncodingKey::from_ec_der(&sec1_to_pkcs8(&sec1)))
}

/// DER length octets.
fn der_len(len: usize) -> Vec<u8> {
    match len {
        0..=0x7f => vec![len as u8],
        0x80..=0xff => vec![0x81, len as u8],
        _ => vec![0x82, (len >> 8) as u8, len as u8],
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// Wraps a SEC1 `ECPrivateKey` into a PKCS#8 `PrivateKeyInfo` (RFC 5208,
/// RFC 5915 §1) for P-256, or P-384 when the key names that curve.
fn sec1_to_pkcs8(sec1: &[u8]) -> Vec<u8> {
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    let curve = if sec1.windows(P384.len()).any(|w| w == P384) {
        P384
    } else {
        P256
    };
    let algorithm = der(0x30, &[EC_PUBLIC_KEY, curve].concat());
    let info = [&[0x02, 0x01, 0x00][..], &algorithm, &der(0x04, sec1)].concat();
    der(0x30, &info)
}

/// A verifying key from a public key PEM (SPKI RSA or EC, or PKCS#1 RSA) or
/// a JWK (JSON text).
pub(crate) fn public_key(text: &str) -> Option<DecodingKey> {
    let text = text.trim();
    if text.starts_with('{') {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(text).ok()?;
        return DecodingKey::from_jwk(&jwk).ok();
    }
    DecodingKey::from_rsa_pem(text.as_bytes())
        .or_else(|_| DecodingKey::from_ec_pem(text.as_bytes()))
        .ok()
}
