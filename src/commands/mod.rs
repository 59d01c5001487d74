//! Command handlers, one module per command group, and the context they share.
//!
//! A handler gets a [`Ctx`] (flags, environment snapshot, paths, output) and
//! returns the exit code of a success path or an [`Error`]; it never reads
//! argv or the process environment itself.

pub mod api;
pub mod auth;
pub mod config;
pub mod env;
pub mod login;
pub mod plugin;

use std::sync::OnceLock;

use crate::cli::{Command, GlobalArgs, OutputFormat};
use crate::config::{Inputs, Settings};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::logging::{self, LogSetup};
use crate::output::Output;
use crate::paths::Paths;

/// Everything a command needs, built once per invocation.
pub struct Ctx {
    pub global: GlobalArgs,
    /// `--set` values followed by `--<key>` flags (later wins).
    pub command_line: Vec<(String, String)>,
    pub env: Env,
    pub paths: Paths,
    pub out: Output,
    settings: OnceLock<std::result::Result<Settings, Error>>,
}

impl Ctx {
    pub fn new(
        global: GlobalArgs,
        key_flags: Vec<(String, String)>,
        env: Env,
        paths: Paths,
    ) -> Ctx {
        let mut command_line = global.set.clone();
        command_line.extend(key_flags);
        let out = Output {
            format: global.output.unwrap_or(OutputFormat::Json),
        };
        Ctx {
            global,
            command_line,
            env,
            paths,
            out,
            settings: OnceLock::new(),
        }
    }

    /// The resolved configuration (resolved once; a failure is returned to
    /// every caller).
    pub fn settings(&self) -> Result<&Settings> {
        let resolved = self.settings.get_or_init(|| {
            crate::config::resolve(&Inputs {
                env: &self.env,
                paths: &self.paths,
                environment_flag: self.global.environment.as_deref(),
                command_line: &self.command_line,
            })
        });
        resolved.as_ref().map_err(Error::shallow_clone)
    }

    /// Sets up stderr and file logging from flags and (when it resolves)
    /// configuration, then shows configuration warnings.
    pub fn init_logging(&self) {
        let settings = self.settings().ok();
        let get = |key: &str| settings.and_then(|s| s.get(key));
        let enabled = !self.global.no_file_log
            && !matches!(
                get("LOG_FILE_ENABLED")
                    .map(str::to_ascii_lowercase)
                    .as_deref(),
                Some("false" | "0" | "no" | "off")
            );
        let file = enabled.then(|| {
            get("LOG_FILE")
                .map(Into::into)
                .unwrap_or_else(|| self.paths.default_log_file())
        });
        let file_level = get("LOG_LEVEL")
            .and_then(logging::parse_level)
            .unwrap_or(tracing::level_filters::LevelFilter::INFO);
        logging::init(&LogSetup {
            verbosity: self.global.verbosity(),
            file,
            file_level,
        });
        if let Some(settings) = settings {
            for warning in &settings.warnings {
                tracing::warn!(target: "config", "{warning}");
            }
            if let Some(raw) = get("LOG_LEVEL") {
                if logging::parse_level(raw).is_none() {
                    tracing::warn!(target: "config", "LOG_LEVEL {raw:?} is not one of error, warn, info, debug; using info");
                }
            }
            for (key, value) in &settings.values {
                if crate::config::is_secret_key(key) {
                    tracing::debug!(target: "config", "{key} = ******** (from {})", value.source);
                } else {
                    tracing::debug!(target: "config", "{key} = {:?} (from {})", value.value, value.source);
                }
            }
        }
    }
}

/// Runs a parsed command.
pub fn dispatch(ctx: &Ctx, command: Command) -> Result<u8> {
    match command {
        Command::Auth(cmd) => auth::run(ctx, cmd),
        Command::Login(crate::cli::LoginCommand::Sso(args)) => login::login_sso(ctx, &args),
        Command::Logout(crate::cli::LogoutCommand::Sso) => login::logout_sso(ctx),
        Command::Api(args) => api::run(ctx, &args),
        Command::Env(crate::cli::EnvCommand::List) => env::list(ctx),
        Command::Config(crate::cli::ConfigCommand::Show) => config::show(ctx),
        Command::Completions { shell } => completions(shell),
        Command::Plugin(cmd) => plugin::run(ctx, cmd),
        Command::External(args) => plugin::external(ctx, args),
    }
}

fn completions(shell: clap_complete::Shell) -> Result<u8> {
    let mut cmd = crate::cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "lmi", &mut buf);
    Output {
        format: OutputFormat::Text,
    }
    .raw(&buf)?;
    Ok(0)
}

/// `lmi --version`: lmi's version, then each plugin's.
pub fn version(ctx: &Ctx) -> Result<u8> {
    let mut text = format!("lmi {}\n", env!("CARGO_PKG_VERSION"));
    for line in crate::plugin::version_lines(&ctx.paths, &ctx.env) {
        text.push_str(&line);
        text.push('\n');
    }
    Output {
        format: OutputFormat::Text,
    }
    .text(&text)?;
    Ok(0)
}
