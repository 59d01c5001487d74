//! lmi's integration tests: the built binary driven with a temporary HOME
//! against real servers on 127.0.0.1 (the in-repo test IdP and API, the
//! third-party `oauth2-mock-server`, a real Secret Service).

// Test code may panic on anything unexpected: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

#[path = "integration/api/mod.rs"]
mod api;
#[path = "integration/architecture/mod.rs"]
mod architecture;
#[path = "integration/bridges/mod.rs"]
mod bridges;
#[path = "integration/cli_ux/mod.rs"]
mod cli_ux;
#[path = "integration/foundation/mod.rs"]
mod foundation;
#[path = "integration/hardening/mod.rs"]
mod hardening;
#[path = "integration/plugins/mod.rs"]
mod plugins;
#[path = "integration/service_auth/mod.rs"]
mod service_auth;
#[path = "integration/sso/mod.rs"]
mod sso;
