//! `lmi exec [--env-var NAME] -- CMD [ARG]...` (SPEC §8): runs a command
//! with the environment's token in its environment.
//!
//! The token is acquired first (cache rules as `auth token`), so a broken
//! environment fails before CMD starts. It travels only in the child's
//! environment, never in its arguments: `/proc/<pid>/cmdline` is readable by
//! every local user, a process's environment only by its owner. Running the
//! child (context variables, Ctrl-C, exit codes, signals) is the plugin
//! runner's, so `lmi exec` and plugins behave alike.

use std::process::Command;

use super::plugin::invocation;
use super::Ctx;
use crate::cli::ExecArgs;
use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::plugin::{reserved_variable, run_child, Child};

/// The variable that holds the token unless `--env-var` names another.
pub const TOKEN_VAR: &str = "LMI_ACCESS_TOKEN";
/// The token's expiry, RFC 3339 UTC, empty when unknown.
pub const EXPIRES_VAR: &str = "LMI_TOKEN_EXPIRES_AT";
/// `Bearer` or `DPoP` (SPEC §4.3): how CMD must send the token.
pub const TYPE_VAR: &str = "LMI_TOKEN_TYPE";

pub fn run(ctx: &Ctx, args: ExecArgs) -> Result<u8> {
    let var = args.env_var.as_deref().unwrap_or(TOKEN_VAR);
    check_var(var)?;
    let mut words = args.command.into_iter();
    let Some(program) = words.next() else {
        // clap requires CMD; this is the same usage error in case it did not.
        return Err(Error::usage("lmi exec needs a command after `--`")
            .with_hint("usage: lmi exec [--env-var NAME] -- CMD [ARG]..."));
    };
    let (token, source) = ctx.with_service(|auth| auth.token())?;
    let environment = ctx
        .config()?
        .require_environment()
        .map(ToString::to_string)?;
    tracing::debug!(target: "auth", "token ({source:?}) handed to {:?} in {var}", program);

    let mut cmd = Command::new(&program);
    withhold_inherited_secrets(&mut cmd);
    cmd.args(words)
        // The one place the token leaves lmi here: the child's environment.
        .env(var, token.access_token.expose())
        .env(
            EXPIRES_VAR,
            token.expires_at.and_then(rfc3339).unwrap_or_default(),
        )
        .env(TYPE_VAR, token_type(&token.token_type));
    let child = Child {
        label: format!("command {:?}", program.to_string_lossy()),
        start_hint:
            "check that the command is on PATH (or give its path) and is a program for this system",
    };
    run_child(invocation(ctx, Ok(environment)), cmd, &child)
}

/// CMD gets the token instead of what it is made from (SPEC §8): lmi's own
/// secret keys (`OAUTH_CLIENT_SECRET`, `OAUTH_PASSWORD`) are taken out of
/// the environment it would inherit, too, whatever their source. Other
/// variables, even secret-looking ones, are the person's and CMD's business.
fn withhold_inherited_secrets(cmd: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let secret = name
            .to_str()
            .and_then(crate::config::key_def)
            .is_some_and(|def| def.secret);
        if secret {
            tracing::debug!(target: "plugin", "{} from lmi's environment is a secret: not passed on", name.to_string_lossy());
            cmd.env_remove(&name);
        }
    }
}

/// The token type as CMD gets it: `DPoP`, else `Bearer`.
fn token_type(raw: &str) -> &'static str {
    if crate::auth::dpop::is_dpop(raw) {
        "DPoP"
    } else {
        "Bearer"
    }
}

/// `--env-var` may not replace a variable that steers the child process or
/// that lmi sets itself (`LMI_BIN`, `LMI_TOKEN_EXPIRES_AT`, `PATH`, ...).
fn check_var(var: &str) -> Result<()> {
    if var != TOKEN_VAR && (reserved_variable(var) || var == EXPIRES_VAR || var == TYPE_VAR) {
        return Err(Error::usage(format!(
            "--env-var {var}: that variable steers the command or is set by lmi itself"
        ))
        .with_hint("choose another name, e.g. --env-var API_TOKEN"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_may_not_take_over_process_or_lmi_variables() {
        for bad in [
            "PATH",
            "LD_PRELOAD",
            "LMI_BIN",
            "LMI_TOKEN_EXPIRES_AT",
            "LMI_TOKEN_TYPE",
            "HOME",
            "APPDATA",
            "LOCALAPPDATA",
        ] {
            let err = check_var(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(err.message().contains(bad));
        }
        for good in ["LMI_ACCESS_TOKEN", "API_TOKEN", "_x1"] {
            check_var(good).unwrap();
        }
    }
}
