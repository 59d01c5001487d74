//! The resolved configuration as data: each raw value with its [`Source`],
//! the chosen environment, and the typed getters the typed parts of
//! [`super::Config`] are read with (required keys, booleans, bounded
//! numbers), each failing with an error that says where to set the key.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::environments::{no_environment, EnvName};
use super::keys::{key_def, misspelt_key, parse_bool, KeyKind};
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::secret::Secret;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    CommandLine,
    Environment,
    EnvFile(PathBuf),
    MainFile(PathBuf),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::CommandLine => f.write_str("command line"),
            Source::Environment => f.write_str("environment variable"),
            Source::EnvFile(p) | Source::MainFile(p) => write!(f, "{}", p.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A resolved value and its source.
#[derive(Clone)]
pub struct Value {
    pub value: String,
    pub source: Source,
}

/// Values may be secrets: debug output shows where a value came from, never
/// the value.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field(
                "value",
                &format_args!("[{} chars]", self.value.chars().count()),
            )
            .field("source", &self.source)
            .finish()
    }
}
/// The raw configuration of one invocation: every key's value and source.
/// Outside `config`, code reads the typed parts of [`super::Config`]; the
/// raw map is only listed (`config show`, plugins' `--set` exports).
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Option<EnvName>,
    pub env_file: Option<PathBuf>,
    pub values: BTreeMap<String, Value>,
    /// Warnings to show once logging is up (secrets in the wrong place).
    pub warnings: Vec<String>,
}
impl Settings {
    /// The active environment, if one was chosen.
    pub fn environment(&self) -> Option<&EnvName> {
        self.environment.as_ref()
    }

    /// The value of `key` (any case), if set anywhere.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_uppercase())
            .map(|v| v.value.as_str())
            .filter(|v| !v.is_empty())
    }

    #[cfg(test)]
    pub(crate) fn source(&self, key: &str) -> Option<&Source> {
        self.values
            .get(&key.to_ascii_uppercase())
            .map(|v| &v.source)
    }

    /// The value of a secret key.
    pub(crate) fn secret(&self, key: &str) -> Option<Secret> {
        self.get(key).map(Secret::new)
    }

    /// Where the user should set `key`: the environment's file when one is
    /// active, else the main file.
    pub(crate) fn where_to_set(&self, key: &str, paths: &Paths) -> String {
        match &self.environment {
            Some(name) => format!(
                "set {key} in {} or as an environment variable",
                paths.env_file(name.as_str()).display()
            ),
            None => format!(
                "set {key} in {} or as an environment variable",
                paths.main_config().display()
            ),
        }
    }

    /// A required key, or a configuration error naming it.
    pub(crate) fn require(&self, key: &str, paths: &Paths) -> Result<&str> {
        self.get(key).ok_or_else(|| {
            let env = self
                .environment
                .as_ref()
                .map(|e| format!(" for environment {:?}", e.as_str()))
                .unwrap_or_default();
            let typo = self
                .values
                .iter()
                .find(|(name, _)| misspelt_key(name) == Some(key));
            let hint = match typo {
                Some((name, value)) => format!("{} sets {name}; did you mean {key}?", value.source),
                None => self.where_to_set(key, paths),
            };
            Error::config(format!("{key} is not set{env}")).with_hint(hint)
        })
    }

    pub(crate) fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key) {
            None => Ok(false),
            Some(raw) => parse_bool(raw).ok_or_else(|| {
                Error::config(format!(
                    "{key} must be true or false, not {:?}",
                    raw.to_ascii_lowercase()
                ))
                .with_hint(format!(
                    "set {key}=true or {key}=false (yes/no and 1/0 work too)"
                ))
            }),
        }
    }

    /// A whole number within the key's range (from the key table), so that
    /// expiry and timeout arithmetic can never overflow.
    pub(crate) fn u64(&self, key: &str) -> Result<u64> {
        let def = key_def(key);
        let raw = self
            .get(key)
            .or_else(|| def.and_then(|k| k.default))
            .unwrap_or("0");
        let (max, what) = match def.map(|d| d.kind) {
            Some(KeyKind::Number { max, what }) => (max, what),
            _ => (u64::from(u32::MAX), "a whole number of seconds"),
        };
        match raw.trim().parse::<u64>() {
            Ok(value) if value <= max => Ok(value),
            _ => Err(
                Error::config(format!("{key} must be {what} from 0 to {max}, not {raw:?}"))
                    .with_hint(format!("fix {key} (lmi config show says where it is set)")),
            ),
        }
    }

    /// The active environment, or a configuration error listing those that exist.
    pub(crate) fn require_environment(&self, paths: &Paths) -> Result<&EnvName> {
        self.environment
            .as_ref()
            .ok_or_else(|| no_environment(paths))
    }
}
