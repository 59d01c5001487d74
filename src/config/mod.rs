//! Configuration: sources in, typed values out.
//!
//! - `keys`: the one table of documented keys (defaults, ranges, secrecy).
//! - `dotenv`: reading a dotenv file.
//! - `environments`: [`EnvName`] and the environments that exist.
//! - `resolve`: precedence (SPEC §2) and the choice of environment, into
//!   [`Settings`]; `settings`: those values, each with its source, and the
//!   typed getters; `warnings`: secrets in the wrong place, misspelt keys.
//! - `service`, `api`, `sso`: the typed parts the rest of lmi reads;
//!   `client_auth`: the service client's key, assertion and exchange subject.
//! - `write`: editing a config file (`config set/unset`, `env add`);
//!   `assignment`: the keys and values it accepts, and their quoting.
//!
//! [`Config`] is built once per invocation; its typed parts are validated
//! the first time they are asked for (so `config show` works when a service
//! key is missing) and kept. No code outside this module reads a setting by
//! its key string.

mod api;
mod assignment;
mod client_auth;
mod dotenv;
mod environments;
mod keys;
mod resolve;
mod service;
mod settings;
mod sso;
mod warnings;
pub mod write;

use std::path::PathBuf;
use std::sync::OnceLock;

use tracing::level_filters::LevelFilter;

pub use api::ApiConfig;
pub use client_auth::{AssertionSource, KeyAlg, KeySpec, SubjectSource};
pub use environments::{environments_hint, list_environments, valid_env_name, EnvName};
pub use keys::{is_secret_key, key_def, misspelt_key, KeyDef, KeyKind, KEYS};
pub use resolve::{resolve, Inputs};
pub use service::{AuthMethod, Endpoint, GrantKind, ServiceConfig};
pub use settings::{Settings, Source, Value};
pub use sso::{FlowSetting, ParSetting, SsoConfig, StoreKind};

use crate::error::{Error, Result};
use crate::paths::Paths;

/// Resolves the configuration from the real files.
pub fn load(inputs: &Inputs<'_>) -> Result<Settings> {
    resolve(inputs, &dotenv::read)
}

/// The keys of an environment that has no file on this machine but is
/// served from elsewhere: an agent that shares it (SPEC §9).
#[derive(Debug, Clone)]
pub struct ServedEnvironment {
    /// Where its keys come from, as `config show` names their source.
    pub from: PathBuf,
    pub values: Vec<(String, String)>,
}

/// Resolves the configuration from the real files; an environment with no
/// file here is asked of `served` (`Ok(None)`: it does not exist). A local
/// file always wins.
pub fn load_served(
    inputs: &Inputs<'_>,
    served: &dyn Fn(&EnvName) -> Result<Option<ServedEnvironment>>,
) -> Result<Settings> {
    let paths = inputs.paths;
    resolve(inputs, &|path| {
        if let Some(values) = dotenv::read(path)? {
            return Ok(Some(values));
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(EnvName::checked)
            .filter(|name| paths.env_file(name.as_str()) == path);
        let Some(name) = name else {
            return Ok(None);
        };
        Ok(served(&name)?.map(|env| dotenv::FileValues {
            path: env.from,
            values: env
                .values
                .into_iter()
                .map(|(k, v)| (k.to_ascii_uppercase(), v))
                .collect(),
            readable_by_others: false,
            exposure: None,
        }))
    })
}

/// Where the file log goes and how much it records.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `None` when the file log is off.
    pub file: Option<PathBuf>,
    pub level: LevelFilter,
    /// A `LOG_LEVEL` that is not a level (warned about once logging is up).
    pub bad_level: Option<String>,
}

/// One invocation's configuration: the resolved values and their typed,
/// validated parts.
pub struct Config {
    settings: Settings,
    paths: Paths,
    service: OnceLock<std::result::Result<ServiceConfig, Error>>,
    api: OnceLock<std::result::Result<ApiConfig, Error>>,
    sso: OnceLock<std::result::Result<SsoConfig, Error>>,
}

fn shared<T>(
    cell: &OnceLock<std::result::Result<T, Error>>,
    build: impl FnOnce() -> Result<T>,
) -> Result<&T> {
    cell.get_or_init(build)
        .as_ref()
        .map_err(Error::shallow_clone)
}

impl Config {
    pub fn new(settings: Settings, paths: Paths) -> Config {
        Config {
            settings,
            paths,
            service: OnceLock::new(),
            api: OnceLock::new(),
            sso: OnceLock::new(),
        }
    }

    /// The raw values, for listing (`config show`, `-vv`, plugins).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn environment(&self) -> Option<&EnvName> {
        self.settings.environment.as_ref()
    }

    /// The active environment, or a configuration error listing those that exist.
    pub fn require_environment(&self) -> Result<&EnvName> {
        self.settings.require_environment(&self.paths)
    }

    pub fn warnings(&self) -> &[String] {
        &self.settings.warnings
    }

    /// The environment's service client.
    pub fn service(&self) -> Result<&ServiceConfig> {
        shared(&self.service, || {
            ServiceConfig::from_settings(&self.settings, &self.paths)
        })
    }

    /// Where the environment's token may be sent.
    pub fn api(&self) -> Result<&ApiConfig> {
        shared(&self.api, || {
            ApiConfig::from_settings(&self.settings, &self.paths)
        })
    }

    /// `DEFAULT_ENVIRONMENT`, as set (for `env list`).
    pub fn default_environment(&self) -> Option<&str> {
        self.settings.get("DEFAULT_ENVIRONMENT")
    }

    /// Whether SSO is configured at all (`OAUTH_SSO_CLIENT_ID` is set).
    pub fn sso_configured(&self) -> bool {
        sso::is_configured(&self.settings)
    }

    /// The store `OAUTH_SSO_TOKEN_STORE` names (checked even when SSO is
    /// not configured).
    pub fn sso_store_kind(&self) -> Result<StoreKind> {
        sso::store_kind(&self.settings)
    }

    /// The SSO settings.
    pub fn sso(&self) -> Result<&SsoConfig> {
        shared(&self.sso, || {
            SsoConfig::from_settings(&self.settings, &self.paths)
        })
    }

    /// The grant `OAUTH_GRANT_TYPE` names, unchecked (for `auth status`).
    pub fn grant_name(&self) -> String {
        service::grant_name(&self.settings)
    }

    /// How the client authenticates, unchecked (for `auth status`).
    pub fn client_auth_name(&self) -> String {
        service::client_auth_name(&self.settings)
    }

    /// Whether the environment's own file says `AGENT_SHARE=true` (SPEC
    /// §9). Only that file counts, read as it is: a value anywhere else
    /// (the main file, the process environment, the command line) neither
    /// shares an environment nor unshares one, so no setting outside the
    /// file can hand the environment's tokens to the agent's clients.
    pub fn agent_share(&self) -> Result<bool> {
        let Some(path) = &self.settings.env_file else {
            return Ok(false);
        };
        let Some(file) = dotenv::read(path)? else {
            return Ok(false);
        };
        match file.values.iter().rev().find(|(k, _)| k == "AGENT_SHARE") {
            None => Ok(false),
            Some((_, raw)) => keys::parse_bool(raw).ok_or_else(|| {
                Error::config(format!(
                    "AGENT_SHARE in {} must be true or false, not {raw:?}",
                    path.display()
                ))
                .with_hint("set AGENT_SHARE=true or AGENT_SHARE=false")
            }),
        }
    }

    /// `HTTP_TIMEOUT` (0 counts as 1 s).
    pub fn http_timeout(&self) -> Result<std::time::Duration> {
        service::http_timeout(&self.settings)
    }

    /// `TOKEN_EXPIRY_SKEW` in seconds.
    pub fn expiry_skew(&self) -> Result<i64> {
        Ok(self.settings.u64("TOKEN_EXPIRY_SKEW")? as i64)
    }

    /// `CREDENTIAL_USERNAME`: the user name `lmi credential git` answers
    /// with the token. It goes into git's `key=value` protocol, so a control
    /// character (a newline would add a line of its own) is refused.
    pub fn credential_username(&self) -> Result<String> {
        let raw = self
            .settings
            .get("CREDENTIAL_USERNAME")
            .filter(|v| !v.is_empty())
            .unwrap_or("oauth2");
        if raw.chars().any(char::is_control) {
            return Err(Error::config(format!(
                "CREDENTIAL_USERNAME {raw:?} holds a control character"
            ))
            .with_hint("set CREDENTIAL_USERNAME to a plain user name, such as oauth2"));
        }
        Ok(raw.to_owned())
    }

    /// The file log settings (`--no-file-log` is the caller's to apply).
    pub fn logging(&self) -> LogConfig {
        let get = |key: &str| self.settings.get(key);
        let enabled = !matches!(
            get("LOG_FILE_ENABLED").and_then(keys::parse_bool),
            Some(false)
        );
        let file = enabled.then(|| {
            get("LOG_FILE")
                .map(Into::into)
                .unwrap_or_else(|| self.paths.default_log_file())
        });
        let raw = get("LOG_LEVEL");
        let level = raw.and_then(crate::logging::parse_level);
        LogConfig {
            file,
            level: level.unwrap_or(LevelFilter::INFO),
            bad_level: raw.filter(|_| level.is_none()).map(str::to_owned),
        }
    }
}
