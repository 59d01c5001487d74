use std::path::PathBuf;

use jsonwebtoken::{DecodingKey, Validation};
use lmi_testidp::keys as k;

use super::*;
use crate::clock::FixedClock;
use crate::error::Kind;

const NOW: i64 = 1_800_000_000;

fn spec(file: PathBuf, alg: Option<KeyAlg>) -> AssertionSource {
    AssertionSource::Key(KeySpec {
        file,
        alg,
        kid: Some("kid-1".into()),
    })
}

fn url() -> Url {
    Url::parse("https://idp.example/oauth2/token").unwrap()
}

/// Signs with `file` under `alg` and checks the assertion with `public`.
fn check(file: &str, alg: Option<KeyAlg>, public: &str, expect: Algorithm) {
    let source = spec(lmi_testidp::key_path(file), alg);
    let clock = FixedClock::at(NOW);
    let assertions = Assertions::new(&source, "svc", &clock);
    let first = assertions.make(url().as_str()).unwrap();
    let second = assertions.make(url().as_str()).unwrap();
    let header = jsonwebtoken::decode_header(first.expose()).unwrap();
    assert_eq!(header.alg, expect);
    assert_eq!(header.kid.as_deref(), Some("kid-1"));
    let key = match expect {
        Algorithm::ES256 => DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
        _ => DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
    };
    let mut validation = Validation::new(expect);
    validation.validate_exp = false;
    validation.set_audience(&[url().as_str()]);
    let decode = |s: &Secret| {
        jsonwebtoken::decode::<serde_json::Value>(s.expose(), &key, &validation)
            .unwrap()
            .claims
    };
    let (a, b) = (decode(&first), decode(&second));
    assert_eq!(a["iss"], "svc");
    assert_eq!(a["sub"], "svc");
    assert_eq!(a["aud"], url().as_str());
    assert_eq!(a["iat"], NOW);
    assert_eq!(a["exp"], NOW + 60);
    assert_ne!(a["jti"], b["jti"], "every assertion has its own jti");
    assert!(a["jti"].as_str().unwrap().len() >= 16);
}

#[test]
fn every_key_format_signs() {
    check(
        k::CLIENT_RSA_PKCS8_FILE,
        None,
        k::CLIENT_RSA_PUBLIC_PEM,
        Algorithm::RS256,
    );
    check(
        k::CLIENT_RSA_PKCS1_FILE,
        None,
        k::CLIENT_RSA_PUBLIC_PEM,
        Algorithm::RS256,
    );
    check(
        k::CLIENT_RSA_PKCS8_FILE,
        Some(KeyAlg::PS256),
        k::CLIENT_RSA_PUBLIC_PEM,
        Algorithm::PS256,
    );
    check(
        k::CLIENT_EC_SEC1_FILE,
        None,
        k::CLIENT_EC_PUBLIC_PEM,
        Algorithm::ES256,
    );
    check(
        k::CLIENT_EC_PKCS8_FILE,
        Some(KeyAlg::ES256),
        k::CLIENT_EC_PUBLIC_PEM,
        Algorithm::ES256,
    );
}

/// The configuration error for `file` under `alg`, checked to name the key
/// and to hold no key material.
fn key_failure(file: PathBuf, alg: Option<KeyAlg>) -> Error {
    let source = spec(file.clone(), alg);
    let clock = FixedClock::at(NOW);
    let e = Assertions::new(&source, "svc", &clock)
        .make(url().as_str())
        .unwrap_err();
    assert_eq!(e.kind(), Kind::Config, "{}", e.message());
    let text = format!("{} {}", e.message(), e.hint().unwrap_or_default());
    assert!(text.contains("OAUTH_CLIENT_KEY"), "{text}");
    if let Ok(content) = std::fs::read_to_string(&file) {
        for line in content
            .lines()
            .filter(|l| l.len() > 20 && !l.starts_with("-----"))
        {
            assert!(!text.contains(line), "key material in {text}");
        }
    }
    e
}

#[test]
fn bad_keys_are_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = key_failure(dir.path().join("missing.pem"), None);
    assert!(e.message().contains("does not exist"), "{}", e.message());

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN PRIVATE KEY-----\nnot base64 at all!!\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let e = key_failure(garbage, None);
    assert!(e.message().contains("PEM private key"), "{}", e.message());

    let asn1 = dir.path().join("asn1.pem");
    std::fs::write(
        &asn1,
        "-----BEGIN PRIVATE KEY-----\nAAECAwQFBgcICQ==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let e = key_failure(asn1, None);
    assert!(e.message().contains("PKCS#8"), "{}", e.message());

    let e = key_failure(lmi_testidp::key_path(k::CLIENT_RSA_ENCRYPTED_FILE), None);
    assert!(e.message().contains("encrypted"), "{}", e.message());

    let e = key_failure(lmi_testidp::key_path(k::CLIENT_RSA_PUBLIC_FILE), None);
    assert!(e.message().contains("not a private key"), "{}", e.message());

    let e = key_failure(
        lmi_testidp::key_path(k::CLIENT_RSA_PKCS8_FILE),
        Some(KeyAlg::ES256),
    );
    assert!(
        e.message().contains("ES256 needs an EC P-256 key") && e.message().contains("RSA key"),
        "{}",
        e.message()
    );
    let e = key_failure(
        lmi_testidp::key_path(k::CLIENT_EC_SEC1_FILE),
        Some(KeyAlg::RS256),
    );
    assert!(
        e.message().contains("RS256 needs an RSA key"),
        "{}",
        e.message()
    );
}

#[test]
fn assertion_files_are_read_afresh_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("assertion.jwt");
    let source = AssertionSource::File(path.clone());
    let clock = FixedClock::at(NOW);
    let assertions = Assertions::new(&source, "svc", &clock);

    let e = assertions.make(url().as_str()).unwrap_err();
    assert_eq!(e.kind(), Kind::Auth);
    assert!(
        e.message().contains("OAUTH_CLIENT_ASSERTION_FILE")
            && e.message().contains("does not exist")
    );

    std::fs::write(&path, " \n").unwrap();
    let e = assertions.make(url().as_str()).unwrap_err();
    assert!(e.message().ends_with("is empty"), "{}", e.message());

    std::fs::write(&path, "first.jwt.value\n").unwrap();
    assert_eq!(
        assertions.make(url().as_str()).unwrap().expose(),
        "first.jwt.value"
    );
    std::fs::write(&path, "second.jwt.value").unwrap();
    assert_eq!(
        assertions.make(url().as_str()).unwrap().expose(),
        "second.jwt.value"
    );
}
