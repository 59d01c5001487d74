//! The transport under the token requests: HTTPS proxies (CONNECT), the
//! proxy variables, and a private CA through `SSL_CERT_FILE`.

use super::{sandbox, server};
use crate::support::Sandbox;

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
