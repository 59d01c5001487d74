//! Token exchange (SPEC §4.2) against the test IdP with subject tokens from
//! its test "CI issuer": the exchanged token's subject seen by the test API,
//! the subject in the cache (another subject a miss, the same a hit), each
//! way the client authenticates, refusals, and bad subject files. The SSO
//! session as the subject is in `sso/exchange.rs`.

use std::path::Path;

use lmi_testidp::keys as k;
use lmi_testidp::{Client, TestServer};

use crate::support::Sandbox;

fn idp() -> TestServer {
    let mut options = lmi_testidp::Options::default();
    options
        .clients
        .push(Client::with_key("svc-rsa", k::CLIENT_RSA_PUBLIC_PEM));
    TestServer::start(options).expect("test IdP")
}

/// `dev` exchanges the token in `subject` as client `client_lines`.
fn sandbox(srv: &TestServer, subject: &Path, client_lines: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_GRANT_TYPE=token_exchange\nOAUTH_TOKEN_URL={}\nAPI_BASE_URL={}\n\
             OAUTH_SUBJECT_TOKEN_FILE={}\n{client_lines}",
            srv.token_url(),
            srv.api_url(),
            subject.display()
        ),
    );
    sb
}

const CONFIDENTIAL: &str = "OAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n";

fn whoami(sb: &Sandbox) -> serde_json::Value {
    let out = sb.run(&["api", "/whoami"]);
    out.assert_ok();
    out.json()
}

fn token(sb: &Sandbox) -> serde_json::Value {
    let out = sb.run(&["auth", "token"]);
    out.assert_ok();
    out.json()
}

#[test]
fn service_token_exchange_subject_is_cached_per_subject() {
    let srv = idp();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ci-token.jwt");
    let job1 = lmi_testidp::ci_token("repo:acme/app:job-1", 600);
    std::fs::write(&file, format!("{job1}\n")).unwrap();
    let sb = sandbox(&srv, &file, CONFIDENTIAL);

    assert_eq!(token(&sb)["source"], "acquired");
    let req = srv.last_token_request().unwrap();
    assert_eq!(
        req.param("grant_type"),
        Some(lmi_testidp::TOKEN_EXCHANGE_GRANT)
    );
    assert_eq!(req.param("subject_token"), Some(job1.as_str()));
    assert_eq!(
        req.param("subject_token_type"),
        Some(lmi_testidp::TOKEN_TYPE_JWT)
    );
    assert_eq!(
        req.param("requested_token_type"),
        Some(lmi_testidp::TOKEN_TYPE_ACCESS_TOKEN)
    );
    assert_eq!(whoami(&sb)["sub"], "repo:acme/app:job-1");
    assert_eq!(srv.token_exchanges(), 1);

    // The cache names the subject by its hash, never the token.
    let cached = std::fs::read_to_string(sb.token_file("dev")).unwrap();
    assert!(!cached.contains(&job1), "{cached}");
    let cached: serde_json::Value = serde_json::from_str(&cached).unwrap();
    assert!(
        cached["subject"].as_str().unwrap().starts_with("sha256:"),
        "{cached}"
    );
    assert_eq!(cached["grant_type"], "token_exchange");

    // The same subject: a hit, no exchange.
    assert_eq!(token(&sb)["source"], "cache");
    assert_eq!(srv.token_exchanges(), 1);

    // Another subject: a miss, exchanged for that subject.
    std::fs::write(&file, lmi_testidp::ci_token("repo:acme/app:job-2", 600)).unwrap();
    assert_eq!(token(&sb)["source"], "acquired");
    assert_eq!(srv.token_exchanges(), 2);
    assert_eq!(whoami(&sb)["sub"], "repo:acme/app:job-2");
    assert_eq!(token(&sb)["source"], "cache");

    let status = sb.run(&["auth", "status"]);
    assert_eq!(status.json()["environment"]["grant_type"], "token_exchange");
    assert_eq!(status.json()["environment"]["token_cached"], true);
}

#[test]
fn service_token_exchange_authenticates_the_client_as_configured() {
    let srv = idp();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("subject.jwt");
    std::fs::write(&file, lmi_testidp::ci_token("ci-job", 600)).unwrap();
    let key = lmi_testidp::key_path(k::CLIENT_RSA_PKCS8_FILE);
    let cases = [
        (CONFIDENTIAL.to_owned(), "client_secret_basic", "lmi-client"),
        ("OAUTH_CLIENT_ID=lmi-public\n".to_owned(), "none", "lmi-public"),
        (
            format!(
                "OAUTH_CLIENT_ID=svc-rsa\nOAUTH_CLIENT_AUTH_METHOD=private_key_jwt\nOAUTH_CLIENT_KEY_FILE={}\n",
                key.display()
            ),
            "private_key_jwt",
            "svc-rsa",
        ),
    ];
    for (client, method, id) in cases {
        let sb = sandbox(
            &srv,
            &file,
            &format!(
                "{client}OAUTH_SCOPES=\"read deploy\"\nOAUTH_AUDIENCE=https://deploy.example\n"
            ),
        );
        token(&sb);
        assert_eq!(
            srv.last_token_request_auth_method().as_deref(),
            Some(method)
        );
        let req = srv.last_token_request().unwrap();
        assert_eq!(req.param("scope"), Some("read deploy"));
        assert_eq!(req.param("audience"), Some("https://deploy.example"));
        let who = whoami(&sb);
        assert_eq!(
            (who["sub"].as_str(), who["client_id"].as_str()),
            (Some("ci-job"), Some(id))
        );
        let status = sb.run(&["auth", "status"]);
        assert_eq!(status.json()["environment"]["client_auth"], method);
    }
}

#[test]
fn service_token_exchange_refusals_keep_the_cache() {
    let srv = idp();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("subject.jwt");
    let sb = sandbox(&srv, &file, CONFIDENTIAL);

    // Missing, empty: exit 4 naming the file, nothing sent.
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4);
    let error = out.error_line().unwrap();
    assert!(
        error.contains("OAUTH_SUBJECT_TOKEN_FILE") && error.contains(&file.display().to_string()),
        "{error}"
    );
    std::fs::write(&file, "  \n").unwrap();
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4);
    assert!(
        out.error_line().unwrap().contains("is empty"),
        "{}",
        out.stderr
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::read(&file).is_err() {
            let out = sb.run(&["auth", "token"]);
            out.assert_code(4);
            assert!(
                out.error_line().unwrap().contains("cannot be read"),
                "{}",
                out.stderr
            );
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    assert_eq!(srv.token_requests(), 0);

    std::fs::write(&file, lmi_testidp::ci_token("ci-job", 600)).unwrap();
    token(&sb);
    let path = sb.token_file("dev");
    let before = std::fs::read(&path).unwrap();

    // An expired subject token: invalid_grant, quoted; the cache as it was.
    let expired = lmi_testidp::ci_token("ci-job-late", -60);
    std::fs::write(&file, &expired).unwrap();
    let out = sb.run(&["auth", "token", "-vv"]);
    out.assert_code(4);
    let error = out.error_line().unwrap();
    assert!(
        error.contains("invalid_grant") && error.contains("has expired"),
        "{error}"
    );
    assert!(
        out.stderr.contains("OAUTH_SUBJECT_TOKEN_FILE"),
        "the hint names the key:\n{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains(&expired),
        "the subject token was printed"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the cache is untouched"
    );
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    assert!(
        !log.contains(&expired) && !log.contains(expired.split('.').nth(2).unwrap()),
        "{log}"
    );
}

#[test]
fn service_token_exchange_without_subject_or_session_says_to_log_in() {
    let srv = idp();
    let sb = Sandbox::new();
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_GRANT_TYPE=token_exchange\nOAUTH_TOKEN_URL={}\n{CONFIDENTIAL}",
            srv.token_url()
        ),
    );
    // SSO not configured at all.
    let out = sb.run(&["-e", "dev", "auth", "token"]);
    out.assert_code(4).assert_stderr_contains("lmi login sso");
    // SSO configured, nobody logged in.
    sb.write_main(&format!(
        "OAUTH_SSO_ISSUER={}\nOAUTH_SSO_CLIENT_ID=lmi-public\nOAUTH_SSO_TOKEN_STORE=file\n",
        srv.idp_url()
    ));
    let out = sb.run(&["-e", "dev", "auth", "token"]);
    out.assert_code(4)
        .assert_stderr_contains("hint: run: lmi login sso");
    assert!(
        out.error_line().unwrap().contains("not logged in"),
        "{}",
        out.stderr
    );
    assert_eq!(srv.token_requests(), 0);
}
