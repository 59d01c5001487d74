//! Service authentication: grants, discovery, the token cache under
//! corruption and concurrency, the refresh after a 401, proxies,
//! token-endpoint failures and hostile token responses, and `auth inspect`
//! (SPEC §4), against the in-repo test IdP and the third-party
//! oauth2-mock-server.
//!
//! This file holds the helpers the service-auth test files share: the
//! test IdP, a sandbox configured against it, and the cached token.

mod cache;
mod concurrency;
mod dpop;
mod dpop_oidc_provider;
mod dpop_tools;
mod errors;
mod exchange;
mod grants;
mod hostile_responses;
mod inspect;
mod logging;
mod oidc_provider;
mod private_key_jwt;
mod proxy;
mod refresh;
mod transport;

use lmi_testidp::TestServer;

use crate::support::Sandbox;

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
