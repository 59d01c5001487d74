//! Checks that need no network: the config files, the environment, the log.

use std::path::PathBuf;

use super::Check;
use crate::commands::Ctx;
use crate::config::list_environments;

/// `config`: the files parse and are private.
pub fn config(ctx: &Ctx) -> Check {
    const NAME: &str = "config";
    let config = match ctx.config() {
        Ok(config) => config,
        Err(e) => return Check::from_error(NAME, &e, "fix the file it names"),
    };
    let mut files: Vec<PathBuf> = vec![ctx.paths.main_config()];
    files.extend(list_environments(&ctx.paths).into_iter().map(|(_, p)| p));
    files.retain(|p| p.exists());
    let mut problems: Vec<String> = config.warnings().to_vec();
    // Every file, the folders and, through a symbolic link, the file it
    // reaches: writable by others or owned by another user (SPEC §1).
    let folders = [ctx.paths.config_dir.clone(), ctx.paths.env_dir()];
    let found = files
        .iter()
        .map(|f| crate::paths::config_exposure(f))
        .chain(folders.iter().map(|d| crate::paths::folder_exposure(d)));
    for problem in found.flatten() {
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    let shown = if files.is_empty() {
        format!("no config files yet in {}", ctx.paths.config_dir.display())
    } else {
        format!("{} config file(s) parse", files.len())
    };
    match problems.split_first() {
        None if files.is_empty() => Check::ok(NAME, shown),
        None => Check::ok(NAME, format!("{shown} and are private")),
        Some((first, rest)) => Check::warn(
            NAME,
            format!("{shown}; {}", problems.join("; ")),
            if rest.is_empty() {
                first.clone()
            } else {
                "fix each problem listed".to_owned()
            },
        ),
    }
}

/// `environment`: one is active and has the keys its grant needs.
pub fn environment(ctx: &Ctx) -> Check {
    const NAME: &str = "environment";
    let config = match ctx.config() {
        Ok(config) => config,
        Err(_) => return Check::skipped(NAME, "the configuration does not resolve (see config)"),
    };
    if let Err(e) = config.require_environment() {
        return Check::from_error(NAME, &e, "lmi env add NAME");
    }
    match config.service() {
        Ok(service) => Check::ok(
            NAME,
            format!(
                "{}: {} grant for client {}",
                service.environment,
                service.grant.name(),
                service.client_id
            ),
        ),
        Err(e) => Check::from_error(NAME, &e, "lmi config set KEY=VALUE"),
    }
}

/// `log`: the file log can be appended to (or is off).
pub fn log(ctx: &Ctx) -> Check {
    const NAME: &str = "log";
    let file = match ctx.config() {
        Ok(config) => config.logging().file,
        Err(_) => Some(ctx.paths.default_log_file()),
    };
    let Some(file) = file.filter(|_| !ctx.global.no_file_log) else {
        return Check::ok(NAME, "the file log is off");
    };
    let opened = file
        .parent()
        .map_or(Ok(()), crate::paths::ensure_private_dir)
        .and_then(|()| {
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            options.open(&file)
        });
    match opened {
        Err(e) => Check::warn(
            NAME,
            format!("cannot write the log file {}: {e}", file.display()),
            "set LOG_FILE to a writable path, or LOG_FILE_ENABLED=false",
        ),
        Ok(_) if crate::paths::readable_by_others(&file) => Check::warn(
            NAME,
            format!("{} is readable by other users", file.display()),
            format!("run: chmod 600 {}", file.display()),
        ),
        Ok(_) => Check::ok(NAME, format!("{} is writable", file.display())),
    }
}
