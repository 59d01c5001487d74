//! `lmi login sso` and `lmi logout sso`: flags in, JSON or text out. The
//! work is in `auth::sso::flow`.

use serde::Serialize;

use super::Ctx;
use crate::agent::client::{agent_name, AgentLink};
use crate::auth::sso::choice::Surroundings;
use crate::auth::sso::flow::{self, LoginOptions, Outcome};
use crate::auth::token_exchange;
use crate::cli::LoginSsoArgs;
use crate::clock::rfc3339;
use crate::error::{Error, Result};

#[derive(Serialize)]
struct LoginOut {
    logged_in: bool,
    user: Option<String>,
    issuer: String,
    expires_at: Option<String>,
    /// How the session came about: `login` (the browser), `existing`,
    /// `refreshed`, or `agent` (an lmi agent's session).
    source: &'static str,
    /// The flow that made the session: `browser` or `device` (for an
    /// existing or refreshed session, the flow of its login), or `agent`.
    flow: String,
}

pub fn login_sso(ctx: &Ctx, args: &LoginSsoArgs) -> Result<u8> {
    if !args.force {
        if let Some(agent) = ctx.agent()? {
            return report_agent_session(ctx, agent);
        }
    }
    // `--force` logs in here, into this machine's own store.
    let (session, outcome) = ctx.with_local_sso(|deps, config| {
        flow::login(
            &deps,
            config,
            LoginOptions {
                force: args.force,
                no_browser: args.no_browser,
                device: args.device,
                surroundings: Surroundings::from_env(&ctx.env),
            },
        )
    })?;
    let out = LoginOut {
        logged_in: true,
        user: session.user.clone(),
        issuer: session.issuer.clone(),
        expires_at: session.expires_at.and_then(rfc3339),
        source: match outcome {
            Outcome::Existing => "existing",
            Outcome::Refreshed => "refreshed",
            Outcome::LoggedIn(_) => "login",
        },
        flow: match outcome {
            Outcome::LoggedIn(flow) => flow.name().to_owned(),
            Outcome::Existing | Outcome::Refreshed => {
                session.flow.clone().unwrap_or_else(|| "browser".to_owned())
            }
        },
    };
    ctx.out.result(&out, || {
        let user = out.user.as_deref().unwrap_or("an unnamed user");
        match outcome {
            Outcome::Existing => format!("Already logged in as {user} at {}", out.issuer),
            Outcome::Refreshed => {
                format!("Logged in as {user} at {} (session refreshed)", out.issuer)
            }
            Outcome::LoggedIn(_) => format!("Logged in as {user} at {}", out.issuer),
        }
    })?;
    Ok(0)
}

/// `login sso` where an agent answers: its session (SPEC §9), no flow.
/// `flow` is `agent` (SPEC's shape names the login flows; this session's
/// flow is the agent's business).
fn report_agent_session(ctx: &Ctx, agent: &dyn AgentLink) -> Result<u8> {
    let session = ctx
        .with_sso(|deps, _| {
            deps.store
                .load()?
                .ok_or_else(|| Error::internal("the agent answered without a session"))
        })
        .map_err(|e| match e.kind() {
            // On the machine where the agent runs, logging in here is
            // logging in for the agent.
            crate::error::Kind::Auth => e.with_hint(
                "log in where the agent runs (lmi login sso there; on that machine itself: lmi login sso --force)",
            ),
            _ => e,
        })?;
    let out = LoginOut {
        logged_in: true,
        user: session.user.clone(),
        issuer: session.issuer.clone(),
        expires_at: session.expires_at.and_then(rfc3339),
        source: "agent",
        flow: "agent".to_owned(),
    };
    let name = agent_name(agent.socket());
    ctx.out.result(&out, || {
        format!(
            "Logged in as {} at {} (the session of {name})",
            out.user.as_deref().unwrap_or("an unnamed user"),
            out.issuer
        )
    })?;
    Ok(0)
}

#[derive(Serialize)]
struct LogoutOut {
    logged_out: bool,
    revoked: bool,
}

pub fn logout_sso(ctx: &Ctx) -> Result<u8> {
    // An agent found at the default socket runs on this machine, with
    // this machine's store: logging out here logs it out too. One reached
    // through LMI_AGENT_SOCK may be another machine's (SPEC §9).
    let explicit = super::via_agent::target(ctx).explicit;
    if let Some(agent) = ctx.agent()?.filter(|_| explicit) {
        return Err(Error::usage(format!(
            "the SSO session here is {}'s; log out where the agent runs",
            agent_name(agent.socket())
        ))
        .with_hint("run lmi logout sso on the machine where the agent runs, or unset LMI_AGENT_SOCK to log out of this machine's own session"));
    }
    // Without SSO configured there is no session to forget: logging out
    // succeeds (SPEC §5), it does not demand configuration.
    let (removed, revoked) = if !ctx.config()?.sso_configured() {
        (false, false)
    } else {
        let (identity, outcome) = ctx.with_local_sso(|deps, config| {
            let identity = deps.store.load().ok().flatten();
            let outcome = flow::logout(&deps, config)?;
            Ok((
                identity.map(|s| token_exchange::session_identity(&s)),
                outcome,
            ))
        })?;
        // SPEC §4.2: the tokens exchanged from the session go with it.
        token_exchange::forget_session_tokens(
            &ctx.token_cache(),
            identity.as_deref(),
            ctx.config()?.http_timeout()? * 2,
        );
        outcome
    };
    let out = LogoutOut {
        logged_out: true,
        revoked,
    };
    ctx.out.result(&out, || match (removed, revoked) {
        (_, true) => "Logged out (the session was revoked at the IdP)".to_owned(),
        (true, false) => "Logged out".to_owned(),
        (false, _) => "Not logged in; nothing to do".to_owned(),
    })?;
    Ok(0)
}

#[cfg(test)]
#[path = "login_tests.rs"]
mod tests;
