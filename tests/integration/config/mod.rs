//! Configuration and environments (SPEC §1–2): the precedence of sources,
//! key spellings and the dotenv format, environment selection and names,
//! `config set/unset`, `env add/remove`, and hostile local configuration
//! (huge, shared or non-UTF-8 input, credentials inside values).
//!
//! This file holds the helpers the configuration tests share; the `cli` and
//! `logs` tests use them too.

mod env_files;
mod environments;
mod hostile_files;
mod resolution;
mod write;

use crate::support::Sandbox;

pub const SECRET: &str = "s3cr3t-client-secret-value";

/// A sandbox with a default `dev` environment and a `prod` one.
pub fn configured() -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env("dev", "OAUTH_CLIENT_ID=dev-client\n");
    sb.write_env("prod", "OAUTH_CLIENT_ID=prod-client\n");
    sb
}
