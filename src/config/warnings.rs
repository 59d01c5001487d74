//! The warnings resolution collects, shown once logging is up: secrets in
//! places others can read them, and keys that look like a misspelt
//! documented one.

use std::collections::{BTreeMap, HashMap};

use super::dotenv::FileValues;
use super::keys::{misspelt_key, KEYS};
use super::settings::Value;
use crate::paths::Paths;

/// Secrets in places others can read them (SPEC §2), warned about as ssh
/// does for keys: on the command line, in the shared main file, or in a
/// file readable by group or others.
pub(super) fn secret_warnings(
    warnings: &mut Vec<String>,
    paths: &Paths,
    chosen: Option<&str>,
    cli: &HashMap<&str, &str>,
    main: Option<&FileValues>,
    env_values: Option<&FileValues>,
) {
    let env_file_shown = || {
        paths
            .env_file(chosen.unwrap_or("<name>"))
            .display()
            .to_string()
    };
    for key in KEYS.iter().filter(|k| k.secret) {
        if cli.contains_key(key.name) {
            warnings.push(format!(
                "{} was given on the command line, where other users can see it in the process list; set it in {} or an environment variable instead",
                key.name,
                env_file_shown()
            ));
        }
        for file in main.into_iter().chain(env_values) {
            if !file.has(key.name) {
                continue;
            }
            let in_env_file = env_values.is_some_and(|f| f.has(key.name));
            if Some(&file.path) == main.map(|m| &m.path) {
                if in_env_file {
                    warnings.push(format!(
                        "{} in the main config {} is overridden by the environment's file; remove it from {}",
                        key.name,
                        file.path.display(),
                        file.path.display()
                    ));
                } else {
                    warnings.push(format!(
                        "{} is set in the main config {}; move it to the environment's file {} or an environment variable",
                        key.name,
                        file.path.display(),
                        env_file_shown()
                    ));
                }
            }
            if file.readable_by_others {
                warnings.push(format!(
                    "{} holds {} and is readable by other users; run: chmod 600 {}",
                    file.path.display(),
                    key.name,
                    file.path.display()
                ));
            }
        }
    }
}

/// A key that is one or two typos away from a documented one is almost
/// certainly meant as that key (`OAUTH_CLEINT_ID`).
pub(super) fn typo_warnings(warnings: &mut Vec<String>, values: &BTreeMap<String, Value>) {
    for (name, value) in values {
        if let Some(meant) = misspelt_key(name) {
            warnings.push(format!(
                "{name} ({}) is not a key lmi knows; did you mean {meant}?",
                value.source
            ));
        }
    }
}
