//! `private_key_jwt` against a real third-party server: panva's
//! `oidc-provider`, with RSA and EC clients registered by their public JWK
//! and no secret. The server checks the signature, `aud`, `exp` and refuses
//! a replayed `jti`; the test reads back what it recorded.

use jsonwebtoken::Algorithm;
use lmi_testidp::keys as k;

use crate::support::oidc_provider::OidcProvider;
use crate::support::Sandbox;

fn sandbox(server: &OidcProvider, client: &str, extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_env(
        "ci",
        &format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID={client}\nOAUTH_CLIENT_AUTH_METHOD=private_key_jwt\n{extra}",
            server.issuer
        ),
    );
    sb
}

#[test]
fn service_private_key_jwt_at_oidc_provider() {
    let server = OidcProvider::start();
    let cases = [
        ("pkjwt-rsa", k::CLIENT_RSA_PKCS8_FILE, ""),
        // The registered JWK says `"alg": "RS256"`: the server takes only that.
        (
            "pkjwt-rsa",
            k::CLIENT_RSA_PKCS1_FILE,
            "OAUTH_CLIENT_KEY_ID=testidp-client-rsa-1\n",
        ),
        ("pkjwt-ec", k::CLIENT_EC_SEC1_FILE, ""),
    ];
    for (n, (client, file, extra)) in cases.iter().enumerate() {
        let key = lmi_testidp::key_path(file);
        let sb = sandbox(
            &server,
            client,
            &format!("OAUTH_CLIENT_KEY_FILE={}\n{extra}", key.display()),
        );
        let out = sb.run(&["-e", "ci", "auth", "token"]);
        assert_eq!(
            out.code,
            0,
            "{file}: {}\n{:?}",
            out.stderr,
            server.token_requests()
        );
        assert_eq!(out.json()["source"], "acquired");
        let records = server.token_requests();
        assert_eq!(records.len(), n + 1, "{records:?}");
        let last = &records[n];
        assert_eq!(last["status"], 200, "{last}");
        assert_eq!(last["client_id"], *client);
        assert_eq!(last["auth_method"], "private_key_jwt", "{last}");
        assert_eq!(last["assertion_type"], k::CLIENT_ASSERTION_TYPE);
        assert_eq!(last["had_secret"], false, "no secret was sent");
        assert_eq!(last["had_basic"], false);
        // `aud` is the issuer identifier, one string (SPEC §4.1).
        assert_eq!(
            last["assertion_claims"]["aud"],
            server.issuer.as_str(),
            "{last}"
        );
        assert!(!std::fs::read_to_string(sb.env_file("ci"))
            .unwrap()
            .contains("SECRET"));
        // The access token is the server's (a JWT or opaque), cached.
        assert_eq!(
            sb.run(&["-e", "ci", "auth", "token"]).json()["source"],
            "cache"
        );
    }
}

#[test]
fn service_replayed_assertion_is_refused_by_oidc_provider() {
    let server = OidcProvider::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("assertion.jwt");
    let pem = std::fs::read_to_string(lmi_testidp::key_path(k::CLIENT_EC_PKCS8_FILE)).unwrap();
    let assertion =
        lmi_testidp::client_assertion("pkjwt-ec", &server.token_endpoint, Algorithm::ES256, &pem);
    std::fs::write(&file, &assertion).unwrap();
    let sb = sandbox(
        &server,
        "pkjwt-ec",
        &format!("OAUTH_CLIENT_ASSERTION_FILE={}\n", file.display()),
    );
    sb.run(&["-e", "ci", "auth", "token"]).assert_ok();
    sb.run(&["-e", "ci", "auth", "clear"]).assert_ok();
    // The same file again: the server has seen its jti.
    let out = sb.run(&["-e", "ci", "auth", "token", "-vv"]);
    out.assert_code(4);
    let error = out.error_line().unwrap();
    assert!(error.contains("invalid_client"), "{error}");
    assert!(
        !out.stderr.contains(&assertion),
        "the assertion was printed"
    );
    let records = server.token_requests();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["status"], 200);
    assert_eq!(records[1]["status"], 401, "{}", records[1]);
    assert!(
        records[1]["error_description"]
            .as_str()
            .is_some_and(|d| error.contains(d)),
        "the server's description is quoted: {error} / {}",
        records[1]
    );
    assert!(!sb.token_file("ci").exists(), "nothing was cached");
}
