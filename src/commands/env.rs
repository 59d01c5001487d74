//! `lmi env list`: the environments, the default marked.

use serde::Serialize;

use super::Ctx;
use crate::config::list_environments;
use crate::error::Result;

#[derive(Serialize)]
struct EnvEntry {
    name: String,
    default: bool,
    path: String,
}

pub fn list(ctx: &Ctx) -> Result<u8> {
    // A broken configuration (a bad -e, a malformed file, a default that
    // names no environment) is an error whose hint lists the environments.
    let default = ctx.config()?.default_environment().map(str::to_owned);
    let entries: Vec<EnvEntry> = list_environments(&ctx.paths)
        .into_iter()
        .map(|(name, path)| EnvEntry {
            default: default.as_deref() == Some(name.as_str()),
            name,
            path: path.display().to_string(),
        })
        .collect();
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
                    e.path
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(0)
}
