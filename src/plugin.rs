//! Plugins: executables named `lmi-<name>` (SPEC §6).

use std::ffi::OsString;

use crate::commands::Ctx;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::paths::Paths;

/// Lines for `lmi --help` listing plugins.
pub fn help_section(_paths: &Paths, _env: &Env) -> String {
    String::new()
}

/// Lines for `lmi --version`, one per plugin.
pub fn version_lines(_paths: &Paths, _env: &Env) -> Vec<String> {
    Vec::new()
}

/// `lmi <name> ARGS...`.
pub fn run_external(_ctx: &Ctx, args: Vec<OsString>) -> Result<u8> {
    let name = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    Err(Error::usage(format!("unknown command {name:?}")))
}
