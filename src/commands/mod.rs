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
use std::time::Duration;

use crate::auth::cache::TokenCache;
use crate::auth::client::Client;
use crate::auth::clock::{Clock, SystemClock};
use crate::auth::service::ServiceAuth;
use crate::auth::sso::{Browser, SsoDeps, Store, SystemBrowser};
use crate::cli::{Command, GlobalArgs, OutputFormat};
use crate::config::{Config, Inputs, SsoConfig};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::http::{Http, Transport};
use crate::logging::{self, LogSetup};
use crate::output::Output;
use crate::paths::Paths;

/// The side effects commands reach through seams, built once in
/// [`crate::run`]: the clock, the HTTP transport (one agent per invocation,
/// made when first needed) and the browser launcher. The session store is
/// chosen by configuration (`OAUTH_SSO_TOKEN_STORE`), see [`Ctx::with_sso`].
pub struct Deps {
    pub clock: Box<dyn Clock>,
    transport: OnceLock<Box<dyn Transport>>,
    pub browser: Box<dyn Browser>,
}

impl Deps {
    /// The real clock, network and browser (`$BROWSER` from the snapshot).
    pub fn system(env: &Env) -> Deps {
        Deps {
            clock: Box::new(SystemClock),
            transport: OnceLock::new(),
            browser: Box::new(SystemBrowser::new(env.get("BROWSER"))),
        }
    }

    /// The transport, made with `timeout` the first time it is asked for.
    pub fn transport(&self, timeout: Duration) -> &dyn Transport {
        self.transport
            .get_or_init(|| Box::new(Http::new(timeout)))
            .as_ref()
    }
}

/// Everything a command needs, built once per invocation.
pub struct Ctx {
    pub global: GlobalArgs,
    /// `--set` values followed by `--<key>` flags (later wins).
    pub command_line: Vec<(String, String)>,
    pub env: Env,
    pub paths: Paths,
    pub out: Output,
    pub deps: Deps,
    config: OnceLock<std::result::Result<Config, Error>>,
}

impl Ctx {
    pub fn new(
        global: GlobalArgs,
        key_flags: Vec<(String, String)>,
        env: Env,
        paths: Paths,
        deps: Deps,
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
            deps,
            config: OnceLock::new(),
        }
    }

    /// The configuration (resolved once; a failure is returned to every
    /// caller).
    pub fn config(&self) -> Result<&Config> {
        let resolved = self.config.get_or_init(|| {
            crate::config::load(&Inputs {
                env: &self.env,
                paths: &self.paths,
                environment_flag: self.global.environment.as_deref(),
                command_line: &self.command_line,
            })
            .map(|settings| Config::new(settings, self.paths.clone()))
        });
        resolved.as_ref().map_err(Error::shallow_clone)
    }

    /// The invocation's HTTP transport (HTTP_TIMEOUT from the configuration).
    pub fn transport(&self) -> Result<&dyn Transport> {
        let timeout = self.config()?.http_timeout()?;
        Ok(self.deps.transport(timeout))
    }

    pub fn token_cache(&self) -> TokenCache {
        TokenCache::new(self.paths.tokens_dir())
    }

    /// Runs `f` with the environment's service tokens; a `REQUIRE_SSO`
    /// environment checks the SSO session once, before the first token.
    pub fn with_service<T>(&self, f: impl FnOnce(&ServiceAuth<'_>) -> Result<T>) -> Result<T> {
        let config = self.config()?;
        let service = config.service()?;
        let transport = self.transport()?;
        let cache = self.token_cache();
        let environment = config.environment().map(|e| e.as_str());
        let gate = || {
            self.with_sso(|deps, sso| crate::auth::sso::require_session(&deps, sso, environment))
        };
        let mut auth = ServiceAuth::new(service, &cache, transport, self.deps.clock.as_ref());
        if service.require_sso {
            auth = auth.with_gate(&gate);
        }
        f(&auth)
    }

    /// Runs `f` with the SSO settings and the seams the session logic needs.
    pub fn with_sso<T>(&self, f: impl FnOnce(SsoDeps<'_>, &SsoConfig) -> Result<T>) -> Result<T> {
        let sso = self.config()?.sso()?;
        let store = Store::configured(sso, &self.paths);
        let deps = SsoDeps {
            clock: self.deps.clock.as_ref(),
            sleeper: &crate::auth::clock::SystemSleeper,
            transport: self.transport()?,
            browser: self.deps.browser.as_ref(),
            store: &store,
        };
        f(deps, sso)
    }

    /// Runs `f` with the authenticated client of the environment's service.
    pub fn with_client<T>(&self, f: impl FnOnce(&Client<'_>) -> Result<T>) -> Result<T> {
        let api = self.config()?.api()?;
        let transport = self.transport()?;
        self.with_service(|auth| f(&Client::new(api, auth, transport)))
    }

    /// Sets up stderr and file logging from flags and (when it resolves)
    /// configuration, then shows configuration warnings.
    pub fn init_logging(&self) {
        let config = self.config().ok();
        let log = config.map(Config::logging);
        let file = log
            .as_ref()
            .map_or_else(|| Some(self.paths.default_log_file()), |l| l.file.clone())
            .filter(|_| !self.global.no_file_log);
        logging::init(&LogSetup {
            verbosity: self.global.verbosity(),
            file,
            file_level: log
                .as_ref()
                .map_or(tracing::level_filters::LevelFilter::INFO, |l| l.level),
        });
        if let Some(config) = config {
            for warning in config.warnings() {
                tracing::warn!(target: "config", "{warning}");
            }
            if let Some(raw) = log.and_then(|l| l.bad_level) {
                tracing::warn!(target: "config", "LOG_LEVEL {raw:?} is not one of error, warn, info, debug; using info");
            }
            for (key, value) in &config.settings().values {
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
