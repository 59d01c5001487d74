//! Foundation: configuration precedence, environments, bad input, output,
//! logs and completions (SPEC §1–3, §7).
//!
//! This file holds the helpers the foundation test files share.

mod cli;
mod config;
mod environments;
mod logs;

use crate::support::Sandbox;

const SECRET: &str = "s3cr3t-client-secret-value";

fn configured() -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env("dev", "OAUTH_CLIENT_ID=dev-client\n");
    sb.write_env("prod", "OAUTH_CLIENT_ID=prod-client\n");
    sb
}
