//! Service authentication: grants, discovery, the token cache under
//! corruption and concurrency, and token-endpoint failures (SPEC §4),
//! against the in-repo test IdP and the third-party oauth2-mock-server.

use std::time::{Duration, Instant};

use lmi_testidp::{Client, TestServer, TokenFailure, User, WellKnown};

use crate::support::node_mock::NodeMockServer;
use crate::support::{mode, Sandbox};

fn server() -> TestServer {
    TestServer::start_default().expect("test IdP")
}

/// A sandbox whose `dev` environment uses the IdP's client credentials.
fn sandbox(srv: &TestServer, extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n{extra}",
            srv.token_url()
        ),
    );
    sb
}

fn token_json(sb: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["auth", "token"];
    all.extend_from_slice(args);
    let out = sb.run(&all);
    out.assert_ok();
    out.json()
}

#[test]
fn service_cold_then_warm_cache() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let first = token_json(&sb, &[]);
    assert_eq!(first["source"], "acquired");
    assert_eq!(first["environment"], "dev");
    assert_eq!(first["token_type"], "Bearer");
    assert!(first["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(srv.token_requests(), 1);

    let second = token_json(&sb, &[]);
    assert_eq!(second["source"], "cache");
    assert_eq!(second["access_token"], first["access_token"]);
    assert_eq!(
        srv.token_requests(),
        1,
        "a warm cache makes no token request"
    );

    let text = sb.run(&["auth", "token", "-o", "text"]);
    assert_eq!(
        text.stdout.trim_end(),
        first["access_token"].as_str().unwrap()
    );

    // The file: 0600 in 0700 folders, with the documented fields.
    let file = sb.token_file("dev");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&sb.tokens_dir()), 0o700);
    assert_eq!(mode(&sb.home().join(".cache/lmi")), 0o700);
    let cached: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for field in [
        "access_token",
        "token_type",
        "expires_at",
        "obtained_at",
        "token_url",
        "client_id",
        "grant_type",
    ] {
        assert!(cached.get(field).is_some(), "missing {field}: {cached}");
    }
    assert_eq!(cached["client_id"], "lmi-client");
    assert_eq!(cached["grant_type"], "client_credentials");
    assert!(cached["expires_at"].as_i64().unwrap() > cached["obtained_at"].as_i64().unwrap());
}

#[test]
fn service_client_auth_methods() {
    let srv = server();
    let sb = sandbox(
        &srv,
        "OAUTH_SCOPES=\"read write\"\nOAUTH_AUDIENCE=https://api.example\n",
    );
    token_json(&sb, &[]);
    let req = srv.last_token_request().unwrap();
    assert!(req.header("authorization").unwrap().starts_with("Basic "));
    assert_eq!(req.param("client_secret"), None);
    assert_eq!(req.param("scope"), Some("read write"));
    assert_eq!(req.param("audience"), Some("https://api.example"));

    let sb = sandbox(&srv, "OAUTH_CLIENT_AUTH_METHOD=client_secret_post\n");
    token_json(&sb, &[]);
    let req = srv.last_token_request().unwrap();
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.param("client_id"), Some("lmi-client"));
    assert_eq!(req.param("client_secret"), Some("lmi-secret"));
}

#[test]
fn service_basic_auth_form_encodes_id_and_secret() {
    let srv = TestServer::start(lmi_testidp::Options {
        clients: vec![Client::confidential("id with:colon", "sec ret/+%")],
        ..Default::default()
    })
    .unwrap();
    let sb = Sandbox::new();
    sb.write_env(
        "dev",
        &format!("OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=\"id with:colon\"\nOAUTH_CLIENT_SECRET='sec ret/+%'\n", srv.token_url()),
    );
    sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
}

#[test]
fn service_password_grant_public_and_confidential() {
    let srv = server();
    let sb = Sandbox::new();
    sb.write_env(
        "pw",
        &format!(
            "OAUTH_GRANT_TYPE=password\nOAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-public\nOAUTH_USERNAME=alice\nOAUTH_PASSWORD=wonderland\n",
            srv.token_url()
        ),
    );
    sb.run(&["-e", "pw", "auth", "token"]).assert_ok();
    let req = srv.last_token_request().unwrap();
    assert_eq!(req.param("grant_type"), Some("password"));
    assert_eq!(req.param("client_id"), Some("lmi-public"));
    assert_eq!(
        req.header("authorization"),
        None,
        "a public client sends only client_id"
    );
    assert_eq!(req.param("client_secret"), None);

    let sb = sandbox(
        &srv,
        "OAUTH_GRANT_TYPE=password\nOAUTH_USERNAME=alice\nOAUTH_PASSWORD=wrong\n",
    );
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4).assert_stderr_contains("invalid_grant");
    assert!(!out.stderr.contains("wrong\n") && !sb.token_file("dev").exists());
}

#[test]
fn service_refresh_token_is_used_then_full_grant_on_failure() {
    let srv = server();
    // Lifetime below the skew: every token is stale as soon as it is cached.
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = sandbox(
        &srv,
        "OAUTH_GRANT_TYPE=password\nOAUTH_USERNAME=alice\nOAUTH_PASSWORD=wonderland\n",
    );
    token_json(&sb, &[]);
    assert_eq!(srv.token_requests_by_grant("password"), 1);
    let cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
    assert!(cached["refresh_token"].is_string());

    let second = token_json(&sb, &[]);
    assert_eq!(second["source"], "acquired");
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(srv.token_requests_by_grant("password"), 1);

    srv.set(|b| b.refresh_failure = true);
    token_json(&sb, &[]);
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 2);
    assert_eq!(
        srv.token_requests_by_grant("password"),
        2,
        "a failed refresh falls back to the grant"
    );
}

#[test]
fn service_discovery_is_cached_and_falls_back_to_openid() {
    for well_known in [WellKnown::Both, WellKnown::OpenIdOnly] {
        let srv = server();
        srv.set(|b| {
            b.well_known = well_known;
            b.token_lifetime = Some(30);
        });
        let sb = Sandbox::new();
        sb.write_env(
            "dev",
            &format!("OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n", srv.idp_url()),
        );
        sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
        let discovered = srv.discovery_requests();
        assert!(discovered >= 1);
        // The token is stale at once (lifetime < skew): the second run needs a
        // new token but reuses the cached metadata.
        sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
        assert_eq!(srv.discovery_requests(), discovered);
        assert_eq!(srv.token_requests(), 2);
    }
}

#[test]
fn service_stale_metadata_is_fetched_again() {
    let srv = server();
    let sb = Sandbox::new();
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            srv.idp_url()
        ),
    );
    // Cached metadata pointing at a port where nothing listens.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let meta = serde_json::json!({
        "service_url": format!("{}/", srv.idp_url()),
        "metadata": {"issuer": srv.idp_url(), "token_endpoint": format!("http://127.0.0.1:{dead}/token")}
    });
    sb.write_private(
        &sb.tokens_dir().join(".dev.metadata.json"),
        &meta.to_string(),
    );
    sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
    assert!(srv.discovery_requests() >= 1);
    assert_eq!(srv.token_requests(), 1);
}

#[test]
fn service_jwt_exp_is_used_when_expires_in_is_absent() {
    let srv = server();
    srv.set(|b| {
        b.jwt_access_tokens = true;
        b.token_lifetime = None;
    });
    let sb = sandbox(&srv, "");
    let out = token_json(&sb, &[]);
    assert!(out["expires_at"].is_string(), "{out}");
    let cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
    let exp = cached["expires_at"].as_i64().unwrap();
    let obtained = cached["obtained_at"].as_i64().unwrap();
    assert!((3500..=3700).contains(&(exp - obtained)), "{cached}");

    // Opaque token without a lifetime: expires_at null, and it stays valid.
    let srv = server();
    srv.set(|b| b.token_lifetime = None);
    let sb = sandbox(&srv, "");
    assert!(token_json(&sb, &[])["expires_at"].is_null());
    assert_eq!(token_json(&sb, &[])["source"], "cache");
}

#[test]
fn service_token_for_other_settings_is_a_miss() {
    let srv = server();
    let sb = sandbox(&srv, "OAUTH_SCOPES=read\n");
    token_json(&sb, &[]);
    assert_eq!(token_json(&sb, &[])["source"], "cache");
    assert_eq!(
        token_json(&sb, &["--oauth-scopes", "write"])["source"],
        "acquired"
    );
    assert_eq!(
        token_json(&sb, &["--set", "OAUTH_AUDIENCE=other"])["source"],
        "acquired"
    );
    assert_eq!(srv.token_requests(), 3);
}

#[test]
fn service_missing_keys_fail_before_any_request() {
    let srv = server();
    let cases: &[(&str, &str)] = &[
        ("OAUTH_CLIENT_SECRET=x\n", "OAUTH_CLIENT_ID"),
        ("OAUTH_CLIENT_ID=x\n", "OAUTH_CLIENT_SECRET"),
        (
            "OAUTH_GRANT_TYPE=password\nOAUTH_CLIENT_ID=x\nOAUTH_PASSWORD=p\n",
            "OAUTH_USERNAME",
        ),
        (
            "OAUTH_GRANT_TYPE=password\nOAUTH_CLIENT_ID=x\nOAUTH_USERNAME=u\n",
            "OAUTH_PASSWORD",
        ),
    ];
    for (text, key) in cases {
        let sb = Sandbox::new();
        sb.write_env(
            "dev",
            &format!("OAUTH_TOKEN_URL={}\n{text}", srv.token_url()),
        );
        let out = sb.run(&["-e", "dev", "auth", "token"]);
        out.assert_code(3)
            .assert_stderr_contains(&format!("{key} is not set"));
        out.assert_stderr_contains("env/dev.env");
    }
    let sb = Sandbox::new();
    sb.write_env("dev", "OAUTH_CLIENT_ID=x\nOAUTH_CLIENT_SECRET=y\n");
    sb.run(&["-e", "dev", "auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("OAUTH_TOKEN_URL");
    assert_eq!(srv.token_requests(), 0);
}

#[test]
fn service_invalid_values_list_the_valid_ones() {
    let srv = server();
    let sb = sandbox(&srv, "OAUTH_GRANT_TYPE=implicit\n");
    sb.run(&["auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("client_credentials, password");
    let sb = sandbox(&srv, "OAUTH_CLIENT_AUTH_METHOD=private_key_jwt\n");
    sb.run(&["auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("client_secret_basic, client_secret_post");
    let sb = sandbox(&srv, "OAUTH_TOKEN_URL=http://idp.example.com/token\n");
    sb.run(&["auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("https");
    assert_eq!(srv.token_requests(), 0);
}

/// A stale but well-formed cache file that a failed exchange must not touch.
fn seed_stale_cache(sb: &Sandbox, srv: &TestServer) -> Vec<u8> {
    srv.set(|b| b.token_lifetime = Some(30));
    sb.run(&["auth", "token"]).assert_ok();
    srv.set(|b| b.token_lifetime = Some(3600));
    std::fs::read(sb.token_file("dev")).unwrap()
}

#[test]
fn service_token_endpoint_failures_keep_the_cache() {
    let cases: Vec<(TokenFailure, &str)> = vec![
        (
            TokenFailure::InvalidClient,
            "invalid_client: Client authentication failed",
        ),
        (TokenFailure::ServerError, "HTTP 500"),
        (TokenFailure::NotJson, "not a JSON object"),
        (TokenFailure::NoAccessToken, "no access_token"),
        (
            TokenFailure::ExpiresInString,
            "expires_in that is not a number",
        ),
        (TokenFailure::ExpiresInNegative, "negative expires_in"),
    ];
    for (failure, message) in cases {
        let srv = server();
        let sb = sandbox(&srv, "");
        let before = seed_stale_cache(&sb, &srv);
        srv.set(|b| b.token_failure = Some(failure.clone()));
        let out = sb.run(&["auth", "token"]);
        out.assert_code(4).assert_stderr_contains(message);
        assert!(out.stdout.is_empty());
        assert!(!out.stderr.contains("lmi-secret"));
        assert_eq!(
            std::fs::read(sb.token_file("dev")).unwrap(),
            before,
            "cache changed after {failure:?}"
        );
    }
}

#[test]
fn service_unreachable_and_slow_endpoints() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sb = Sandbox::new();
    let url = format!("http://127.0.0.1:{dead}/token");
    sb.write_env(
        "dev",
        &format!("OAUTH_TOKEN_URL={url}\nOAUTH_CLIENT_ID=a\nOAUTH_CLIENT_SECRET=b\n"),
    );
    sb.run(&["-e", "dev", "auth", "token"])
        .assert_code(4)
        .assert_stderr_contains(&url);

    let srv = server();
    let sb = sandbox(&srv, "HTTP_TIMEOUT=1\n");
    let before = seed_stale_cache(&sb, &srv);
    srv.set(|b| b.token_failure = Some(TokenFailure::Slow(Duration::from_secs(5))));
    let started = Instant::now();
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4)
        .assert_stderr_contains("did not answer within 1 s");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(std::fs::read(sb.token_file("dev")).unwrap(), before);
}

#[test]
fn service_corrupt_cache_heals() {
    let srv = server();
    let contents: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        (
            "truncated",
            b"{\"access_token\":\"abc\",\"token_ty".to_vec(),
        ),
        ("binary", vec![0, 159, 146, 150, 255, 1, 2]),
        ("wrong shape", b"{\"hello\":[1,2,3]}".to_vec()),
        ("array", b"[]".to_vec()),
    ];
    for (what, bytes) in contents {
        let sb = sandbox(&srv, "");
        std::fs::create_dir_all(sb.tokens_dir()).unwrap();
        std::fs::write(sb.token_file("dev"), &bytes).unwrap();
        let out = sb.run(&["auth", "token"]);
        out.assert_ok()
            .assert_stderr_contains("warning: ignoring the token cache");
        assert_eq!(out.json()["source"], "acquired", "{what}");
        // Healed: the next run is a clean hit.
        let again = sb.run(&["auth", "token"]);
        assert_eq!(again.json()["source"], "cache", "{what}");
        assert!(again.stderr.is_empty(), "{what}: {}", again.stderr);
    }
    // A directory where the file belongs.
    let sb = sandbox(&srv, "");
    std::fs::create_dir_all(sb.token_file("dev").join("junk")).unwrap();
    sb.run(&["auth", "token"])
        .assert_ok()
        .assert_stderr_contains("warning:");
    assert!(sb.token_file("dev").is_file());
}

#[test]
fn service_unwritable_cache_still_prints_the_token() {
    let srv = server();
    let mut sb = sandbox(&srv, "");
    // A regular file where the cache folder should be: nothing can be created
    // below it, even as root.
    let blocker = sb.home().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    sb.var("LMI_CACHE_DIR", blocker.display().to_string());
    let out = sb.run(&["auth", "token"]);
    out.assert_ok()
        .assert_stderr_contains("could not cache the token");
    assert_eq!(out.json()["source"], "acquired");
}

#[test]
fn service_concurrent_cold_cache_makes_one_request() {
    let srv = server();
    // A slow token endpoint widens the window in which runs overlap.
    srv.set(|b| b.token_failure = Some(TokenFailure::Slow(Duration::from_millis(300))));
    let sb = sandbox(&srv, "");
    let children: Vec<_> = (0..32)
        .map(|_| {
            sb.cmd(&["auth", "token", "-o", "text"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        })
        .collect();
    assert_eq!(
        srv.token_requests(),
        1,
        "32 parallel runs must share one token request"
    );
    assert!(tokens.iter().all(|t| t == &tokens[0] && !t.is_empty()));
    let cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
    assert_eq!(cached["access_token"], tokens[0].as_str());
}

#[test]
fn service_clear_and_status() {
    let srv = server();
    let sb = sandbox(&srv, "");
    sb.write_env(
        "qa",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            srv.token_url()
        ),
    );
    sb.run(&["auth", "token"]).assert_ok();
    sb.run(&["-e", "qa", "auth", "token"]).assert_ok();

    let status = sb.run(&["auth", "status"]);
    status.assert_ok();
    let status = status.json();
    assert_eq!(status["environment"]["name"], "dev");
    assert_eq!(status["environment"]["token_cached"], true);
    assert_eq!(status["environment"]["grant_type"], "client_credentials");
    assert_eq!(status["sso"]["configured"], false);

    assert_eq!(
        sb.run(&["auth", "clear"]).json()["cleared"],
        serde_json::json!(["dev"])
    );
    assert!(!sb.token_file("dev").exists() && sb.token_file("qa").exists());
    assert_eq!(
        sb.run(&["auth", "status"]).json()["environment"]["token_cached"],
        false
    );
    assert_eq!(
        sb.run(&["auth", "clear", "--all"]).json()["cleared"],
        serde_json::json!(["qa"])
    );
    assert_eq!(
        sb.run(&["auth", "clear", "--all"]).json()["cleared"],
        serde_json::json!([])
    );
}

#[test]
fn service_secrets_never_reach_logs() {
    let srv = server();
    let sb = sandbox(
        &srv,
        "OAUTH_GRANT_TYPE=password\nOAUTH_USERNAME=alice\nOAUTH_PASSWORD=wonderland\n",
    );
    let out = sb.run(&["-vv", "auth", "token"]);
    out.assert_ok();
    let token = out.json()["access_token"].as_str().unwrap().to_owned();
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    assert!(out.stderr.contains("debug[http]: POST"), "{}", out.stderr);
    for text in [&out.stderr, &log] {
        for secret in ["lmi-secret", "wonderland", token.as_str()] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
    }
}

#[test]
fn service_grants_against_oauth2_mock_server() {
    let mock = NodeMockServer::start();
    let sb = Sandbox::new();
    sb.write_env(
        "cc",
        &format!("OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID=any\nOAUTH_CLIENT_SECRET=any-secret\nOAUTH_SCOPES=read\n", mock.issuer),
    );
    sb.write_env(
        "pw",
        &format!(
            "OAUTH_GRANT_TYPE=password\nOAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=any\nOAUTH_USERNAME=bob\nOAUTH_PASSWORD=pw\n",
            mock.url("/token")
        ),
    );
    let cc = sb.run(&["-e", "cc", "auth", "token"]);
    cc.assert_ok();
    let cc = cc.json();
    assert_eq!(cc["source"], "acquired");
    assert!(cc["expires_at"].is_string());
    assert_eq!(
        sb.run(&["-e", "cc", "auth", "token"]).json()["source"],
        "cache"
    );

    let pw = sb.run(&["-e", "pw", "auth", "token"]);
    pw.assert_ok();
    let cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("pw")).unwrap()).unwrap();
    assert_eq!(cached["grant_type"], "password");
    assert_eq!(cached["username"], "bob");
    assert!(cached["refresh_token"].is_string());
    let _ = User::new("unused", "unused", "unused@example.test");
}

#[test]
fn service_proxy_variables_are_honoured() {
    let srv = server();
    // The "other" server stands in for a proxy: it records what reaches it.
    let mut sb = sandbox(&srv, "");
    sb.var("HTTP_PROXY", srv.other_url());
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4);
    assert!(
        srv.other_requests() >= 1,
        "the request went through the proxy"
    );
    assert_eq!(srv.token_requests(), 0);

    sb.var("NO_PROXY", "127.0.0.1");
    sb.run(&["auth", "token"]).assert_ok();
    // The proxy cannot issue tokens: a token request at the IdP proves the
    // request went direct.
    assert_eq!(srv.token_requests(), 1, "NO_PROXY bypasses the proxy");
}

#[test]
fn service_https_with_ssl_cert_file() {
    use crate::support::tls_server::TlsServer;
    let tls = TlsServer::start();
    for host in ["localhost", "127.0.0.1"] {
        let mut sb = Sandbox::new();
        sb.write_env(
            "tls",
            &format!(
                "OAUTH_TOKEN_URL=https://{host}:{port}/token\nOAUTH_CLIENT_ID=a\nOAUTH_CLIENT_SECRET=b\nAPI_BASE_URL=https://{host}:{port}\n",
                port = tls.port
            ),
        );
        // The test CA is not trusted by the system: the handshake fails and
        // nothing is cached.
        let out = sb.run(&["-e", "tls", "auth", "token"]);
        out.assert_code(4)
            .assert_stderr_contains("certificate")
            .assert_stderr_contains("SSL_CERT_FILE");
        assert!(!sb.token_file("tls").exists());

        // SSL_CERT_FILE names the CA bundle to trust.
        sb.var("SSL_CERT_FILE", TlsServer::ca_file().display().to_string());
        let out = sb.run(&["-e", "tls", "auth", "token"]);
        out.assert_ok();
        assert_eq!(out.json()["access_token"], "tls-token");
        let out = sb.run(&["-e", "tls", "api", "/whoami"]);
        out.assert_ok();
        assert_eq!(out.json()["tls"], true);
    }
}

#[test]
fn service_changed_service_url_is_a_miss() {
    let first = server();
    let second = server();
    let sb = Sandbox::new();
    let env = |srv: &TestServer| {
        format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            srv.idp_url()
        )
    };
    sb.write_env("dev", &env(&first));
    sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
    assert_eq!(token_json(&sb, &["-e", "dev"])["source"], "cache");
    // Another OAuth service: its token must not be the first one's.
    sb.write_env("dev", &env(&second));
    assert_eq!(token_json(&sb, &["-e", "dev"])["source"], "acquired");
    assert_eq!((first.token_requests(), second.token_requests()), (1, 1));
}
