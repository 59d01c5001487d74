//! `lmi plugin install`: a plugin from an executable file, or from a crate
//! built with `cargo install`.
//!
//! What belongs here: checking the name a file or crate would install
//! (never a built-in command), copying a file into lmi's `plugins/bin/`
//! atomically, running `cargo install --root <data>/plugins` and working out
//! which binaries it produced, and recording each in the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use super::manifest::{now_rfc3339, read_manifest, write_manifest, Entry};
use super::plugins_dir;
use crate::cli::PluginInstallArgs;
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::files;
use crate::paths::ensure_private_dir;
use crate::plugin::{self, PREFIX};

#[derive(Serialize)]
struct Installed {
    name: String,
    path: String,
    source: &'static str,
    from: String,
}

pub(super) fn install(ctx: &Ctx, args: &PluginInstallArgs) -> Result<u8> {
    let installed = match (&args.path, &args.krate) {
        (Some(path), _) => vec![install_file(ctx, path)?],
        (None, Some(krate)) => install_crate(ctx, krate, args)?,
        // clap requires one of the two.
        (None, None) => return Err(Error::usage("give a path to an executable or --crate NAME")),
    };
    for i in &installed {
        tracing::info!(target: "plugin", "installed plugin {} at {} from {}", i.name, i.path, i.from);
    }
    ctx.out
        .result(&serde_json::json!({ "installed": installed }), || {
            installed
                .iter()
                .map(|i| {
                    format!(
                        "installed plugin {} ({}): run `lmi {} --help`",
                        i.name, i.path, i.name
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })?;
    Ok(0)
}

/// The plugin name a file gives: `lmi-hello` → `hello`; any other file
/// name is taken as it is. Refuses names that cannot be plugins.
fn name_from_file(path: &Path) -> Result<String> {
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or_else(|| Error::usage(format!("{} has no usable file name", path.display())))?;
    let name = file.strip_prefix(PREFIX).unwrap_or(file);
    check_installable(name)?;
    Ok(name.to_owned())
}

/// A name `plugin install` accepts: valid, and not a built-in command.
fn check_installable(name: &str) -> Result<()> {
    if !plugin::valid_name(name) {
        return Err(Error::usage(format!("'{name}' is not a valid plugin name"))
            .with_hint("a plugin name has no path separators or spaces and does not start with '-' or '.'; name the file lmi-<name>"));
    }
    if crate::cli::is_builtin(name) {
        return Err(Error::usage(format!(
            "'{name}' is a built-in lmi command: a plugin with that name would never run"
        ))
        .with_hint(format!(
            "rename the executable to {PREFIX}<another-name>; built-in commands: {}",
            crate::cli::builtin_names().join(", ")
        )));
    }
    Ok(())
}

fn install_file(ctx: &Ctx, source: &Path) -> Result<Installed> {
    let meta = std::fs::metadata(source).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::usage(format!("no such file: {}", source.display()))
                .with_hint("give the path to an executable named lmi-<name>, or use --crate NAME")
        } else {
            Error::usage(format!("cannot read {}: {e}", source.display()))
        }
    })?;
    if !meta.is_file() {
        return Err(Error::usage(format!("{} is not a file", source.display()))
            .with_hint("give the path to an executable named lmi-<name>"));
    }
    let name = name_from_file(source)?;
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode()
    };
    #[cfg(unix)]
    if mode & 0o111 == 0 {
        return Err(
            Error::usage(format!("{} is not executable", source.display()))
                .with_hint(format!("chmod +x {} first", source.display())),
        );
    }

    #[cfg(not(unix))]
    let mode = 0o755;
    let bin = ctx.paths.plugins_bin();
    crate::paths::check_trusted(&ctx.paths.data_dir, &bin)?;
    let target = bin.join(format!("{PREFIX}{name}"));
    // Copied beside the target, then renamed: a running copy of the old
    // version keeps its file, and nobody sees half a binary. The mode is the
    // source's execute bits, without set-id bits or write permission for
    // others.
    std::fs::File::open(source)
        .and_then(|mut file| files::copy_atomic(&bin, &target, &mut file, mode & 0o755))
        .map_err(|e| Error::io("cannot install plugin to", &target, e))?;

    let from = std::fs::canonicalize(source)
        .unwrap_or_else(|_| source.to_owned())
        .display()
        .to_string();
    let mut manifest = read_manifest(ctx);
    manifest.plugins.insert(
        name.clone(),
        Entry {
            source: "installed".to_owned(),
            from: from.clone(),
            installed_at: now_rfc3339(ctx.deps.clock.as_ref()),
        },
    );
    write_manifest(ctx, &manifest)?;
    Ok(Installed {
        name,
        path: target.display().to_string(),
        source: "installed",
        from,
    })
}

/// Whether a crate name, version or registry name is safe to pass to cargo
/// (never mistaken for an option).
fn cargo_word(value: &str) -> bool {
    !value.is_empty()
        && !value.starts_with('-')
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '-' | '_' | '.' | '+' | '^' | '~' | '=' | '<' | '>' | '*' | ',' | ' '
                )
        })
        && !value.trim().is_empty()
}

/// cargo: `CARGO` (set when lmi runs under cargo), then `PATH`, then
/// rustup's usual places.
fn find_cargo(ctx: &Ctx) -> Option<PathBuf> {
    let is_file = |p: &Path| p.is_file();
    if let Some(cargo) = ctx.env.non_empty("CARGO").map(PathBuf::from) {
        if cargo.is_absolute() && is_file(&cargo) {
            return Some(cargo);
        }
    }
    let exe = if cfg!(windows) { "cargo.exe" } else { "cargo" };
    let on_path = ctx
        .env
        .path_dirs()
        .into_iter()
        .map(|d| d.join(exe))
        .find(|c| is_file(c));
    on_path.or_else(|| {
        let homes = [
            ctx.env.non_empty("CARGO_HOME").map(PathBuf::from),
            // Windows sets no HOME; rustup's default is under the profile.
            ctx.env
                .non_empty(if cfg!(windows) { "USERPROFILE" } else { "HOME" })
                .map(|h| Path::new(h).join(".cargo")),
        ];
        homes
            .into_iter()
            .flatten()
            .map(|h| h.join("bin").join(exe))
            .find(|c| is_file(c))
    })
}

/// The `lmi-*` files in `bin/` with their modification times.
fn snapshot(bin: &Path) -> BTreeMap<String, Option<std::time::SystemTime>> {
    std::fs::read_dir(bin)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let file = e.file_name().into_string().ok()?;
                    file.starts_with(PREFIX)
                        .then(|| (file, e.metadata().ok().and_then(|m| m.modified().ok())))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The binaries cargo recorded for `krate` in `<root>/.crates2.json`.
fn crate_bins(root: &Path, krate: &str) -> Option<Vec<String>> {
    let bytes = std::fs::read(root.join(".crates2.json")).ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let installs = doc.get("installs")?.as_object()?;
    // Keys look like "NAME VERSION (SOURCE)".
    let (_, entry) = installs
        .iter()
        .find(|(key, _)| key.split(' ').next() == Some(krate))?;
    Some(
        entry
            .get("bins")?
            .as_array()?
            .iter()
            .filter_map(|b| b.as_str().map(str::to_owned))
            .collect(),
    )
}

fn install_crate(ctx: &Ctx, krate: &str, args: &PluginInstallArgs) -> Result<Vec<Installed>> {
    for (what, value) in [
        ("crate name", Some(krate)),
        ("--version", args.version.as_deref()),
        ("--registry", args.registry.as_deref()),
    ] {
        if let Some(value) = value {
            if !cargo_word(value) {
                return Err(Error::usage(format!("invalid {what} {value:?}")));
            }
        }
    }
    // A missing cargo is exit 6 (plugin), not 2: the command line is right,
    // but this machine cannot build the plugin.
    let cargo = find_cargo(ctx).ok_or_else(|| {
        Error::plugin(format!(
            "cannot install crate {krate}: cargo is not installed (not found on PATH or in ~/.cargo/bin)"
        ))
        .with_hint("install Rust from https://rustup.rs, or build the plugin elsewhere and run `lmi plugin install PATH`")
    })?;

    let root = plugins_dir(ctx);
    let bin = ctx.paths.plugins_bin();
    crate::paths::check_trusted(&ctx.paths.data_dir, &bin)?;
    ensure_private_dir(&bin).map_err(|e| Error::io("cannot create", &bin, e))?;
    let before = snapshot(&bin);

    let mut cmd = Command::new(&cargo);
    cmd.arg("install").arg("--root").arg(&root);
    // --force: lmi may have removed a binary that cargo still counts as
    // installed; reinstalling must not stop at "already installed".
    cmd.arg("--force");
    if ctx.global.verbosity() < 0 {
        cmd.arg("--quiet");
    }
    if let Some(version) = &args.version {
        cmd.arg(format!("--version={version}"));
    }
    if let Some(registry) = &args.registry {
        cmd.arg(format!("--registry={registry}"));
    }
    cmd.arg("--").arg(krate);
    // cargo's progress goes to stderr, with lmi's; stdout is for results.
    cmd.stdin(Stdio::null()).stdout(stderr_stdio());
    tracing::info!(target: "plugin", "running {} install --root {} {krate}", cargo.display(), root.display());
    let status = cmd
        .status()
        .map_err(|e| Error::plugin(format!("cannot run {}: {e}", cargo.display())))?;
    if !status.success() {
        return Err(Error::plugin(format!(
            "cargo install {krate} failed ({status})"
        ))
        .with_hint("cargo's messages above say why (a misspelt crate name, a version that does not exist, a build error)"));
    }

    let after = snapshot(&bin);
    let bins: Vec<String> = match crate_bins(&root, krate) {
        Some(bins) => bins.into_iter().filter(|b| b.starts_with(PREFIX)).collect(),
        // No cargo metadata: whatever appeared or changed in bin/.
        None => after
            .iter()
            .filter(|(file, modified)| before.get(*file) != Some(modified))
            .map(|(file, _)| file.clone())
            .collect(),
    };
    let from = format!(
        "crate {krate}{}{}",
        args.version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default(),
        args.registry
            .as_deref()
            .map(|r| format!(" (registry {r})"))
            .unwrap_or_default()
    );
    let mut manifest = read_manifest(ctx);
    let mut installed = Vec::new();
    for file in bins {
        let name = file.trim_start_matches(PREFIX).to_owned();
        let path = bin.join(&file);
        if let Err(e) = check_installable(&name) {
            // A crate cannot be allowed to shadow or smuggle in a name that
            // `plugin install PATH` refuses.
            let _ = files::remove(&path);
            tracing::warn!(target: "plugin", "removed {} installed by crate {krate}: {}", path.display(), e.message());
            continue;
        }
        manifest.plugins.insert(
            name.clone(),
            Entry {
                source: "crate".to_owned(),
                from: from.clone(),
                installed_at: now_rfc3339(ctx.deps.clock.as_ref()),
            },
        );
        installed.push(Installed {
            name,
            path: path.display().to_string(),
            source: "crate",
            from: from.clone(),
        });
    }
    if installed.is_empty() {
        return Err(Error::plugin(format!(
            "crate {krate} installed no executable named {PREFIX}<name>"
        ))
        .with_hint("a plugin crate must build a binary named lmi-<name> (its [[bin]] name)"));
    }
    write_manifest(ctx, &manifest)?;
    Ok(installed)
}

/// A `Stdio` that writes to lmi's stderr.
fn stderr_stdio() -> Stdio {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            return Stdio::from(fd);
        }
    }
    Stdio::null()
}
