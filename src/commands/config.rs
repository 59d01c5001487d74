//! `lmi config show`: the effective configuration with each value's source
//! (secrets shown as `********`); `lmi config set` and `config unset`, which
//! edit the active environment's file or the main `.env` through
//! [`crate::config::write`] (SPEC §2.1).

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Ctx;
use crate::cli::ConfigCommand;
use crate::config::write::{self, Change, Edited, FileRole};
use crate::config::{is_secret_key, KEYS};
use crate::error::Result;

pub fn run(ctx: &Ctx, cmd: ConfigCommand) -> Result<u8> {
    match cmd {
        ConfigCommand::Show => show(ctx),
        ConfigCommand::Set { pairs, main } => set(ctx, &pairs, main),
        ConfigCommand::Unset { keys, main } => unset(ctx, &keys, main),
    }
}

/// The file `config set/unset` edit: the main `.env` with `--main`, else
/// the active environment's (none active is a configuration error).
fn target(ctx: &Ctx, main: bool) -> Result<(PathBuf, FileRole)> {
    if main {
        // Not resolved first: `--main` is how a broken DEFAULT_ENVIRONMENT
        // gets fixed.
        return Ok((ctx.paths.main_config(), FileRole::Main));
    }
    let name = ctx.config()?.require_environment()?;
    Ok((ctx.paths.env_file(name.as_str()), FileRole::Environment))
}

fn warn_all(edited: &Edited) {
    for warning in &edited.warnings {
        tracing::warn!(target: "config", "{warning}");
    }
}

#[derive(Serialize)]
struct SetOut {
    file: String,
    set: Vec<String>,
}

fn set(ctx: &Ctx, raw: &[String], main: bool) -> Result<u8> {
    let pairs = raw
        .iter()
        .map(|r| write::parse_assignment(r))
        .collect::<Result<Vec<_>>>()?;
    let (path, role) = target(ctx, main)?;
    let edited = write::edit(&path, role, Change::Set(&pairs), false)?;
    warn_all(&edited);
    let out = SetOut {
        file: edited.path.display().to_string(),
        set: edited.keys,
    };
    ctx.out.result(&out, || {
        format!("set {} in {}", out.set.join(", "), out.file)
    })?;
    Ok(0)
}

#[derive(Serialize)]
struct UnsetOut {
    file: String,
    removed: Vec<String>,
}

fn unset(ctx: &Ctx, raw: &[String], main: bool) -> Result<u8> {
    let keys = raw
        .iter()
        .map(|k| write::check_key(k))
        .collect::<Result<Vec<_>>>()?;
    let (path, role) = target(ctx, main)?;
    let edited = write::edit(&path, role, Change::Unset(&keys), false)?;
    warn_all(&edited);
    let out = UnsetOut {
        file: edited.path.display().to_string(),
        removed: edited.keys,
    };
    ctx.out.result(&out, || {
        if out.removed.is_empty() {
            format!("none of those keys is in {}", out.file)
        } else {
            format!("removed {} from {}", out.removed.join(", "), out.file)
        }
    })?;
    Ok(0)
}

#[derive(Serialize)]
struct Shown {
    /// `None` for a documented key that is set nowhere.
    value: Option<String>,
    /// The file, `command line`, `environment variable`, `default` or `unset`.
    source: String,
}

#[derive(Serialize)]
struct ConfigShow {
    environment: Option<String>,
    values: BTreeMap<String, Shown>,
}

fn show(ctx: &Ctx) -> Result<u8> {
    let config = ctx.config()?;
    let settings = config.settings();
    let mut values = BTreeMap::new();
    for (key, value) in &settings.values {
        let shown = crate::redact::config_value(&value.value, is_secret_key(key));
        values.insert(
            key.clone(),
            Shown {
                value: Some(shown),
                source: value.source.to_string(),
            },
        );
    }
    // The log's built-in path depends on the machine, so it is not in the key
    // table; show it all the same.
    values.entry("LOG_FILE".to_owned()).or_insert(Shown {
        value: Some(ctx.paths.default_log_file().display().to_string()),
        source: "default".to_owned(),
    });
    // Every documented key is listed, also when it is set nowhere.
    for def in KEYS {
        values.entry(def.name.to_owned()).or_insert(Shown {
            value: None,
            source: "unset".to_owned(),
        });
    }
    let result = ConfigShow {
        environment: config.environment().map(ToString::to_string),
        values,
    };
    ctx.out.result(&result, || {
        let mut lines = vec![format!(
            "environment: {}",
            result.environment.as_deref().unwrap_or("(none)")
        )];
        // Documented keys first, in table order, then the others.
        let mut keys: Vec<&String> = Vec::new();
        for def in KEYS {
            if let Some((k, _)) = result.values.get_key_value(def.name) {
                keys.push(k);
            }
        }
        for k in result.values.keys() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        for k in keys {
            let v = &result.values[k];
            match &v.value {
                Some(value) => lines.push(format!("{k}={value}  # {}", v.source)),
                None => lines.push(format!("# {k} is not set")),
            }
        }
        lines.join("\n")
    })?;
    Ok(0)
}
