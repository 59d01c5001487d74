//! Command handlers, one module per command group, and the context they share.
//!
//! A handler gets a [`Ctx`] (flags, environment snapshot, paths, output) and
//! returns the exit code of a success path or an [`Error`]; it never reads
//! argv or the process environment itself.

pub mod api;
pub mod auth;
pub mod completion;
pub mod config;
pub mod credential;
pub mod doctor;
pub mod env;
pub mod exec;
pub mod login;
pub mod plugin;

use std::sync::OnceLock;
use std::time::Duration;

use crate::auth::cache::TokenCache;
use crate::auth::client::Client;
use crate::auth::exchange::SessionSubject;
use crate::auth::service::ServiceAuth;
use crate::auth::sso::{Browser, SsoDeps, Store, SystemBrowser};
use crate::cli::{Command, GlobalArgs};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Inputs, SsoConfig, SubjectSource};
use crate::env::ProcessEnv;
use crate::error::{Error, Result};
use crate::http::{Http, Transport};
use crate::logging::{self, LogSetup};
use crate::output::{Output, OutputFormat};
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
    pub fn system(env: &ProcessEnv) -> Deps {
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
    pub env: ProcessEnv,
    pub paths: Paths,
    pub out: Output,
    pub deps: Deps,
    config: OnceLock<std::result::Result<Config, Error>>,
}

impl Ctx {
    pub fn new(
        global: GlobalArgs,
        key_flags: Vec<(String, String)>,
        env: ProcessEnv,
        paths: Paths,
        deps: Deps,
    ) -> Ctx {
        let mut command_line = global.set.clone();
        command_line.extend(key_flags);
        let out = Output {
            format: OutputFormat::from_flag(global.output),
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
        // A token exchange without a subject file exchanges the SSO session
        // (SPEC §4.2); without SSO configured the exchange reports it.
        if service.subject == Some(SubjectSource::SsoSession) && config.sso_configured() {
            let environment = environment.unwrap_or_default();
            return self.with_sso(|deps, sso| {
                let session = SessionSubject {
                    deps,
                    config: sso,
                    environment,
                };
                f(&auth.with_session_subject(&session))
            });
        }
        f(&auth)
    }

    /// Runs `f` with the SSO settings and the seams the session logic needs.
    pub fn with_sso<T>(&self, f: impl FnOnce(SsoDeps<'_>, &SsoConfig) -> Result<T>) -> Result<T> {
        let sso = self.config()?.sso()?;
        let store = Store::configured(sso, &self.paths);
        let deps = SsoDeps {
            clock: self.deps.clock.as_ref(),
            sleeper: &crate::clock::SystemSleeper,
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
                    let shown = crate::redact::config_value(
                        &value.value,
                        crate::config::is_secret_key(key),
                    );
                    tracing::debug!(target: "config", "{key} = {shown:?} (from {})", value.source);
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
        Command::Env(cmd) => env::run(ctx, cmd),
        Command::Config(cmd) => config::run(ctx, cmd),
        Command::Doctor => doctor::run(ctx),
        Command::Man { dir } => man(ctx, dir.as_deref()),
        Command::Completions { shell } => completion::script(&shell.to_string()),
        Command::Plugin(cmd) => plugin::run(ctx, cmd),
        Command::External(args) => plugin::external(ctx, args),
        Command::Credential(cmd) => credential::run(ctx, cmd),
        Command::Exec(args) => exec::run(ctx, args),
    }
}

/// `lmi man`: the man page, from the same clap definitions as `--help`,
/// with the configuration keys (plugins are left out: they vary by
/// machine); `--dir` writes every page (one per subcommand) into a folder.
fn man(ctx: &Ctx, dir: Option<&std::path::Path>) -> Result<u8> {
    let cmd = crate::cli::command()
        .version(env!("CARGO_PKG_VERSION"))
        .after_long_help(crate::cli::keys_help());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(cmd, dir))
            .map_err(|e| Error::io("cannot write man pages to", dir, e))?;
        let mut pages: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| Error::io("cannot list", dir, e))?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with("lmi") && n.ends_with(".1"))
            .collect();
        pages.sort();
        ctx.out.result(
            &serde_json::json!({ "dir": dir.display().to_string(), "pages": &pages }),
            || format!("wrote {} man pages to {}", pages.len(), dir.display()),
        )?;
        return Ok(0);
    }
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Error::internal(format!("cannot render the man page: {e}")))?;
    Output {
        format: OutputFormat::Text,
    }
    .raw(&buf)?;
    Ok(0)
}

/// lmi's line in `--version` (SPEC §10): `lmi <version> (<commit> <date>
/// <target>)`, so that a bug report names the build it came from. The
/// facts are set by `build.rs`; commit and date are `unknown` for a build
/// without git.
pub const VERSION_LINE: &str = concat!(
    "lmi ",
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("LMI_BUILD_COMMIT"),
    " ",
    env!("LMI_BUILD_DATE"),
    " ",
    env!("LMI_BUILD_TARGET"),
    ")"
);

/// `lmi --version`: lmi's version, then each plugin's.
pub fn version(ctx: &Ctx) -> Result<u8> {
    let mut text = format!("{VERSION_LINE}\n");
    for line in crate::plugin::version_lines(&ctx.paths, &ctx.env, &crate::cli::builtin_names()) {
        text.push_str(&line);
        text.push('\n');
    }
    Output {
        format: OutputFormat::Text,
    }
    .text(&text)?;
    Ok(0)
}
