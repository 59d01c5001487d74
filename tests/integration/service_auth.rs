//! Service authentication: grants, discovery, the token cache under
//! corruption and concurrency, and token-endpoint failures (SPEC §4),
//! against the in-repo test IdP and the third-party oauth2-mock-server.

use std::time::{Duration, Instant};

use lmi_testidp::{Client, Options, TestServer, TokenFailure, User, WellKnown};

use crate::support::node_mock::NodeMockServer;
use crate::support::{dead_port, mode, Sandbox};

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

    // A wrong password fails, and even at -vv it is in neither stderr nor the log.
    let wrong = "Wr0ng-pa55word-7f3a9c";
    let sb = sandbox(
        &srv,
        &format!("OAUTH_GRANT_TYPE=password\nOAUTH_USERNAME=alice\nOAUTH_PASSWORD={wrong}\n"),
    );
    let out = sb.run(&["-vv", "auth", "token"]);
    out.assert_code(4).assert_stderr_contains("invalid_grant");
    assert_eq!(
        srv.last_token_request().unwrap().param("password"),
        Some(wrong)
    );
    assert!(!sb.token_file("dev").exists());
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    assert!(log.contains("DEBUG http: POST"), "{log}");
    for text in [&out.stderr, &log] {
        assert!(!text.contains(wrong), "the password leaked:\n{text}");
    }
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
    // The counter sees hits on either document (404s included): RFC 8414
    // alone is found with one request and OpenID alone takes two, so lmi
    // asks for RFC 8414 first and falls back to OpenID.
    for (well_known, requests) in [
        (WellKnown::Both, 1),
        (WellKnown::OAuthOnly, 1),
        (WellKnown::OpenIdOnly, 2),
    ] {
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
        assert_eq!(srv.discovery_requests(), requests, "{well_known:?}");
        // The token is stale at once (lifetime < skew): the second run needs a
        // new token but reuses the cached metadata.
        sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
        assert_eq!(srv.discovery_requests(), requests, "{well_known:?}");
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
    // Cached metadata pointing at a port that refuses connections.
    let dead = dead_port();
    let dead_endpoint = format!("http://127.0.0.1:{}/token", dead.port);
    let meta = serde_json::json!({
        "service_url": format!("{}/", srv.idp_url()),
        "metadata": {"issuer": srv.idp_url(), "token_endpoint": dead_endpoint}
    });
    let meta_file = sb.tokens_dir().join(".dev.metadata.json");
    sb.write_private(&meta_file, &meta.to_string());
    sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
    assert_eq!(srv.discovery_requests(), 1);
    assert_eq!(srv.token_requests(), 1);
    // The cache now holds the live metadata, not the dead endpoint.
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_file).unwrap()).unwrap();
    assert_eq!(
        meta["metadata"]["token_endpoint"],
        srv.token_url().as_str(),
        "{meta}"
    );
    assert!(!meta.to_string().contains(&dead_endpoint), "{meta}");
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
    let srv = TestServer::start(Options {
        clients: vec![
            Client::confidential("lmi-client", "lmi-secret"),
            Client::confidential("second-client", "second-secret"),
        ],
        users: vec![
            User::new("alice", "wonderland", "alice@example.test"),
            User::new("bob", "builder", "bob@example.test"),
        ],
        ..Options::default()
    })
    .unwrap();
    let port = srv.idp_url().rsplit(':').next().unwrap().to_owned();
    let base = format!(
        "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
        srv.token_url()
    );
    let password = |user: &str, pass: &str| {
        format!("{base}OAUTH_GRANT_TYPE=password\nOAUTH_USERNAME={user}\nOAUTH_PASSWORD={pass}\n")
    };
    // Each variant differs from the one before in one setting the token was
    // issued for; (field in the cache file, value it must then hold).
    let variants: Vec<(&str, String, &str, String)> = vec![
        ("base", format!("{base}OAUTH_SCOPES=read\n"), "scopes", "read".into()),
        ("scopes", format!("{base}OAUTH_SCOPES=write\n"), "scopes", "write".into()),
        (
            "audience",
            format!("{base}OAUTH_SCOPES=write\nOAUTH_AUDIENCE=other\n"),
            "audience",
            "other".into(),
        ),
        (
            "client_id",
            format!(
                "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=second-client\nOAUTH_CLIENT_SECRET=second-secret\n",
                srv.token_url()
            ),
            "client_id",
            "second-client".into(),
        ),
        // The same endpoint by another name; plain http is allowed because
        // localhost is a loopback host.
        (
            "token_url",
            format!(
                "OAUTH_TOKEN_URL=http://localhost:{port}/token\nOAUTH_CLIENT_ID=second-client\nOAUTH_CLIENT_SECRET=second-secret\n"
            ),
            "token_url",
            format!("http://localhost:{port}/token"),
        ),
        ("grant_type", password("alice", "wonderland"), "grant_type", "password".into()),
        ("username", password("bob", "builder"), "username", "bob".into()),
    ];
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    for (n, (what, env, field, expected)) in variants.into_iter().enumerate() {
        sb.write_env("dev", &env);
        assert_eq!(token_json(&sb, &[])["source"], "acquired", "{what}");
        assert_eq!(srv.token_requests(), n + 1, "{what}");
        let cached: serde_json::Value =
            serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
        assert_eq!(cached[field], expected.as_str(), "{what}: {cached}");
        // The new token is then a hit for these settings.
        assert_eq!(token_json(&sb, &[])["source"], "cache", "{what}");
        assert_eq!(srv.token_requests(), n + 1, "{what}");
    }
}

#[test]
fn service_expiry_skew_decides_when_a_token_is_stale() {
    let srv = server();
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = sandbox(&srv, "TOKEN_EXPIRY_SKEW=10\n");
    assert_eq!(token_json(&sb, &[])["source"], "acquired");
    // 30 s left, 10 s skew: still valid.
    assert_eq!(token_json(&sb, &[])["source"], "cache");
    assert_eq!(srv.token_requests(), 1);
    // 30 s left, 60 s skew: stale.
    assert_eq!(
        token_json(&sb, &["--set", "TOKEN_EXPIRY_SKEW=60"])["source"],
        "acquired"
    );
    assert_eq!(srv.token_requests(), 2);
}

#[test]
fn service_lock_wait_is_bounded() {
    let srv = server();
    let sb = sandbox(&srv, "HTTP_TIMEOUT=1\n");
    // Another holder of the environment's lock that never lets go.
    std::fs::create_dir_all(sb.tokens_dir()).unwrap();
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(sb.tokens_dir().join(".dev.lock"))
        .unwrap();
    held.lock().unwrap();
    let started = Instant::now();
    let out = sb.run(&["auth", "token"]);
    let took = started.elapsed();
    out.assert_code(4).assert_stderr_contains("lock");
    assert!(out.stdout.is_empty());
    // The wait is HTTP_TIMEOUT * 2 + 10 s = 12 s, plus slack for a busy machine.
    assert!(
        took > Duration::from_secs(1) && took < Duration::from_secs(17),
        "took {took:?}"
    );
    assert_eq!(srv.token_requests(), 0);
    assert!(!sb.token_file("dev").exists());

    held.unlock().unwrap();
    assert_eq!(token_json(&sb, &[])["source"], "acquired");
    assert_eq!(srv.token_requests(), 1);
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
    // The "other" server as proxy records whatever lmi would send anywhere
    // over http, so "nothing was sent" is observable.
    let proxied = |extra: &str| {
        let mut sb = sandbox(&srv, extra);
        sb.var("HTTP_PROXY", srv.other_url());
        sb
    };
    proxied("OAUTH_GRANT_TYPE=implicit\n")
        .run(&["auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("client_credentials, password");
    proxied("OAUTH_CLIENT_AUTH_METHOD=private_key_jwt\n")
        .run(&["auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("client_secret_basic, client_secret_post");
    let sb = proxied("OAUTH_TOKEN_URL=http://idp.example.com/token\n");
    sb.run(&["auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("https");
    assert_eq!((srv.token_requests(), srv.other_requests()), (0, 0));

    // Control: a valid https configuration in the same setup does reach the
    // proxy (loopback endpoints never go through one).
    proxied("OAUTH_TOKEN_URL=https://idp.example/token\n")
        .run(&["auth", "token"])
        .assert_code(4);
    assert!(srv.other_requests() >= 1);
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
    let dead = dead_port();
    let sb = Sandbox::new();
    let url = format!("http://127.0.0.1:{}/token", dead.port);
    sb.write_env(
        "dev",
        &format!("OAUTH_TOKEN_URL={url}\nOAUTH_CLIENT_ID=a\nOAUTH_CLIENT_SECRET=b\n"),
    );
    sb.run(&["-e", "dev", "auth", "token"])
        .assert_code(4)
        .assert_stderr_contains(&format!("could not reach {url}"))
        .assert_stderr_contains("refused");

    let srv = server();
    let sb = sandbox(&srv, "HTTP_TIMEOUT=1\n");
    let before = seed_stale_cache(&sb, &srv);
    srv.set(|b| b.token_failure = Some(TokenFailure::Slow(Duration::from_secs(30))));
    let started = Instant::now();
    let out = sb.run(&["auth", "token"]);
    out.assert_code(4)
        .assert_stderr_contains("did not answer within 1 s");
    // Far below the server's 30 s: the 1 s timeout ended the wait.
    assert!(
        started.elapsed() < Duration::from_secs(8),
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
    assert_eq!(srv.token_requests(), 2);
    srv.reset_counts();

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
    // `auth status` (and `auth clear`) work without the network: no server
    // saw a request.
    assert_eq!(
        (
            srv.token_requests(),
            srv.discovery_requests(),
            srv.api_requests(),
            srv.other_requests()
        ),
        (0, 0, 0, 0)
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

fn cached_refresh_token(sb: &Sandbox) -> String {
    let cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
    cached["refresh_token"].as_str().unwrap().to_owned()
}

#[test]
fn service_secrets_never_reach_logs() {
    let srv = server();
    // Lifetime below the skew: the second run refreshes, so a refresh token
    // travels too. The confidential client authenticates with HTTP Basic.
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = sandbox(
        &srv,
        "OAUTH_GRANT_TYPE=password\nOAUTH_USERNAME=alice\nOAUTH_PASSWORD=wonderland\n",
    );
    let first = sb.run(&["-vv", "auth", "token"]);
    first.assert_ok();
    let first_refresh = cached_refresh_token(&sb);
    let second = sb.run(&["-vv", "auth", "token"]);
    second.assert_ok();
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    let req = srv.last_token_request().unwrap();
    assert_eq!(req.param("refresh_token"), Some(first_refresh.as_str()));
    // The base64 of `lmi-client:lmi-secret`, as the server received it.
    let basic = req
        .authorization()
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap()
        .to_owned();

    let mut secrets = vec![
        "lmi-secret".to_owned(),
        "wonderland".to_owned(),
        basic,
        first_refresh,
        cached_refresh_token(&sb),
    ];
    for out in [&first, &second] {
        secrets.push(out.json()["access_token"].as_str().unwrap().to_owned());
        // The exchanges were logged, so the absence checks below mean something.
        assert!(out.stderr.contains("debug[http]: POST"), "{}", out.stderr);
    }
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    assert_eq!(log.matches("DEBUG http: POST").count(), 2, "{log}");
    for text in [&first.stderr, &second.stderr, &log] {
        assert!(
            !text.contains("Basic "),
            "an Authorization header leaked:\n{text}"
        );
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{secret} leaked:\n{text}");
        }
    }
}

#[test]
fn service_verbosity_levels() {
    let srv = server();
    let sb = sandbox(&srv, "");
    // -q: only errors, so not the warning about a secret on the command line
    // that a normal run prints.
    let args = ["auth", "token", "--oauth-client-secret", "lmi-secret"];
    sb.run(&args)
        .assert_ok()
        .assert_stderr_contains("warning: OAUTH_CLIENT_SECRET was given on the command line");
    let mut quiet = vec!["-q"];
    quiet.extend_from_slice(&args);
    let out = sb.run(&quiet);
    out.assert_ok();
    assert_eq!(out.stderr, "");

    // -vv: cache misses and hits.
    sb.run(&["auth", "clear"]).assert_ok();
    let miss = sb.run(&["-vv", "auth", "token"]);
    miss.assert_ok()
        .assert_stderr_contains("debug[auth]: cache miss for environment dev");
    assert!(!miss.stderr.contains("cache hit"), "{}", miss.stderr);
    let hit = sb.run(&["-vv", "auth", "token"]);
    hit.assert_ok()
        .assert_stderr_contains("debug[auth]: cache hit for environment dev");
    assert!(!hit.stderr.contains("cache miss"), "{}", hit.stderr);

    // -vv on an unreachable endpoint: the failed exchange, then the error.
    let dead = dead_port();
    let url = format!("http://127.0.0.1:{}/token", dead.port);
    let out = sb.run(&["-vv", "auth", "token", "--oauth-token-url", &url]);
    out.assert_code(4);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let failed = lines
        .iter()
        .position(|l| l.starts_with(&format!("debug[http]: POST {url} failed")))
        .unwrap_or_else(|| panic!("no failed exchange:\n{}", out.stderr));
    let error = lines
        .iter()
        .position(|l| l.starts_with("error: ") && l.contains(&url))
        .unwrap_or_else(|| panic!("no error line:\n{}", out.stderr));
    assert!(failed < error, "{}", out.stderr);
    // -vv adds the cause chain under the error; without it there is none.
    assert!(
        lines[error..].iter().any(|l| l.starts_with("caused by: ")),
        "{}",
        out.stderr
    );
    let quiet = sb.run(&["auth", "token", "--oauth-token-url", &url]);
    assert!(!quiet.stderr.contains("caused by:"), "{}", quiet.stderr);
}

#[test]
fn service_cache_folder_overrides() {
    let srv = server();
    let mut sb = sandbox(&srv, "");
    let xdg = sb.home().join("xdg-cache");
    sb.var("XDG_CACHE_HOME", xdg.display().to_string());
    assert_eq!(token_json(&sb, &[])["source"], "acquired");
    let file = xdg.join("lmi/tokens/dev.json");
    assert_eq!(mode(&file), 0o600);
    assert!(!sb.token_file("dev").exists());
    assert_eq!(token_json(&sb, &[])["source"], "cache");

    // LMI_CACHE_DIR names the folder holding tokens/ and wins over XDG.
    let custom = sb.home().join("custom-cache");
    sb.var("LMI_CACHE_DIR", custom.display().to_string());
    assert_eq!(token_json(&sb, &[])["source"], "acquired");
    let file = custom.join("tokens/dev.json");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&custom.join("tokens")), 0o700);
    assert_eq!(token_json(&sb, &[])["source"], "cache");
    assert_eq!(srv.token_requests(), 2);
}

/// Checks one file-log line: `<RFC 3339 UTC time> <LEVEL> <component>: <message>`.
fn check_log_line(line: &str) -> Result<(&str, &str), String> {
    let (time, rest) = line.split_once(' ').ok_or("no space")?;
    let b = time.as_bytes();
    let date_ok = b.len() > 11
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && b[10] == b'T'
        && time.ends_with('Z');
    if !date_ok {
        return Err(format!("bad timestamp {time:?}"));
    }
    let (level, rest) = rest.trim_start().split_once(' ').ok_or("no level")?;
    if !["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level) {
        return Err(format!("bad level {level:?}"));
    }
    let (component, _) = rest.split_once(": ").ok_or("no component")?;
    if !["config", "auth", "sso", "http", "plugin"].contains(&component) {
        return Err(format!("bad component {component:?}"));
    }
    Ok((level, component))
}

#[test]
fn service_log_lines_have_the_documented_format() {
    let srv = server();
    let sb = sandbox(&srv, "");
    // A corrupt cache adds a WARN line to the DEBUG and INFO ones.
    std::fs::create_dir_all(sb.tokens_dir()).unwrap();
    std::fs::write(sb.token_file("dev"), b"{").unwrap();
    sb.run(&["-vv", "auth", "token"]).assert_ok();
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for line in log.lines() {
        let (level, component) =
            check_log_line(line).unwrap_or_else(|e| panic!("{e} in {line:?}\n{log}"));
        seen.insert(level);
        seen.insert(component);
    }
    for expected in ["WARN", "INFO", "DEBUG", "config", "auth", "http"] {
        assert!(seen.contains(expected), "no {expected} line:\n{log}");
    }
}

#[test]
fn service_https_proxy_gets_a_connect() {
    let srv = server();
    let mut sb = Sandbox::new();
    sb.write_env(
        "dev",
        "OAUTH_TOKEN_URL=https://idp.example/token\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
    );
    // The "other" server stands in for the proxy: it answers the CONNECT
    // with 200 and then plain HTTP where TLS is expected, so the exchange
    // fails after reaching it.
    sb.var("HTTPS_PROXY", srv.other_url());
    sb.run(&["-e", "dev", "auth", "token"]).assert_code(4);
    assert!(srv.other_requests() >= 1, "the proxy was not asked");
    assert!(
        srv.other_authorization_headers()
            .iter()
            .all(Option::is_none),
        "client credentials were sent to the proxy: {:?}",
        srv.other_authorization_headers()
    );
    assert_eq!(srv.token_requests(), 0);
    assert!(!sb.token_file("dev").exists());
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
    // The "other" server of a second test server stands in for a proxy: it
    // records what reaches it.
    let srv = server();
    let proxy = server();
    let mut sb = sandbox(&srv, "");
    sb.var("HTTP_PROXY", proxy.other_url());
    // Loopback endpoints never go through a proxy: plain-HTTP secrets stay
    // on this machine.
    sb.run(&["auth", "token"]).assert_ok();
    assert_eq!((srv.token_requests(), proxy.other_requests()), (1, 0));

    // Any other host goes through it (a CONNECT for https).
    sb.write_env(
        "dev",
        "OAUTH_TOKEN_URL=https://idp.example/token\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
    );
    sb.run(&["auth", "token"]).assert_code(4);
    assert!(
        proxy.other_requests() >= 1,
        "the request went through the proxy"
    );

    // NO_PROXY exempts the host: lmi goes direct (and, with no network
    // here, cannot resolve it), and a fresh proxy sees nothing.
    let unused = server();
    sb.var("HTTP_PROXY", unused.other_url());
    sb.var("NO_PROXY", "idp.example");
    sb.run(&["auth", "token"]).assert_code(4);
    assert_eq!(unused.other_requests(), 0, "NO_PROXY bypasses the proxy");
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

#[test]
fn service_status_counts_only_a_usable_token() {
    let srv = server();
    let sb = sandbox(&srv, "");
    sb.run(&["auth", "token", "--oauth-scopes", "read"])
        .assert_ok();
    // Cached, but for other scopes than the configuration's: not usable.
    assert_eq!(
        sb.run(&["auth", "status"]).json()["environment"]["token_cached"],
        false
    );
    assert_eq!(
        sb.run(&["auth", "status", "--oauth-scopes", "read"]).json()["environment"]["token_cached"],
        true
    );
    assert_eq!(srv.token_requests(), 1);
}

#[test]
fn service_token_endpoint_that_is_not_one() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let wrong = format!("{}/tokn", srv.idp_url());
    let out = sb.run(&["auth", "token", "--oauth-token-url", &wrong]);
    out.assert_code(4)
        .assert_stderr_contains("answered HTTP 404")
        .assert_stderr_contains("is that the token endpoint?");
    assert!(!out.stderr.contains("refused"), "{}", out.stderr);
}
