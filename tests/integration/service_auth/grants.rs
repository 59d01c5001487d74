//! The grants and how the client authenticates: client credentials with
//! each client authentication method, password and refresh-token grants,
//! endpoint discovery and its cache, and the same against
//! oauth2-mock-server.

use lmi_testidp::{Client, TestServer, User, WellKnown};

use super::{sandbox, server, token_json};
use crate::support::node_mock::NodeMockServer;
use crate::support::{dead_port, Sandbox};

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
    crate::support::backdate(&sb.token_file("dev"));
    assert_eq!(srv.token_requests_by_grant("password"), 1);
    let cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
    assert!(cached["refresh_token"].is_string());

    let second = token_json(&sb, &[]);
    assert_eq!(second["source"], "acquired");
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(srv.token_requests_by_grant("password"), 1);

    srv.set(|b| b.refresh_failure = true);
    crate::support::backdate(&sb.token_file("dev"));
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
        crate::support::backdate(&sb.tokens_dir().join("dev.json"));
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
