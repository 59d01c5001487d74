//! Environments: the [`EnvName`] newtype (the only way to name one), the
//! name rules of SPEC §2, and the list of those that exist.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::paths::Paths;

/// A valid environment name (SPEC §2): `[A-Za-z0-9][A-Za-z0-9._-]*`, at most
/// 64 characters, so it is safe as a file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvName(String);

impl EnvName {
    /// The name, or a configuration error that lists the environments.
    pub fn parse(name: &str, paths: &Paths) -> Result<EnvName> {
        if valid_env_name(name) {
            Ok(EnvName(name.to_owned()))
        } else {
            Err(Error::config(format!(
                "invalid environment name {name:?}: use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters"
            ))
            .with_hint(environments_hint(paths, None)))
        }
    }

    /// A name already known to be valid (read back from lmi's own files).
    pub fn checked(name: &str) -> Option<EnvName> {
        valid_env_name(name).then(|| EnvName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EnvName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Whether `name` is a valid environment name (SPEC §2).
pub fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    name.len() <= 64 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The environments that exist: `env/*.env` with a valid name, sorted.
pub fn list_environments(paths: &Paths) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(paths.env_dir()) {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some(stem) = name.strip_suffix(".env") {
                if valid_env_name(stem) && path.is_file() {
                    out.push((stem.to_owned(), path));
                }
            }
        }
    }
    out.sort();
    out
}

pub fn environments_hint(paths: &Paths, wanted: Option<&str>) -> String {
    let names: Vec<String> = list_environments(paths)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    if names.is_empty() {
        return format!(
            "no environments exist yet: create {} with KEY=value lines",
            paths.env_file("<name>").display()
        );
    }
    let mut hint = format!("available environments: {}", names.join(", "));
    if let Some(wanted) = wanted {
        let names = names.iter().map(String::as_str);
        if let Some(name) = crate::suggest::closest(wanted, names, crate::suggest::Tolerance::Typo)
        {
            hint.push_str(&format!(" (did you mean {name}?)"));
        }
    }
    hint
}

/// The error for "no environment chosen", listing those that exist.
pub fn no_environment(paths: &Paths) -> Error {
    Error::config("no environment selected").with_hint(format!(
        "use -e NAME, set LMI_ENVIRONMENT, or set DEFAULT_ENVIRONMENT in {}; {}",
        paths.main_config().display(),
        environments_hint(paths, None)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert!(valid_env_name("dev"));
        assert!(valid_env_name("a.b_c-1"));
        assert!(!valid_env_name(""));
        assert!(!valid_env_name("../x"));
        assert!(!valid_env_name("/etc/passwd"));
        assert!(!valid_env_name(".hidden"));
        assert!(!valid_env_name(&"a".repeat(65)));
        assert!(EnvName::checked("dev").is_some() && EnvName::checked("a/b").is_none());
    }
}
