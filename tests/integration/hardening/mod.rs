//! Hardening (issue 15): lmi against hostile token endpoints, ID tokens,
//! proxies and callback clients, untrusted folders, and broken stderr and
//! disks. Each hostile server or file is set up here, on 127.0.0.1, and torn
//! down by the test. The tests run as root in CI, where permissions do not
//! stop reads: ownership and modes are asserted directly.

mod callback;
mod local;
mod proxy;
mod responses;
mod tokens;
mod trust;

use crate::support::Sandbox;

/// A sandbox whose `dev` environment gets its tokens from `token_url`.
fn sandbox_for(token_url: &str, extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={token_url}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret-value\n{extra}"
        ),
    );
    sb
}
