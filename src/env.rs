//! A snapshot of the process environment, taken once in `main`.
//!
//! Handlers never call `std::env::var`: they read this snapshot, which tests
//! build by hand and which keeps precedence rules pure.

use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The current process environment (variables that are not UTF-8 are skipped).
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
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
        let env = Env::from_pairs([("PATH", "/a::/b:")]);
        assert_eq!(env.path_dirs(), [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert!(Env::default().path_dirs().is_empty());
    }
}
