//! Command handlers, one module per command group, and the context they share.
//!
//! A handler gets a [`Ctx`] (flags, environment snapshot, paths, output) and
//! returns the exit code of a success path or an [`Error`]; it never reads
//! argv or the process environment itself. Every side effect it reaches
//! goes through [`Deps`], as gh's `LoginOptions{IO, HttpClient, Browser,
//! Prompter}` does: the clock and sleeper, the HTTP transport, the browser,
//! the SSO session store, the terminal (notices, the waiting line) and the
//! stdout sink. So each handler is unit-tested beside it (`*_tests.rs`,
//! `tests.rs`) with the `testing` harness: a temporary HOME, a fixed clock,
//! canned HTTP answers, a store in memory, a recording terminal and
//! browser, and a captured stdout.

pub mod agent;
pub mod api;
pub mod auth;
mod auth_proof;
pub mod completion;
pub mod config;
pub mod credential;
pub mod doctor;
pub mod env;
pub mod exec;
pub mod login;
pub mod plugin;
mod session;
#[cfg(test)]
pub(crate) mod testing;
pub mod via_agent;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::agent::client::AgentLink;
use crate::agent::protocol::SharedEnvironment;
use crate::auth::cache::TokenCache;
use crate::auth::client::Client;
use crate::auth::service::{ServiceAuth, Tokens};
use crate::auth::sso::{Browser, Store, SystemBrowser};
use crate::auth::token_exchange::SessionSubject;
use crate::cli::{Command, GlobalArgs};
use crate::clock::{Clock, Sleeper, SystemClock, SystemSleeper};
use crate::config::{Config, Inputs, SubjectSource};
use crate::env::ProcessEnv;
use crate::error::{Error, Result};
use crate::http::{Http, Transport};
use crate::logging::{self, LogSetup};
use crate::output::{Output, OutputFormat, Sink};
use crate::paths::Paths;
use crate::terminal::{StderrTerminal, Terminal};

/// The side effects commands reach through seams, built once in
/// [`crate::run`]: the clock and the sleeper, the HTTP transport (one agent
/// per invocation, made when first needed), the browser launcher, the SSO
/// session store (chosen by configuration, `OAUTH_SSO_TOKEN_STORE`, unless
/// one was handed in), the terminal (notices and the waiting line on
/// stderr) and the sink results are written to. Unit tests build
/// one with a fixed clock, canned HTTP answers, a store in memory, a
/// recording terminal and a captured stdout ([`Deps::with_transport`], [`Deps::with_store`]).
pub struct Deps {
    pub clock: Arc<dyn Clock>,
    /// Waits between device-flow polls.
    pub sleeper: Arc<dyn Sleeper>,
    transport: OnceLock<Box<dyn Transport>>,
    pub browser: Box<dyn Browser>,
    /// A store handed in; `None` opens the configured one.
    store: Option<Store>,
    /// Notices and the waiting line (stderr for real).
    pub terminal: Box<dyn Terminal>,
    /// Where results go (stdout for real).
    pub stdout: Sink,
    /// The lmi agent (SPEC §9): found from `LMI_AGENT_SOCK` or the default
    /// socket when first needed, or handed in.
    agent: OnceLock<std::result::Result<Option<Box<dyn AgentLink>>, Error>>,
}

impl Deps {
    /// The real clock, network and browser (`$BROWSER` from the snapshot).
    /// Nothing is opened or allocated here: the agent and the store are
    /// made when a command first needs them.
    pub fn system(env: &ProcessEnv) -> Deps {
        Deps {
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(SystemSleeper),
            transport: OnceLock::new(),
            browser: Box::new(SystemBrowser::new(env.get("BROWSER"))),
            store: None,
            terminal: Box::new(StderrTerminal),
            stdout: Sink::Stdout,
            agent: OnceLock::new(),
        }
    }

    /// Seams given whole: `clock` also sleeps (a fixed clock advances), the
    /// session store is the configured one until [`Deps::with_store`].
    pub fn new<C: Clock + Sleeper + 'static>(
        clock: Arc<C>,
        transport: Box<dyn Transport>,
        browser: Box<dyn Browser>,
        terminal: Box<dyn Terminal>,
        stdout: Sink,
    ) -> Deps {
        Deps {
            clock: clock.clone(),
            sleeper: clock,
            transport: OnceLock::from(transport),
            browser,
            store: None,
            terminal,
            stdout,
            agent: OnceLock::from(Ok(None)),
        }
    }

    /// The same seams with `agent` answering as the lmi agent.
    pub fn with_agent(mut self, agent: Box<dyn AgentLink>) -> Deps {
        self.agent = OnceLock::from(Ok(Some(agent)));
        self
    }

    /// The same seams with `transport` instead of a network agent.
    pub fn with_transport(mut self, transport: Box<dyn Transport>) -> Deps {
        self.transport = OnceLock::from(transport);
        self
    }

    /// The same seams with `store` instead of the configured session store.
    pub fn with_store(mut self, store: Store) -> Deps {
        self.store = Some(store);
        self
    }

    /// The transport, made with `timeout` the first time it is asked for
    /// (a handed-in one is used as it is).
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
    /// The agent's first answer for a shared environment (SPEC §9).
    served: OnceLock<SharedEnvironment>,
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
        let out = Output::to(OutputFormat::from_flag(global.output), deps.stdout.clone());
        Ctx {
            global,
            command_line,
            env,
            paths,
            out,
            deps,
            config: OnceLock::new(),
            served: OnceLock::new(),
        }
    }

    /// The configuration (resolved once; a failure is returned to every
    /// caller).
    pub fn config(&self) -> Result<&Config> {
        let resolved = self.config.get_or_init(|| {
            // An environment with no file here may be one an agent shares.
            crate::config::load_served(
                &Inputs {
                    env: &self.env,
                    paths: &self.paths,
                    environment_flag: self.global.environment.as_deref(),
                    command_line: &self.command_line,
                },
                &|name| self.serve(name),
            )
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
    /// environment checks the SSO session once, before the first token. A
    /// shared environment's tokens come from the agent.
    pub fn with_service<T>(&self, f: impl FnOnce(&dyn Tokens) -> Result<T>) -> Result<T> {
        let config = self.config()?;
        if let (Some(shared), Some(agent)) = (self.served_environment(), self.agent()?) {
            let tokens = via_agent::AgentTokens {
                agent,
                environment: &shared.name,
                first: std::cell::RefCell::new(Some(shared.clone())),
                now: self.deps.clock.now(),
                nonces: Default::default(),
            };
            return f(&tokens);
        }
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
        // (SPEC §4.2), this machine's or the agent's; without either the
        // exchange reports it.
        if service.subject == Some(SubjectSource::SsoSession)
            && (config.sso_configured() || self.agent()?.is_some())
        {
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
        Command::Agent(cmd) => agent::run(ctx, cmd),
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
    Output::to(OutputFormat::Text, ctx.deps.stdout.clone()).raw(&buf)?;
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
    Output::to(OutputFormat::Text, ctx.deps.stdout.clone()).text(&text)?;
    Ok(0)
}
