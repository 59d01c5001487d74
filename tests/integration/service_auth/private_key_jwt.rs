//! Client authentication without a shared secret (SPEC §4.1) against the
//! test IdP, which checks each assertion's signature, `aud`, `exp` and
//! `jti`: every key format, the refresh of a password-grant token, the
//! assertion file and its rotation, bad keys and files, and redaction.

use std::path::{Path, PathBuf};

use jsonwebtoken::Algorithm;
use lmi_testidp::keys as k;
use lmi_testidp::{Client, TestServer, User};

use crate::support::Sandbox;

const CLIENT: &str = "svc-rsa";
const EC_CLIENT: &str = "svc-ec";

fn key(file: &str) -> PathBuf {
    lmi_testidp::key_path(file)
}

/// The IdP with an RSA and an EC `private_key_jwt` client (no secrets).
fn idp() -> TestServer {
    let mut options = lmi_testidp::Options::default();
    options
        .clients
        .push(Client::with_key(CLIENT, k::CLIENT_RSA_PUBLIC_PEM));
    options
        .clients
        .push(Client::with_key(EC_CLIENT, k::CLIENT_EC_JWK));
    TestServer::start(options).expect("test IdP")
}

/// A sandbox whose `dev` environment authenticates `client` with `extra`
/// (no client secret anywhere).
fn sandbox(srv: &TestServer, client: &str, extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID={client}\nOAUTH_CLIENT_AUTH_METHOD=private_key_jwt\n\
             API_BASE_URL={}\n{extra}",
            srv.token_url(),
            srv.api_url()
        ),
    );
    sb
}

fn key_line(path: &Path) -> String {
    format!("OAUTH_CLIENT_KEY_FILE={}\n", path.display())
}

/// Asserts that the last token request was authenticated by a signed
/// assertion, with no secret anywhere in it, for the token URL (the
/// audience when only `OAUTH_TOKEN_URL` is set).
fn assert_assertion_only(srv: &TestServer, client: &str) {
    assert_assertion_for(srv, client, &srv.token_url());
}

/// [`assert_assertion_only`] with `aud` = `audience`, a single string.
fn assert_assertion_for(srv: &TestServer, client: &str, audience: &str) {
    assert_eq!(
        srv.last_token_request_auth_method().as_deref(),
        Some("private_key_jwt")
    );
    let req = srv.last_token_request().unwrap();
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.param("client_secret"), None);
    assert_eq!(req.param("client_id"), Some(client));
    assert_eq!(
        req.param("client_assertion_type"),
        Some(k::CLIENT_ASSERTION_TYPE)
    );
    let claims = srv.last_client_assertion_claims().unwrap();
    assert_eq!(claims["iss"], client);
    assert_eq!(claims["sub"], client);
    assert_eq!(claims["aud"], audience, "one string: {claims}");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(exp > iat && exp - iat <= 60, "{claims}");
}

#[test]
fn service_private_key_jwt_signs_with_every_key_format() {
    let srv = idp();
    let cases = [
        (CLIENT, k::CLIENT_RSA_PKCS8_FILE, "", "RS256"),
        (CLIENT, k::CLIENT_RSA_PKCS1_FILE, "", "RS256"),
        (
            CLIENT,
            k::CLIENT_RSA_PKCS8_FILE,
            "OAUTH_CLIENT_KEY_ALG=PS256\n",
            "PS256",
        ),
        (EC_CLIENT, k::CLIENT_EC_SEC1_FILE, "", "ES256"),
        (
            EC_CLIENT,
            k::CLIENT_EC_PKCS8_FILE,
            "OAUTH_CLIENT_KEY_ALG=es256\n",
            "ES256",
        ),
    ];
    let mut jtis = Vec::new();
    for (client, file, extra, alg) in cases {
        let sb = sandbox(
            &srv,
            client,
            &format!("{}{extra}OAUTH_CLIENT_KEY_ID=kid-7\n", key_line(&key(file))),
        );
        let out = sb.run(&["auth", "token"]);
        out.assert_ok();
        assert_eq!(out.json()["source"], "acquired", "{file} {alg}");
        assert_assertion_only(&srv, client);
        let req = srv.last_token_request().unwrap();
        let header = jsonwebtoken::decode_header(req.param("client_assertion").unwrap()).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg);
        assert_eq!(header.kid.as_deref(), Some("kid-7"));
        jtis.push(srv.last_client_assertion_claims().unwrap()["jti"].clone());
        // The token works at the API.
        let who = sb.run(&["api", "/whoami"]);
        who.assert_ok();
        assert_eq!(who.json()["client_id"], client);

        // `auth status` names the method; `config show` the key's path.
        let status = sb.run(&["auth", "status"]);
        assert_eq!(
            status.json()["environment"]["client_auth"],
            "private_key_jwt"
        );
        let shown = sb.run(&["config", "show"]);
        shown.assert_ok();
        assert_eq!(
            shown.json()["values"]["OAUTH_CLIENT_KEY_FILE"]["value"],
            key(file).display().to_string()
        );
        assert!(!shown.stdout.contains("PRIVATE KEY"));
    }
    jtis.sort_by_key(|j| j.to_string());
    jtis.dedup();
    assert_eq!(jtis.len(), cases.len(), "a fresh jti every time");
}

#[test]
fn service_private_key_jwt_refreshes_a_password_grant_token_with_an_assertion() {
    let mut options = lmi_testidp::Options::default();
    options
        .clients
        .push(Client::with_key(CLIENT, k::CLIENT_RSA_PUBLIC_PEM));
    options.users = vec![User::new("alice", "wonderland", "alice@example.test")];
    let srv = TestServer::start(options).unwrap();
    let sb = sandbox(
        &srv,
        CLIENT,
        &format!(
            "{}OAUTH_GRANT_TYPE=password\nOAUTH_USERNAME=alice\nOAUTH_PASSWORD=wonderland\n",
            key_line(&key(k::CLIENT_RSA_PKCS8_FILE))
        ),
    );
    sb.run(&["auth", "token"]).assert_ok();
    assert_eq!(srv.token_requests_by_grant("password"), 1);
    assert_assertion_only(&srv, CLIENT);
    // Expire the cached token: the next run refreshes it.
    let path = sb.token_file("dev");
    let mut cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(cached["refresh_token"].is_string());
    cached["expires_at"] = 1.into();
    sb.write_private(&path, &cached.to_string());
    sb.run(&["auth", "token"]).assert_ok();
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(srv.token_requests_by_grant("password"), 1);
    assert_assertion_only(&srv, CLIENT);
}

#[test]
fn service_private_key_jwt_audience_is_the_discovered_issuer() {
    let srv = idp();
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID={CLIENT}\nOAUTH_CLIENT_AUTH_METHOD=private_key_jwt\n{}",
            srv.idp_url(),
            key_line(&key(k::CLIENT_RSA_PKCS8_FILE))
        ),
    );
    sb.run(&["auth", "token"]).assert_ok();
    let issuer = srv.metadata()["issuer"].as_str().unwrap().to_owned();
    assert_ne!(issuer, srv.token_url());
    assert_assertion_for(&srv, CLIENT, &issuer);
    // From the cached metadata too (the second request discovers nothing).
    srv.reset_counts();
    sb.run(&["auth", "clear"]).assert_ok();
    sb.run(&["auth", "token"]).assert_ok();
    assert_assertion_for(&srv, CLIENT, &issuer);
}

#[test]
fn service_private_key_jwt_assertion_is_worthless_at_a_server_another_issuer_names() {
    use crate::support::hostile::{Hostile, Reply};
    use std::sync::{Arc, Mutex};
    let srv = idp();
    // A hostile issuer whose metadata names the honest server's token
    // endpoint: the assertion lmi signs is for the hostile issuer, so the
    // honest server refuses it and no token is issued to the hostile side.
    let own_url = Arc::new(Mutex::new(String::new()));
    let honest_token_url = srv.token_url();
    let hostile = {
        let own_url = own_url.clone();
        Hostile::start(move |_| {
            let issuer = own_url.lock().unwrap().clone();
            Reply::json(
                200,
                serde_json::json!({"issuer": issuer, "token_endpoint": honest_token_url})
                    .to_string(),
            )
        })
    };
    *own_url.lock().unwrap() = hostile.url("");
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID={CLIENT}\nOAUTH_CLIENT_AUTH_METHOD=private_key_jwt\n{}",
            hostile.url(""),
            key_line(&key(k::CLIENT_RSA_PKCS8_FILE))
        ),
    );
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4).assert_stderr_contains("invalid_client");
    assert_eq!(srv.issued_access_tokens(), 0, "{out:?}");
    let req = srv
        .last_token_request()
        .expect("the honest server was asked");
    let claims = decode_claims(req.param("client_assertion").unwrap());
    assert_eq!(claims["aud"], hostile.url(""));
}

/// The claims of a JWT, decoded without checking anything.
fn decode_claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Runs `auth token -vv` and checks exit 3, the message's key, and that no
/// key material was printed.
fn refused(sb: &Sandbox, key_file: Option<&Path>, needles: &[&str]) {
    let out = sb.run(&["auth", "token", "-vv"]);
    out.assert_code(3);
    let error = out.error_line().unwrap_or_else(|| panic!("{}", out.stderr));
    for needle in needles {
        assert!(error.contains(needle), "{needle:?} not in {error}");
    }
    if let Some(text) = key_file.and_then(|p| std::fs::read_to_string(p).ok()) {
        for line in text
            .lines()
            .filter(|l| l.len() > 16 && !l.starts_with("-----"))
        {
            assert!(
                !out.stderr.contains(line),
                "key material on stderr:\n{}",
                out.stderr
            );
        }
    }
}

#[test]
fn service_private_key_jwt_bad_configuration_is_exit_3() {
    let srv = idp();
    // Neither, or both.
    let sb = sandbox(&srv, CLIENT, "");
    refused(
        &sb,
        None,
        &[
            "OAUTH_CLIENT_KEY_FILE",
            "OAUTH_CLIENT_ASSERTION_FILE",
            "neither",
        ],
    );
    let sb = sandbox(
        &srv,
        CLIENT,
        &format!(
            "{}OAUTH_CLIENT_ASSERTION_FILE=/tmp/a.jwt\n",
            key_line(&key(k::CLIENT_RSA_PKCS8_FILE))
        ),
    );
    refused(
        &sb,
        None,
        &[
            "OAUTH_CLIENT_KEY_FILE",
            "OAUTH_CLIENT_ASSERTION_FILE",
            "both",
        ],
    );

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    refused(
        &sandbox(&srv, CLIENT, &key_line(&missing)),
        None,
        &["OAUTH_CLIENT_KEY_FILE", "does not exist"],
    );

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "this is not a key, just some words that are long\n",
    )
    .unwrap();
    refused(
        &sandbox(&srv, CLIENT, &key_line(&garbage)),
        Some(&garbage),
        &["OAUTH_CLIENT_KEY_FILE", "PEM private key"],
    );

    let encrypted = key(k::CLIENT_RSA_ENCRYPTED_FILE);
    refused(
        &sandbox(&srv, CLIENT, &key_line(&encrypted)),
        Some(&encrypted),
        &["OAUTH_CLIENT_KEY_FILE", "encrypted"],
    );

    let rsa = key(k::CLIENT_RSA_PKCS8_FILE);
    refused(
        &sandbox(
            &srv,
            CLIENT,
            &format!("{}OAUTH_CLIENT_KEY_ALG=ES256\n", key_line(&rsa)),
        ),
        Some(&rsa),
        &[
            "OAUTH_CLIENT_KEY_ALG",
            "ES256",
            "OAUTH_CLIENT_KEY_FILE",
            "RSA key",
        ],
    );
    let ec = key(k::CLIENT_EC_SEC1_FILE);
    refused(
        &sandbox(
            &srv,
            EC_CLIENT,
            &format!("{}OAUTH_CLIENT_KEY_ALG=RS256\n", key_line(&ec)),
        ),
        Some(&ec),
        &[
            "OAUTH_CLIENT_KEY_ALG",
            "RS256",
            "OAUTH_CLIENT_KEY_FILE",
            "EC P-256 key",
        ],
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let unreadable = dir.path().join("unreadable.pem");
        std::fs::copy(&rsa, &unreadable).unwrap();
        std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
        // root reads anything: only check where the mode counts.
        if std::fs::read(&unreadable).is_err() {
            refused(
                &sandbox(&srv, CLIENT, &key_line(&unreadable)),
                None,
                &["OAUTH_CLIENT_KEY_FILE", "cannot be read"],
            );
        }
    }
    assert_eq!(srv.token_requests(), 0, "nothing was sent");
}

#[cfg(unix)]
#[test]
fn service_private_key_jwt_shared_key_file_works_with_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let srv = idp();
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("client.pem");
    std::fs::copy(key(k::CLIENT_RSA_PKCS8_FILE), &shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sb = sandbox(&srv, CLIENT, &key_line(&shared));
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    let warning = out
        .stderr
        .lines()
        .find(|l| l.starts_with("warning: "))
        .unwrap_or_else(|| panic!("no warning:\n{}", out.stderr));
    assert!(
        warning.contains("readable by other users")
            && warning.contains(&format!("chmod 600 {}", shared.display())),
        "{warning}"
    );
    assert_assertion_only(&srv, CLIENT);

    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o600)).unwrap();
    sb.run(&["auth", "clear"]).assert_ok();
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

fn assertion(srv: &TestServer) -> String {
    let pem = std::fs::read_to_string(key(k::CLIENT_RSA_PKCS8_FILE)).unwrap();
    lmi_testidp::client_assertion(CLIENT, &srv.token_url(), Algorithm::RS256, &pem)
}

#[test]
fn service_assertion_file_rotation_and_refusals() {
    let srv = idp();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ci-assertion.jwt");
    let sb = sandbox(
        &srv,
        CLIENT,
        &format!("OAUTH_CLIENT_ASSERTION_FILE={}\n", file.display()),
    );
    // Missing, then empty: exit 4 naming the file.
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4);
    let error = out.error_line().unwrap();
    assert!(
        error.contains("OAUTH_CLIENT_ASSERTION_FILE")
            && error.contains(&file.display().to_string()),
        "{error}"
    );
    std::fs::write(&file, "\n").unwrap();
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4);
    assert!(
        out.error_line().unwrap().contains("is empty"),
        "{}",
        out.stderr
    );
    assert_eq!(srv.token_requests(), 0);

    // The file as written (with a newline) is sent, trimmed.
    let first = assertion(&srv);
    std::fs::write(&file, format!("{first}\n")).unwrap();
    sb.run(&["auth", "token"]).assert_ok();
    assert_eq!(
        srv.last_token_request().unwrap().param("client_assertion"),
        Some(first.as_str())
    );
    assert_eq!(
        srv.last_token_request_auth_method().as_deref(),
        Some("private_key_jwt")
    );
    let cached = std::fs::read(sb.token_file("dev")).unwrap();

    // Rotation: the next acquisition reads the new file.
    let second = assertion(&srv);
    std::fs::write(&file, &second).unwrap();
    let path = sb.token_file("dev");
    let mut expired: serde_json::Value = serde_json::from_slice(&cached).unwrap();
    expired["expires_at"] = 1.into();
    sb.write_private(&path, &expired.to_string());
    sb.run(&["auth", "token"]).assert_ok();
    assert_eq!(
        srv.last_token_request().unwrap().param("client_assertion"),
        Some(second.as_str())
    );

    // A stale file (its jti already used) is refused with the server's
    // words, and the previous cache stays as it was.
    expired["access_token"] = "previous-token".into();
    sb.write_private(&path, &expired.to_string());
    let before = std::fs::read(&path).unwrap();
    let out = sb.run(&["auth", "token", "-vv"]);
    out.assert_code(4);
    let error = out.error_line().unwrap();
    assert!(
        error.contains("invalid_client") && error.contains("jti was already used"),
        "{error}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the cache is untouched"
    );
    assert!(!out.stderr.contains(&second), "the assertion was printed");

    // An expired assertion: refused, quoted.
    let pem = std::fs::read_to_string(key(k::CLIENT_RSA_PKCS8_FILE)).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let old = lmi_testidp::keys::sign_client_assertion(
        &serde_json::json!({"iss": CLIENT, "sub": CLIENT, "aud": srv.token_url(),
            "iat": now - 600, "exp": now - 300, "jti": "old-jti"}),
        Algorithm::RS256,
        &pem,
    );
    std::fs::write(&file, &old).unwrap();
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4);
    let error = out.error_line().unwrap();
    assert!(
        error.contains("invalid_client") && error.contains("ExpiredSignature"),
        "{error}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the cache is untouched"
    );
}

#[test]
fn service_keys_and_assertions_never_reach_a_log() {
    let srv = idp();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.jwt");
    let stale = assertion(&srv);
    std::fs::write(&file, &stale).unwrap();
    let rsa = key(k::CLIENT_RSA_PKCS8_FILE);
    let key_text = std::fs::read_to_string(&rsa).unwrap();
    let sb = sandbox(
        &srv,
        CLIENT,
        &format!(
            "OAUTH_CLIENT_ASSERTION_FILE={}\nLOG_LEVEL=debug\n",
            file.display()
        ),
    );
    // Accepted once, then refused as a replay: both paths log.
    sb.run(&["auth", "token", "-vv"]).assert_ok();
    sb.run(&["auth", "clear"]).assert_ok();
    let replay = sb.run(&["auth", "token", "-vv"]);
    replay.assert_code(4);
    let keyed = sandbox(
        &srv,
        CLIENT,
        &format!("{}LOG_LEVEL=debug\n", key_line(&rsa)),
    );
    let signed = keyed.run(&["auth", "token", "-vv"]);
    signed.assert_ok();
    let sent = srv
        .last_token_request()
        .unwrap()
        .param("client_assertion")
        .unwrap()
        .to_owned();

    let logs = [
        replay.stderr.clone(),
        signed.stderr.clone(),
        std::fs::read_to_string(sb.log_file()).unwrap(),
        std::fs::read_to_string(keyed.log_file()).unwrap(),
    ];
    for log in &logs {
        assert!(log.contains("token"), "the log says something: {log}");
        assert!(
            !log.contains(&stale) && !log.contains(&sent),
            "an assertion was logged:\n{log}"
        );
        // Any signature part alone is a leak too.
        for part in stale.split('.').chain(sent.split('.')).skip(1) {
            assert!(
                !log.contains(part),
                "part of an assertion was logged:\n{log}"
            );
        }
        for line in key_text.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!log.contains(line), "key material was logged:\n{log}");
        }
    }
}
