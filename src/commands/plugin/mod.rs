//! `lmi plugin list|install|uninstall`: the plugin lifecycle (SPEC §6), and
//! the bridge from a command's context to running a plugin.
//!
//! What belongs here: dispatching the `plugin` subcommands, listing, and
//! uninstalling; turning [`Ctx`] into the plain [`Invocation`] that
//! `crate::plugin` runs a plugin with. Installing is `install.rs`, the
//! manifest `plugins/installed.json` is `manifest.rs`; finding, describing
//! and running plugins is `crate::plugin`.
//!
//! lmi only ever removes what it installed: a plugin found on `PATH` belongs
//! to the user (or their package manager), as gh does for extensions.

mod install;
mod manifest;

use std::ffi::OsString;
use std::path::PathBuf;

use serde::Serialize;

use self::manifest::{read_manifest, write_manifest};
use super::Ctx;
use crate::cli::PluginCommand;
use crate::error::{Error, Result};
use crate::plugin::{self, Found, Invocation, Origin, PREFIX};
use crate::suggest::{self, Tolerance};

pub fn run(ctx: &Ctx, cmd: PluginCommand) -> Result<u8> {
    match cmd {
        PluginCommand::List => list(ctx),
        PluginCommand::Install(args) => install::install(ctx, &args),
        PluginCommand::Uninstall { name } => uninstall(ctx, &name),
    }
}

/// `lmi <name> ARGS...`: runs the plugin with this invocation's flags,
/// paths and environment.
pub fn external(ctx: &Ctx, args: Vec<OsString>) -> Result<u8> {
    plugin::run_external(invocation(ctx, environment_for_plugin(ctx)), args)
}

/// What a child run the plugin way gets from this invocation, with
/// `environment` for `LMI_ENVIRONMENT` (or the error to report instead).
pub(super) fn invocation(ctx: &Ctx, environment: Result<String>) -> Invocation<'_> {
    Invocation {
        paths: &ctx.paths,
        env: &ctx.env,
        output: ctx.out.format.name(),
        verbosity: ctx.global.verbosity(),
        no_file_log: ctx.global.no_file_log,
        command_line: &ctx.command_line,
        environment,
        builtin_names: crate::cli::builtin_names,
    }
}

/// The resolved environment for `LMI_ENVIRONMENT`. An explicit `-e` that does
/// not resolve is the user's error to see now; otherwise an unresolvable
/// configuration passes `LMI_ENVIRONMENT` on as the user set it, so the
/// plugin's own lmi calls report the same problem instead of quietly falling
/// back to another environment.
fn environment_for_plugin(ctx: &Ctx) -> Result<String> {
    match ctx.config() {
        Ok(config) => Ok(config
            .environment()
            .map(ToString::to_string)
            .unwrap_or_default()),
        Err(e) if ctx.global.environment.is_some() => Err(e),
        Err(e) => {
            tracing::debug!(target: "plugin", "configuration does not resolve ({e}); LMI_ENVIRONMENT passed on unchanged");
            Ok(ctx
                .env
                .get("LMI_ENVIRONMENT")
                .unwrap_or_default()
                .to_owned())
        }
    }
}

/// `<data>/plugins`: cargo's `--root`, holding `bin/` and the manifest.
fn plugins_dir(ctx: &Ctx) -> PathBuf {
    ctx.paths.data_dir.join("plugins")
}

// -------------------------------------------------------------------- list

#[derive(Serialize)]
struct Listed {
    name: String,
    path: String,
    version: Option<String>,
    /// `installed` (a file copied by lmi), `crate` (cargo install by lmi) or
    /// `path` (found on PATH, the user's).
    source: &'static str,
    description: Option<String>,
    /// What lmi installed it from, when it did.
    from: Option<String>,
    executable: bool,
}

fn list(ctx: &Ctx) -> Result<u8> {
    let found = plugin::discover(&ctx.paths, &ctx.env, &crate::cli::builtin_names());
    let manifest = read_manifest(ctx);
    let descriptions = plugin::describe_all(&found, &ctx.env);
    let listed: Vec<Listed> = found
        .into_iter()
        .zip(descriptions)
        .map(|(p, d)| {
            let entry = (p.origin == Origin::PluginsBin)
                .then(|| manifest.plugins.get(&p.name))
                .flatten();
            let source = match (p.origin, entry.map(|e| e.source.as_str())) {
                (Origin::Path, _) => "path",
                (Origin::PluginsBin, Some("crate")) => "crate",
                (Origin::PluginsBin, _) => "installed",
            };
            let d = d.unwrap_or_default();
            Listed {
                path: p.path.display().to_string(),
                version: d.version,
                description: d.description,
                from: entry.map(|e| e.from.clone()),
                executable: p.executable,
                source,
                name: p.name,
            }
        })
        .collect();
    ctx.out.result(&listed, || {
        if listed.is_empty() {
            return format!(
                "no plugins (install one with `lmi plugin install PATH`, or put an executable {PREFIX}<name> on PATH)"
            );
        }
        let rows: Vec<[String; 4]> = listed
            .iter()
            .map(|l| {
                let mut version = l.version.clone().unwrap_or_else(|| "-".to_owned());
                if !l.executable {
                    version = "(not executable)".to_owned();
                }
                [l.name.clone(), version, l.source.to_owned(), l.path.clone()]
            })
            .collect();
        let header = ["NAME", "VERSION", "SOURCE", "PATH"].map(str::to_owned);
        table(std::iter::once(&header).chain(rows.iter()))
    })?;
    Ok(0)
}

/// Left-aligned columns separated by two spaces; the last is not padded.
fn table<'a>(rows: impl Iterator<Item = &'a [String; 4]> + Clone) -> String {
    let mut widths = [0usize; 4];
    for row in rows.clone() {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.map(|row| {
        format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
    })
    .collect::<Vec<_>>()
    .join("\n")
}

// --------------------------------------------------------------- uninstall

fn uninstall(ctx: &Ctx, typed: &str) -> Result<u8> {
    let name = typed.strip_prefix(PREFIX).unwrap_or(typed);
    if !plugin::valid_name(name) {
        return Err(Error::usage(format!(
            "'{typed}' is not a valid plugin name"
        )));
    }
    let target = ctx.paths.plugins_bin().join(format!("{PREFIX}{name}"));
    let mut manifest = read_manifest(ctx);
    let recorded = manifest.plugins.remove(name);
    let removed =
        crate::files::remove(&target).map_err(|e| Error::io("cannot remove", &target, e))?;
    if !removed && recorded.is_none() {
        return Err(not_installed(ctx, name));
    }
    if recorded.is_some() {
        write_manifest(ctx, &manifest)?;
    }
    tracing::info!(target: "plugin", "uninstalled plugin {name} ({})", target.display());
    let path = target.display().to_string();
    ctx.out.result(
        &serde_json::json!({ "uninstalled": name, "path": path, "removed": removed }),
        || format!("uninstalled plugin {name} (removed {path})"),
    )?;
    if let Some(on_path) = plugin::find(&ctx.paths, &ctx.env, name) {
        tracing::warn!(target: "plugin", "`lmi {name}` now runs {}, found on PATH", on_path.path.display());
    }
    Ok(0)
}

/// Why `uninstall NAME` has nothing of lmi's to remove.
fn not_installed(ctx: &Ctx, name: &str) -> Error {
    if let Some(Found { path, .. }) = plugin::find(&ctx.paths, &ctx.env, name) {
        let path = path.display().to_string();
        return Error::usage(format!(
            "plugin {name} is {path}, found on PATH: lmi did not install it, so it is yours to remove"
        ))
        .with_hint(format!(
            "delete {path} yourself, or with the package manager that installed it"
        ));
    }
    let found = plugin::discover(&ctx.paths, &ctx.env, &crate::cli::builtin_names());
    let close = suggest::closest(name, found.iter().map(|p| p.name.as_str()), Tolerance::Typo);
    let hint = match suggest::did_you_mean(close.as_slice()) {
        Some(question) => format!("{question} `lmi plugin list` shows the plugins"),
        None => "`lmi plugin list` shows the plugins".to_owned(),
    };
    Error::usage(format!("no plugin named '{name}'")).with_hint(hint)
}
