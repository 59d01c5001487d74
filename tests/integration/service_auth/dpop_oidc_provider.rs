//! DPoP-bound service tokens from a real third-party server: panva's
//! `oidc-provider` with `features.dPoP` and a client with
//! `dpop_bound_access_tokens: true` (`tests/node/oidc-provider-dpop.mjs`),
//! which verifies every proof, and, with `--nonce`, requires its nonce.

use crate::support::oidc_provider::OidcProvider;
use crate::support::Sandbox;

fn sandbox(server: &OidcProvider) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_env(
        "svc",
        &format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID=dpop-svc\nOAUTH_CLIENT_SECRET=dpop-secret\nOAUTH_DPOP=true\n",
            server.issuer
        ),
    );
    sb
}

#[test]
fn a_dpop_bound_token_from_oidc_provider() {
    let server = OidcProvider::start_script("oidc-provider-dpop.mjs", &[]);
    let sb = sandbox(&server);
    let out = sb.run(&["-e", "svc", "auth", "token"]);
    assert_eq!(out.code, 0, "{}\n{:?}", out.stderr, server.token_requests());
    assert_eq!(out.json()["token_type"], "DPoP");
    let records = server.token_requests();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["had_dpop"], true);
    assert_eq!(records[0]["token_type"], "DPoP");
    let again = sb.run(&["-e", "svc", "auth", "token"]);
    again.assert_ok();
    assert_eq!(again.json()["source"], "cache");
    assert_eq!(server.token_requests().len(), 1);

    // Without DPoP the client gets nothing: its tokens must be bound.
    let plain = Sandbox::new();
    plain.write_env(
        "svc",
        &format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID=dpop-svc\nOAUTH_CLIENT_SECRET=dpop-secret\n",
            server.issuer
        ),
    );
    let refused = plain.run(&["-e", "svc", "auth", "token"]);
    refused.assert_code(4);
    assert_eq!(server.token_requests()[1]["had_dpop"], false);
}

#[test]
fn oidc_providers_nonce_gets_one_retry_and_is_kept() {
    let server = OidcProvider::start_script("oidc-provider-dpop.mjs", &["--nonce"]);
    let sb = sandbox(&server);
    let out = sb.run(&["-e", "svc", "auth", "token"]);
    assert_eq!(out.code, 0, "{}\n{:?}", out.stderr, server.token_requests());
    assert_eq!(out.json()["token_type"], "DPoP");
    let records = server.token_requests();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["error"], "use_dpop_nonce");
    assert_eq!(records[1]["status"], 200);
    let nonces: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sb.tokens_dir().join(".svc.dpop-nonces.json")).unwrap(),
    )
    .unwrap();
    assert!(nonces[server.issuer.as_str()].is_string(), "{nonces}");
}
