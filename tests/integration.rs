//! lmi's integration tests: the built binary driven with a temporary HOME
//! against real servers on 127.0.0.1 (the in-repo test IdP and API, the
//! third-party `oauth2-mock-server`, a real Secret Service).

#[path = "support/mod.rs"]
mod support;

mod api;
mod foundation;
mod plugins;
mod service_auth;
mod sso;
