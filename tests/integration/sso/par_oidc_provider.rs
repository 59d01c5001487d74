//! The browser login with pushed authorization requests (RFC 9126) and a
//! DPoP-bound session (RFC 9449) against a real third-party OpenID
//! Provider: panva's `oidc-provider` (`tests/node/oidc-provider.mjs`),
//! whose clients `lmi-par-dpop` and `lmi-par-dpop-nonce` require pushed
//! requests and DPoP-bound tokens (a token request without a valid proof is
//! refused), the second with a server nonce in every proof. The scripted
//! user agent (`tests/node/device-approve.mjs` as `$BROWSER`) signs in and
//! consents on oidc-provider's own pages and follows the redirect to lmi's
//! loopback callback.

use super::{login, session_file, stored, take_report};
use crate::support::node_mock::{node_dir, NodeMockServer};
use crate::support::Sandbox;

/// Logs in as `client` and checks what every such login must show; returns
/// the sandbox (for more checks) and `-vv`'s stderr.
fn dpop_login(idp: &NodeMockServer, client: &str) -> (Sandbox, String) {
    let mut sb = Sandbox::new();
    sb.write_main(&format!(
        "OAUTH_SSO_ISSUER={}\nOAUTH_SSO_CLIENT_ID={client}\nOAUTH_SSO_SCOPES=openid profile email\nOAUTH_SSO_TOKEN_STORE=file\nOAUTH_SSO_FLOW=browser\nOAUTH_SSO_DPOP=true\n",
        idp.issuer
    ));
    let report = sb.home().join("browser-report.json");
    sb.var(
        "BROWSER",
        format!(
            "node {} --login alice --report {}",
            node_dir().join("device-approve.mjs").display(),
            report.display()
        ),
    );
    let out = login(&sb, &["-vv"]);
    let seen = take_report(&report);
    out.assert_ok();
    assert_eq!(seen["ok"], true, "the user agent: {seen}");
    let json = out.json();
    assert_eq!(json["user"], "alice");
    assert_eq!(json["issuer"], idp.issuer);

    // Pushed: the URL names only client_id and request_uri.
    out.assert_stderr_contains("pushed the authorization request to");
    let printed = out
        .stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{}/", idp.issuer)) && l.contains("request_uri="))
        .unwrap_or_else(|| panic!("no pushed URL on stderr:\n{}", out.stderr));
    let url = url::Url::parse(printed).unwrap();
    let mut names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    names.sort();
    assert_eq!(names, ["client_id", "request_uri"], "{printed}");

    // The session is DPoP-bound: oidc-provider issued a DPoP token (it
    // would have refused a request without a valid proof), and the key is
    // kept inside the session's entry.
    let session = stored(&sb);
    assert_eq!(session["token_type"], "DPoP", "{session}");
    let jkt = session["dpop_jkt"].as_str().unwrap();
    assert_eq!(jkt.len(), 43, "{jkt}");
    let jwk: serde_json::Value =
        serde_json::from_str(session["dpop_jwk"].as_str().unwrap()).unwrap();
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert!(jwk["d"].is_string());
    let status = sb.run(&["auth", "status"]);
    status.assert_ok();
    assert_eq!(status.json()["sso"]["token_type"], "DPoP");
    let inspect = sb.run(&["auth", "inspect", "--sso"]);
    inspect.assert_ok();
    assert_eq!(inspect.json()["token_type"], "DPoP");
    assert_eq!(inspect.json()["dpop_key_matches"], true);

    // The private key and the proofs never reach a log line.
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    let d = jwk["d"].as_str().unwrap();
    for text in [&out.stderr, &log] {
        assert!(!text.contains(d), "the private key leaked");
        assert!(
            !text.contains("dpop+jwt") && !text.contains("eyJ0eXAiOiJkcG9w"),
            "a proof leaked"
        );
    }
    (sb, out.stderr)
}

#[test]
fn sso_par_and_dpop_login_against_oidc_provider() {
    let idp = NodeMockServer::start_script("oidc-provider.mjs", "oidc-provider", 0);
    let (sb, stderr) = dpop_login(&idp, "lmi-par-dpop");
    assert!(!stderr.contains("asked for a DPoP nonce"), "{stderr}");

    // Logging out forgets the key with the session: it was nowhere else.
    let out = sb.run(&["logout", "sso"]);
    out.assert_ok();
    assert!(session_file(&sb).is_none());
    let files = super::files_below(sb.home());
    assert!(
        !files.iter().any(|f| f.to_string_lossy().contains("dpop")),
        "a key file outside the session: {files:?}"
    );
}

#[test]
fn sso_dpop_nonce_required_by_oidc_provider_takes_one_retry() {
    let idp = NodeMockServer::start_script("oidc-provider.mjs", "oidc-provider", 0);
    let (sb, stderr) = dpop_login(&idp, "lmi-par-dpop-nonce");
    // The push asked for a nonce once; the token request reused it.
    assert_eq!(
        stderr.matches("asked for a DPoP nonce").count(),
        1,
        "{stderr}"
    );
    // The latest nonce is kept with the session for the next run.
    let session = stored(&sb);
    let nonces = session["dpop_nonces"].as_object().unwrap();
    assert!(nonces.contains_key(&idp.issuer), "{session}");
}
