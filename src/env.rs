//! A snapshot of the process environment, taken once in `main`.
//!
//! Handlers never call `std::env::var`: they read this snapshot, which tests
//! build by hand and which keeps precedence rules pure.

use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct ProcessEnv {
    vars: HashMap<String, String>,
    /// Names whose value is not UTF-8 (the values are left out).
    not_unicode: Vec<String>,
}

impl ProcessEnv {
    /// The current process environment. Variables that are not UTF-8 are
    /// left out; the names of those whose value is not are kept, so that
    /// configuration can refuse them rather than silently fall back.
    pub fn from_process() -> ProcessEnv {
        let mut env = ProcessEnv::default();
        for (k, v) in std::env::vars_os() {
            let Ok(k) = k.into_string() else { continue };
            match v.into_string() {
                Ok(v) => {
                    env.vars.insert(k, v);
                }
                Err(_) => env.not_unicode.push(k),
            }
        }
        env
    }

    /// The names of variables whose value is not UTF-8.
    pub fn not_unicode(&self) -> &[String] {
        &self.not_unicode
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> ProcessEnv
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        ProcessEnv {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            not_unicode: Vec::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The value, treating an empty one as unset.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// The `PATH` folders, in order. Empty entries (which a shell reads as
    /// the current folder) are skipped: running whatever `lmi-x` or `cargo`
    /// sits in the current folder is a trap, not a feature.
    pub fn path_dirs(&self) -> Vec<PathBuf> {
        self.get("PATH")
            .map(|p| {
                std::env::split_paths(p)
                    .filter(|d| !d.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_dirs_skip_empty_entries() {
        let env = ProcessEnv::from_pairs([("PATH", "/a::/b:")]);
        assert_eq!(env.path_dirs(), [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert!(ProcessEnv::default().path_dirs().is_empty());
    }
}
