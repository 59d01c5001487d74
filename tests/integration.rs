//! lmi's integration tests: the built binary driven with a temporary HOME
//! against real servers on 127.0.0.1 (the in-repo test IdP and API, the
//! third-party `oauth2-mock-server`, a real Secret Service).

// Test code may panic on anything unexpected: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Every group but the architecture rules drives the binary in a sandbox
// HOME, with shell-script plugins, Unix modes and signals: Unix only. On
// Windows lmi's folders come from %APPDATA% and %LOCALAPPDATA%, not HOME (the
// path rules are unit tests in src/paths.rs), and the Windows build is run
// under Wine by scripts/dist-test.sh.
#[cfg(unix)]
#[path = "support/mod.rs"]
mod support;

#[cfg(unix)]
#[path = "integration/agent/mod.rs"]
mod agent;
#[cfg(unix)]
#[path = "integration/api/mod.rs"]
mod api;
#[path = "integration/architecture/mod.rs"]
mod architecture;
#[cfg(unix)]
#[path = "integration/bridges/mod.rs"]
mod bridges;
#[cfg(unix)]
#[path = "integration/cli/mod.rs"]
mod cli;
#[cfg(unix)]
#[path = "integration/config/mod.rs"]
mod config;
#[cfg(unix)]
#[path = "integration/doctor/mod.rs"]
mod doctor;
#[cfg(unix)]
#[path = "integration/files/mod.rs"]
mod files;
#[cfg(unix)]
#[path = "integration/logs/mod.rs"]
mod logs;
#[cfg(unix)]
#[path = "integration/plugins/mod.rs"]
mod plugins;
#[cfg(unix)]
#[path = "integration/service_auth/mod.rs"]
mod service_auth;
#[cfg(unix)]
#[path = "integration/sso/mod.rs"]
mod sso;
