//! Test-only RSA key material (committed under `testidp/keys/`) and JWT
//! signing through `jsonwebtoken`: the served JWKS, RS256 signing with the
//! real or the rogue key, and the unsigned `alg: none` token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use serde_json::Value;

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
