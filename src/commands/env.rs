//! `lmi env list`: the environments, the default marked; `env add` and
//! `env remove`, which create and delete an environment's file (SPEC §2.1).

use serde::Serialize;

use super::Ctx;
use crate::cli::EnvCommand;
use crate::config::write::{self, Change, FileRole};
use crate::config::{environments_hint, list_environments, EnvName};
use crate::error::{Error, Result};

pub fn run(ctx: &Ctx, cmd: EnvCommand) -> Result<u8> {
    match cmd {
        EnvCommand::List => list(ctx),
        EnvCommand::Add { name, pairs } => add(ctx, &name, &pairs),
        EnvCommand::Remove { name } => remove(ctx, &name),
    }
}

#[derive(Serialize)]
struct Added {
    name: String,
    path: String,
}

fn add(ctx: &Ctx, name: &str, raw: &[String]) -> Result<u8> {
    // Everything is checked before anything is created.
    let name = EnvName::parse(name, &ctx.paths)?;
    let pairs = raw
        .iter()
        .map(|r| write::parse_assignment(r))
        .collect::<Result<Vec<_>>>()?;
    let path = ctx.paths.env_file(name.as_str());
    let edited = write::edit(&path, FileRole::Environment, Change::Set(&pairs), true)?;
    for warning in &edited.warnings {
        tracing::warn!(target: "config", "{warning}");
    }
    let out = Added {
        name: name.to_string(),
        path: edited.path.display().to_string(),
    };
    ctx.out.result(&out, || {
        format!(
            "created environment {} in {}\nnext: lmi -e {} config set KEY=VALUE, then lmi -e {} doctor",
            out.name, out.path, out.name, out.name
        )
    })?;
    Ok(0)
}

#[derive(Serialize)]
struct Removed {
    removed: String,
}

fn remove(ctx: &Ctx, name: &str) -> Result<u8> {
    let name = EnvName::parse(name, &ctx.paths)?;
    let path = ctx.paths.env_file(name.as_str());
    if !path.is_file() {
        return Err(Error::config(format!(
            "environment {:?} does not exist (no file {})",
            name.as_str(),
            path.display()
        ))
        .with_hint(environments_hint(&ctx.paths, Some(name.as_str()))));
    }
    std::fs::remove_file(&path).map_err(|e| {
        Error::config(format!("cannot delete {}: {e}", path.display()))
            .with_hint("check the permissions of lmi's config folder")
    })?;
    // The lock file `config set` leaves beside it (see config::write).
    let _ = crate::files::remove(&write::lock_path(&path));
    let cache = ctx.token_cache();
    cache.remove_metadata(&name);
    if let Err(e) = cache.remove_dpop(&name) {
        tracing::warn!(target: "auth", "could not delete the DPoP key of {name}: {e}");
    }
    if let Err(e) = cache.remove(&name) {
        tracing::warn!(target: "auth", "could not delete the cached token {}: {e}", cache.path(&name).display());
    }
    let out = Removed {
        removed: name.to_string(),
    };
    ctx.out
        .result(&out, || format!("removed environment {}", out.removed))?;
    Ok(0)
}

#[derive(Serialize)]
struct EnvEntry {
    name: String,
    default: bool,
    /// The environment's file; `None` for one an agent shares.
    path: Option<String>,
    /// `file` (this machine's), or `agent` (shared by the lmi agent).
    source: &'static str,
}

fn list(ctx: &Ctx) -> Result<u8> {
    // A broken configuration (a bad -e, a malformed file, a default that
    // names no environment) is an error whose hint lists the environments.
    let default = ctx.config()?.default_environment().map(str::to_owned);
    let is_default = |name: &str| default.as_deref() == Some(name);
    let mut entries: Vec<EnvEntry> = list_environments(&ctx.paths)
        .into_iter()
        .map(|(name, path)| EnvEntry {
            default: is_default(&name),
            name,
            path: Some(path.display().to_string()),
            source: "file",
        })
        .collect();
    // The agent's shared environments that have no file here (a local file
    // wins, SPEC §9).
    for name in agent_environments(ctx) {
        if !entries.iter().any(|e| e.name == name) {
            entries.push(EnvEntry {
                default: is_default(&name),
                name,
                path: None,
                source: "agent",
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    ctx.out.result(&entries, || {
        if entries.is_empty() {
            return format!(
                "no environments (create {})",
                ctx.paths.env_file("<name>").display()
            );
        }
        entries
            .iter()
            .map(|e| {
                format!(
                    "{} {}\t{}",
                    if e.default { "*" } else { " " },
                    e.name,
                    e.path.as_deref().unwrap_or("(shared by the lmi agent)")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(0)
}

/// The names the agent shares, when an agent answers; an agent that is
/// set but does not answer is a warning here (the list of files still
/// helps).
fn agent_environments(ctx: &Ctx) -> Vec<String> {
    let found = ctx
        .agent()
        .and_then(|agent| agent.map(|a| a.environments()).transpose());
    match found {
        Ok(names) => names
            .unwrap_or_default()
            .into_iter()
            .filter(|n| crate::config::valid_env_name(n))
            .collect(),
        Err(e) => {
            tracing::warn!(target: "agent", "{}", e.message());
            Vec::new()
        }
    }
}
