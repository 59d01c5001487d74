//! Plugins (SPEC §6): discovery on PATH and in lmi's `plugins/bin/`, the
//! context a plugin gets, exit codes and signals, `--lmi-describe` for
//! `--help`/`--version`, the install/list/uninstall lifecycle, and the
//! example `lmi-hello` plugin end to end against the test IdP and API.
//!
//! The plugins are tiny shell scripts in the sandbox, so each test shows the
//! exact contract a plugin author relies on. This file holds the helpers
//! the plugin test files share: writing such scripts and reading back what
//! they saw.

mod discovery;
mod example;
mod lifecycle;
mod running;

use std::path::{Path, PathBuf};

use crate::support::Sandbox;

/// Writes an executable `#!/bin/sh` script.
fn script(dir: &Path, file: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    chmod(&path, 0o755);
    path
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A folder in the sandbox put first on the PATH of every run.
fn path_dir(sb: &mut Sandbox, name: &str) -> PathBuf {
    let dir = sb.home().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let old = sb
        .cmd(&[])
        .get_envs()
        .find(|(k, _)| *k == "PATH")
        .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
        .unwrap_or_else(|| std::env::var("PATH").unwrap());
    sb.var("PATH", format!("{}:{old}", dir.display()));
    dir
}

/// A plugin that answers `--lmi-describe` with `version` and `description`.
fn describing(dir: &Path, name: &str, version: &str, description: &str, body: &str) -> PathBuf {
    script(
        dir,
        &format!("lmi-{name}"),
        &format!(
            "if [ \"$1\" = --lmi-describe ]; then\n  echo '{{\"name\":\"{name}\",\"version\":\"{version}\",\"description\":\"{description}\"}}'\n  exit 0\nfi\n{body}"
        ),
    )
}
