//! Finding plugins: which names may be plugins, and where `lmi-<name>` is.
//!
//! What belongs here: valid plugin names, the executable check, and the
//! search order — lmi's `plugins/bin/` first, then each `PATH` folder, as a
//! shell would look.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::env::ProcessEnv;
use crate::paths::Paths;

/// File names of plugins start with this.
pub const PREFIX: &str = "lmi-";

/// Where a plugin was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// lmi's own `plugins/bin/` folder (installed with `lmi plugin install`).
    PluginsBin,
    /// A folder on `PATH`: the user's to manage.
    Path,
}

/// A plugin executable (or, in `plugins/bin/`, a file that should be one).
#[derive(Debug, Clone)]
pub struct Found {
    /// The command name: the file name without `lmi-`.
    pub name: String,
    pub path: PathBuf,
    pub origin: Origin,
    /// False only for a file in `plugins/bin/` without execute permission
    /// (on `PATH` such a file is not a plugin at all).
    pub executable: bool,
}

/// Whether `name` may name a plugin: not empty, no path separators, does not
/// start with `-` (it would read as an option) or `.` (hidden files, `..`),
/// no whitespace or control characters, and not a built-in command.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_whitespace() || c.is_control())
}

/// The executable bits, as a shell's `PATH` lookup checks them.
fn is_executable(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        true
    }
}

/// Whether `path` in lmi's `plugins/bin` is trusted (see
/// [`crate::paths::check_trusted`]); an untrusted one is skipped with a
/// warning, since anyone who can write there chooses what `lmi <name>` runs.
fn trusted(paths: &Paths, path: &std::path::Path) -> bool {
    match crate::paths::check_trusted(&paths.data_dir, path) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(target: "plugin", "{}; skipping it ({})", e.message(), e.hint().unwrap_or_default());
            false
        }
    }
}

/// The plugin `name` resolves to: `plugins/bin/lmi-<name>` first, then the
/// first executable `lmi-<name>` on `PATH`. `None` when there is none.
pub fn find(paths: &Paths, env: &ProcessEnv, name: &str) -> Option<Found> {
    if !valid_name(name) {
        return None;
    }
    let file = format!("{PREFIX}{name}");
    let installed = paths.plugins_bin().join(&file);
    if let Ok(meta) = std::fs::metadata(&installed) {
        if meta.is_file() && trusted(paths, &installed) {
            return Some(Found {
                name: name.to_owned(),
                executable: is_executable(&meta),
                path: installed,
                origin: Origin::PluginsBin,
            });
        }
    }
    env.path_dirs().into_iter().find_map(|dir| {
        let candidate = dir.join(&file);
        let meta = std::fs::metadata(&candidate).ok()?;
        (meta.is_file() && is_executable(&meta)).then(|| Found {
            name: name.to_owned(),
            path: candidate,
            origin: Origin::Path,
            executable: true,
        })
    })
}

/// Every plugin, one per name (the one `lmi <name>` would run), sorted by
/// name. Names that a built-in command (one of `builtins`, which the caller
/// hands in) shadows are left out: they never run.
pub fn discover(paths: &Paths, env: &ProcessEnv, builtins: &[String]) -> Vec<Found> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut dirs = Vec::new();
    if trusted(paths, &paths.plugins_bin()) {
        dirs.push((paths.plugins_bin(), Origin::PluginsBin));
    }
    dirs.extend(env.path_dirs().into_iter().map(|d| (d, Origin::Path)));
    for (dir, origin) in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut here: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let file = e.file_name().into_string().ok()?;
                let name = file.strip_prefix(PREFIX)?.to_owned();
                Some((name, e.path()))
            })
            .collect();
        here.sort();
        for (name, path) in here {
            if !valid_name(&name) || builtins.contains(&name) || seen.contains(&name) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let executable = is_executable(&meta);
            if !meta.is_file() || (origin == Origin::Path && !executable) {
                continue;
            }
            seen.insert(name.clone());
            out.push(Found {
                name,
                path,
                origin,
                executable,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("hello"));
        assert!(valid_name("my-tool.v2"));
        for bad in ["", "-x", ".hidden", "..", "a/b", "a\\b", "a b", "a\nb"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
