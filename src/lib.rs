//! lmi: one command-line tool to reach a company's platform services.
//!
//! # Crate map
//!
//! Imports run one way, top to bottom; a module may use its own layer and
//! those below it (an architecture test in `tests/integration/architecture/`
//! keeps it so):
//!
//! ```text
//! main ─▶ lib (run) ─▶ commands ─▶ output, agent ─▶ auth, plugin ─▶ cli
//!      ─▶ config
//!      ─▶ http, logging, files ─▶ paths
//!      ─▶ clock, env, error, interrupt, redact, secret, suggest, terminal
//! ```
//!
//! - [`commands`]: one module per command group; [`commands::Ctx`] carries
//!   the invocation (flags, configuration, output) and [`commands::Deps`],
//!   the seams (clock and sleeper, HTTP transport, browser, session store,
//!   terminal, stdout sink) built once in [`run`].
//! - [`output`]: the only writer to stdout (or the sink a test hands in),
//!   and [`output::OutputFormat`].
//! - [`agent`]: the session agent (SPEC §9): its wire protocol, socket,
//!   server and what it serves from `auth` and `config`.
//! - [`auth`]: tokens. `oauth` (the wire protocol, each part once: token
//!   requests, client authentication, token responses, RFC 6749 §5.2
//!   errors, device authorization, revocation), the use cases over it:
//!   `service` (lock → read → refresh or acquire → save), `grants` (one
//!   logged token request), `token_exchange` (RFC 8693 subjects), and `sso`
//!   (the login flows, the ID token, the session store); `cache` (token
//!   files), `discovery`, `dpop` (RFC 9449: the key, proofs, nonces),
//!   `client` (the authenticated client: bearer or DPoP, origin pinning,
//!   redirects, 401 → discard → retry once). It writes no results.
//! - [`plugin`]: finding, describing and running `lmi-<name>` plugins; the
//!   built-in command names are handed to it.
//! - [`cli`]: clap types, the built-in command names.
//! - [`config`]: sources in (files, OS environment, command line), typed
//!   values out ([`config::Config`]: service, API, SSO, logging), each raw
//!   value with its source; the one key table; [`config::EnvName`].
//! - [`http`]: the transport seam and the real agent (timeouts, proxies,
//!   endpoint rules); [`logging`]: stderr and the file log; [`files`]:
//!   atomic private writes and locks.
//! - [`paths`]: where files live, and which of them lmi trusts.
//! - The bottom layer: [`clock`] (the one reader of the system time, and
//!   RFC 3339); [`env`](mod@env) ([`env::ProcessEnv`], the process
//!   environment's snapshot); [`error`]: domains and exit codes; [`redact`]:
//!   every way of making text safe to show; [`secret`]: values that never
//!   print; [`interrupt`]: Ctrl-C; [`suggest`]: did-you-mean; [`terminal`]:
//!   what lmi tells the person on stderr (notices, the waiting line), the
//!   seam the login flows write through.
//!
//! [`run`] parses argv, resolves configuration, sets up logging and
//! dispatches; `main` alone turns the result into `error:`/`hint:` lines and
//! an exit code.

pub mod agent;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod env;
pub mod error;
pub mod files;
pub mod http;
pub mod interrupt;
pub mod logging;
pub mod output;
pub mod paths;
pub mod plugin;
pub mod redact;
pub mod secret;
pub mod suggest;
pub mod terminal;

use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::commands::Ctx;
use crate::error::{Error, Result};

static VERBOSE_ERRORS: AtomicBool = AtomicBool::new(false);

/// Turns core dumps off for the life of the process: a core of lmi would
/// hold client secrets, passwords and tokens. `RLIMIT_CORE` 0 (inherited by
/// plugins, too) and, on Linux, `PR_SET_DUMPABLE` 0, which also keeps other
/// processes of the same user from attaching to lmi or reading its memory
/// through `/proc`. Failures are ignored: lmi still runs where the system
/// refuses either call.
pub fn disable_core_dumps() {
    #[cfg(unix)]
    {
        use rustix::process::{setrlimit, Resource, Rlimit};
        let _ = setrlimit(
            Resource::Core,
            Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        );
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    }
}

/// Installs the Ctrl-C handler (see [`interrupt`]).
pub fn install_interrupt_handler() {
    interrupt::install_handler();
}

/// Turns "Ctrl-C exits with 130" on or off (see [`interrupt`]).
pub fn set_interrupt_exits(on: bool) {
    interrupt::set_exits(on);
}

/// Whether `-vv` asked for error causes.
pub fn verbose_errors() -> bool {
    VERBOSE_ERRORS.load(Ordering::Relaxed)
}

/// Runs one invocation; returns the exit code for success paths.
pub fn run(args: Vec<OsString>, env: env::ProcessEnv) -> Result<u8> {
    let paths = paths::Paths::from_env(&env);
    // The completion script asking for candidates: answer and stop.
    if commands::completion::answer_if_asked(&args, &paths, &env)? {
        return Ok(0);
    }
    let mut cmd = cli::command();
    if wants_top_level_help(&args) {
        // Built only when asked for: plugin discovery spawns processes.
        // Their warnings go to stderr, so logging comes first (the full
        // setup, from configuration, is for commands that run).
        logging::init_stderr();
        let plugins = plugin::help_section(&paths, &env, &cli::builtin_names());
        let keys = cli::keys_help();
        cmd = if plugins.is_empty() {
            cmd.after_long_help(keys)
        } else {
            let long = format!("{plugins}\n\n{keys}");
            cmd.after_help(plugins).after_long_help(long)
        };
    }
    let parsed = match cli::parse_with(cmd, args) {
        Ok(parsed) => parsed,
        Err(e) => return clap_exit(e),
    };
    if parsed.global.verbosity() >= 2 {
        VERBOSE_ERRORS.store(true, Ordering::Relaxed);
    }
    let deps = commands::Deps::system(&env);
    let ctx = Ctx::new(
        parsed.global.clone(),
        parsed.key_flags.clone(),
        env,
        paths,
        deps,
    );
    ctx.init_logging();

    if parsed.version {
        return commands::version(&ctx);
    }
    let Some(command) = parsed.command else {
        return clap_exit(cli::command().error(
            clap::error::ErrorKind::MissingSubcommand,
            "a command is required",
        ));
    };
    commands::dispatch(&ctx, command)
}

/// `lmi --help`, `lmi -h` or `lmi help` with no command: plugins are listed.
fn wants_top_level_help(args: &[OsString]) -> bool {
    let rest: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let first_positional = rest.iter().position(|a| !a.starts_with('-'));
    match first_positional {
        None => rest.iter().any(|a| *a == "--help" || *a == "-h") || rest.is_empty(),
        Some(i) => rest[i] == "help" && rest.len() == i + 1,
    }
}

/// Prints clap's message (help, usage error) and maps it to an exit code.
fn clap_exit(err: clap::Error) -> Result<u8> {
    use clap::error::ErrorKind;
    let code = match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 2,
        _ => 2,
    };
    if code == 0 {
        let _ = err.print();
        Ok(0)
    } else {
        let _ = err.print();
        Err(Error::silent(error::Kind::Usage))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn core_dumps_are_off_after_the_call() {
        use rustix::process::{dumpable_behavior, getrlimit, DumpableBehavior, Resource};
        super::disable_core_dumps();
        let limit = getrlimit(Resource::Core);
        assert_eq!((limit.current, limit.maximum), (Some(0), Some(0)));
        assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::NotDumpable);
    }
}
