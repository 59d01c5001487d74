//! The DPoP key (an ES256 key pair), its JWK forms, its RFC 7638
//! thumbprint, and the proofs it signs (RFC 9449 §4.2).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// What is wrong with a stored key, in words that hold none of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProblem(pub String);

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ES256 key pair. Its `Debug` shows the thumbprint only: the private
/// key is a secret (SPEC §7).
pub struct DpopKey {
    secret: p256::SecretKey,
    signing: EncodingKey,
    x: String,
    y: String,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.thumbprint())
            .field("d", &"[redacted]")
            .finish()
    }
}

/// A private EC JWK as stored (RFC 7518 §6.2). Unknown members are
/// ignored; `d` is read into a [`Secret`].
#[derive(Deserialize)]
struct StoredJwk {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<Secret>,
}

#[derive(Serialize)]
struct PrivateJwk<'a> {
    kty: &'a str,
    crv: &'a str,
    x: &'a str,
    y: &'a str,
    d: &'a str,
}

/// The claims of a proof (RFC 9449 §4.2).
#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

impl DpopKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<DpopKey> {
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        DpopKey::from_secret(secret).map_err(|p| Error::internal(p.0))
    }

    fn from_secret(secret: p256::SecretKey) -> std::result::Result<DpopKey, KeyProblem> {
        let point = secret.public_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            // An uncompressed point of a valid secret always has both.
            return Err(KeyProblem("its public key has no coordinates".into()));
        };
        let der = secret
            .to_pkcs8_der()
            .map_err(|_| KeyProblem("its key cannot be encoded as PKCS#8".into()))?;
        Ok(DpopKey {
            signing: EncodingKey::from_ec_der(der.as_bytes()),
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
            secret,
        })
    }

    /// Reads a private P-256 JWK (`kty` `EC`, `crv` `P-256`, `x`, `y`, `d`);
    /// `x` and `y` must be the public half of `d`.
    pub fn from_jwk(text: &str) -> std::result::Result<DpopKey, KeyProblem> {
        let problem = |what: &str| KeyProblem(what.to_owned());
        let jwk: StoredJwk = serde_json::from_str(text)
            .map_err(|_| problem("is not a JSON Web Key (a JSON object)"))?;
        if jwk.kty.as_deref() != Some("EC") || jwk.crv.as_deref() != Some("P-256") {
            return Err(problem("is not a P-256 key (kty EC, crv P-256)"));
        }
        let Some(d) = jwk.d else {
            return Err(problem("holds no private key (no \"d\")"));
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(d.expose().trim_end_matches('='))
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| problem("has a \"d\" that is not a 32-byte base64url value"))?;
        let secret = p256::SecretKey::from_slice(&bytes)
            .map_err(|_| problem("has a \"d\" that is not a P-256 private key"))?;
        let key = DpopKey::from_secret(secret)?;
        if jwk.x.as_deref() != Some(key.x.as_str()) || jwk.y.as_deref() != Some(key.y.as_str()) {
            return Err(problem(
                "has \"x\" and \"y\" that are not the public half of its \"d\"",
            ));
        }
        Ok(key)
    }

    /// The private JWK, for the key file or the session entry.
    pub fn to_jwk(&self) -> Secret {
        let d = URL_SAFE_NO_PAD.encode(self.secret.to_bytes());
        let jwk = PrivateJwk {
            kty: "EC",
            crv: "P-256",
            x: &self.x,
            y: &self.y,
            d: &d,
        };
        // Serialising a struct of strings cannot fail.
        Secret::new(serde_json::to_string(&jwk).unwrap_or_default())
    }

    /// The public key as a JWK (no `d`), as proofs carry it.
    pub fn public_jwk(&self) -> Jwk {
        Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: self.x.clone(),
                y: self.y.clone(),
            }),
        }
    }

    /// The RFC 7638 thumbprint (`jkt`): base64url SHA-256 of the required
    /// members in lexicographic order, without whitespace.
    pub fn thumbprint(&self) -> String {
        thumbprint(&self.x, &self.y)
    }

    /// A proof for one request (RFC 9449 §4.2): `htm` the method, `htu` the
    /// URL without query and fragment, a unique `jti`, `iat` now, `nonce`
    /// when the server gave one, and `ath` when it goes with an access token.
    pub fn proof(
        &self,
        htm: &str,
        url: &Url,
        nonce: Option<&str>,
        access_token: Option<&str>,
        now: i64,
    ) -> Result<Secret> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.public_jwk());
        let jti = oauth2::CsrfToken::new_random();
        let htu = htu(url);
        let claims = ProofClaims {
            jti: jti.secret(),
            htm,
            htu: &htu,
            iat: now,
            nonce,
            ath: access_token.map(ath),
        };
        let proof = jsonwebtoken::encode(&header, &claims, &self.signing)
            .map_err(|e| Error::internal(format!("cannot sign a DPoP proof: {e}")))?;
        Ok(Secret::new(proof))
    }
}

/// RFC 7638 over an EC public key's `x` and `y`.
pub(crate) fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The `htu` of a request to `url`: without query, fragment or user
/// information (RFC 9449 §4.2).
pub fn htu(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// The `ath` of a proof sent with `access_token`: base64url SHA-256.
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    /// The public P-256 key of RFC 7515 Appendix A.3.
    const RFC7515_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const RFC7515_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    #[test]
    fn thumbprint_matches_an_independent_implementation() {
        // panva's jose, calculateJwkThumbprint(jwk, "sha256"), over the
        // public key of RFC 7515 A.3.
        assert_eq!(
            thumbprint(RFC7515_X, RFC7515_Y),
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
        );
        let key = DpopKey::generate().unwrap();
        assert_eq!(key.thumbprint(), thumbprint(&key.x, &key.y));
    }

    #[test]
    fn a_key_survives_its_jwk() {
        let key = DpopKey::generate().unwrap();
        let jwk = key.to_jwk();
        let value: serde_json::Value = serde_json::from_str(jwk.expose()).unwrap();
        assert_eq!(value["kty"], "EC");
        assert_eq!(value["crv"], "P-256");
        assert!(value["d"].as_str().is_some_and(|d| d.len() == 43));
        let back = DpopKey::from_jwk(jwk.expose()).unwrap();
        assert_eq!(back.thumbprint(), key.thumbprint());
        assert_ne!(DpopKey::generate().unwrap().thumbprint(), key.thumbprint());
        let public = serde_json::to_value(key.public_jwk()).unwrap();
        assert!(public.get("d").is_none());
        assert_eq!(public["kty"], "EC");
        let shown = format!("{key:?}");
        assert!(!shown.contains(value["d"].as_str().unwrap()));
        assert!(shown.contains(&key.thumbprint()));
    }

    #[test]
    fn other_keys_are_refused() {
        let bad: [(&str, &str); 5] = [
            ("not json", "is not a JSON Web Key"),
            (r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#, "P-256"),
            (
                r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA","d":"AA"}"#,
                "P-256",
            ),
            (
                &format!(r#"{{"kty":"EC","crv":"P-256","x":"{RFC7515_X}","y":"{RFC7515_Y}"}}"#),
                "no private key",
            ),
            (
                r#"{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"AAAA"}"#,
                "32-byte",
            ),
        ];
        for (text, want) in bad {
            let err = DpopKey::from_jwk(text).unwrap_err();
            assert!(err.0.contains(want), "{text}: {err}");
        }
        // Another key's public half.
        let other = DpopKey::generate().unwrap();
        let mine = DpopKey::generate().unwrap();
        let mut value: serde_json::Value = serde_json::from_str(mine.to_jwk().expose()).unwrap();
        value["x"] = other.x.clone().into();
        let err = DpopKey::from_jwk(&value.to_string()).unwrap_err();
        assert!(err.0.contains("public half"), "{err}");
    }

    fn verify(key: &DpopKey, proof: &str) -> (jsonwebtoken::Header, serde_json::Value) {
        let header = jsonwebtoken::decode_header(proof).unwrap();
        let jwk = header.jwk.clone().unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(
            proof,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(jwk, key.public_jwk());
        (header, data.claims)
    }

    #[test]
    fn a_proof_verifies_with_its_embedded_key() {
        let key = DpopKey::generate().unwrap();
        let url = Url::parse("https://api.example.com/v1/things?page=2#top").unwrap();
        let proof = key.proof("GET", &url, None, None, 1_700_000_000).unwrap();
        let (header, claims) = verify(&key, proof.expose());
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://api.example.com/v1/things");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert!(claims.get("nonce").is_none() && claims.get("ath").is_none());
        let again = key.proof("GET", &url, None, None, 1_700_000_000).unwrap();
        let (_, claims2) = verify(&key, again.expose());
        assert_ne!(claims["jti"], claims2["jti"], "jti is unique");
    }

    #[test]
    fn a_proof_carries_the_nonce_and_the_token_hash() {
        let key = DpopKey::generate().unwrap();
        let url = Url::parse("https://user:pw@as.example.com/token").unwrap();
        // RFC 9449 §7.1's example token and its ath.
        let token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
        assert_eq!(ath(token), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
        let proof = key
            .proof(
                "POST",
                &url,
                Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"),
                Some(token),
                5,
            )
            .unwrap();
        let (_, claims) = verify(&key, proof.expose());
        assert_eq!(claims["htu"], "https://as.example.com/token");
        assert_eq!(claims["nonce"], "eyJ7S_zG.eyJH0-Z.HX4w-7v");
        assert_eq!(claims["ath"], "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
    }
}
