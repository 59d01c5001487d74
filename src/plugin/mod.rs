//! Plugins: executables named `lmi-<name>` (SPEC §6) — finding them, asking
//! them to describe themselves, and running them.
//!
//! What belongs here: discovery (lmi's `plugins/bin/` first, then each `PATH`
//! folder, as a shell would look), the `--lmi-describe` protocol used by
//! `--help`, `--version` and `plugin list`, and `lmi <name> ARGS...` with the
//! context a plugin gets in its environment. Installing and removing plugins
//! is `commands/plugin.rs`.
//!
//! The model is git's and cargo's external subcommands (and gh's extensions):
//! the plugin inherits stdin, stdout and stderr, its exit code becomes lmi's,
//! and it calls `$LMI_BIN api …` for authenticated work, so no plugin ever
//! implements authentication itself.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::commands::Ctx;
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::paths::Paths;

/// File names of plugins start with this.
pub const PREFIX: &str = "lmi-";

/// How long `--lmi-describe` may take. All plugins are asked at once, so
/// this bounds the whole of `lmi --help`, not each plugin.
pub const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The flag a plugin answers with one JSON line about itself.
pub const DESCRIBE_FLAG: &str = "--lmi-describe";

/// Set for plugins run with `--lmi-describe`: an lmi started inside one (a
/// plugin that calls `$LMI_BIN --help`) does not describe plugins again, which
/// would recurse.
const DESCRIBING_VAR: &str = "LMI_DESCRIBING";

/// The most `--lmi-describe` output read; a plugin that writes more is not
/// answering properly.
const DESCRIBE_MAX_BYTES: u64 = 64 * 1024;

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

/// What a plugin says about itself with `--lmi-describe`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Description {
    pub version: Option<String>,
    pub description: Option<String>,
}

/// The built-in command names (and `help`): they always win over plugins,
/// and `plugin install` refuses them.
pub fn builtin_names() -> Vec<String> {
    let mut names: Vec<String> = crate::cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    names.push("help".to_owned());
    names
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

pub fn is_builtin(name: &str) -> bool {
    builtin_names().iter().any(|b| b == name)
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

/// The `PATH` folders, in order. Empty entries (which a shell reads as the
/// current folder) are skipped: running whatever `lmi-x` sits in the current
/// folder is a trap, not a feature.
fn path_dirs(env: &Env) -> Vec<PathBuf> {
    env.get("PATH")
        .map(|p| {
            std::env::split_paths(p)
                .filter(|d| !d.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The plugin `name` resolves to: `plugins/bin/lmi-<name>` first, then the
/// first executable `lmi-<name>` on `PATH`. `None` when there is none.
pub fn find(paths: &Paths, env: &Env, name: &str) -> Option<Found> {
    if !valid_name(name) {
        return None;
    }
    let file = format!("{PREFIX}{name}");
    let installed = paths.plugins_bin().join(&file);
    if let Ok(meta) = std::fs::metadata(&installed) {
        if meta.is_file() {
            return Some(Found {
                name: name.to_owned(),
                executable: is_executable(&meta),
                path: installed,
                origin: Origin::PluginsBin,
            });
        }
    }
    path_dirs(env).into_iter().find_map(|dir| {
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
/// name. Names that a built-in command shadows are left out: they never run.
pub fn discover(paths: &Paths, env: &Env) -> Vec<Found> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut dirs = vec![(paths.plugins_bin(), Origin::PluginsBin)];
    dirs.extend(path_dirs(env).into_iter().map(|d| (d, Origin::Path)));
    let builtins = builtin_names();
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

/// Asks every plugin for `--lmi-describe` at once and waits at most
/// [`DESCRIBE_TIMEOUT`] in all. A plugin that does not finish in time is
/// killed and skipped with a warning; one that answers with anything but a
/// JSON object gets `None` (callers fall back to its file name).
pub fn describe_all(plugins: &[Found], env: &Env) -> Vec<Option<Description>> {
    let mut results: Vec<Option<Description>> = vec![None; plugins.len()];
    if env.non_empty(DESCRIBING_VAR).is_some() {
        return results;
    }
    let (tx, rx) = mpsc::channel::<(usize, Vec<u8>)>();
    let mut children: Vec<Option<Child>> = Vec::with_capacity(plugins.len());
    for (i, plugin) in plugins.iter().enumerate() {
        if !plugin.executable {
            children.push(None);
            continue;
        }
        let mut cmd = Command::new(&plugin.path);
        cmd.arg(DESCRIBE_FLAG)
            .env(DESCRIBING_VAR, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // Its own process group, so a plugin that hangs in a child process
        // (a shell script running `sleep`) is killed as a whole.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        match cmd.spawn() {
            Ok(mut child) => {
                let stdout = child.stdout.take();
                let tx = tx.clone();
                // Reading happens on a thread so that one silent plugin
                // cannot hold up the others; the thread is never joined (a
                // pipe kept open by an orphan must not hang lmi).
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    if let Some(stdout) = stdout {
                        let _ = stdout.take(DESCRIBE_MAX_BYTES).read_to_end(&mut buf);
                    }
                    let _ = tx.send((i, buf));
                });
                children.push(Some(child));
            }
            Err(e) => {
                tracing::debug!(target: "plugin", "cannot run {} {DESCRIBE_FLAG}: {e}", plugin.path.display());
                children.push(None);
            }
        }
    }
    drop(tx);

    let mut outputs: Vec<Option<Vec<u8>>> = vec![None; plugins.len()];
    let mut pending = children.iter().filter(|c| c.is_some()).count();
    let deadline = Instant::now() + DESCRIBE_TIMEOUT;
    while pending > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, buf)) => {
                outputs[i] = Some(buf);
                pending -= 1;
            }
            Err(_) => break,
        }
    }

    for (i, child) in children.iter_mut().enumerate() {
        let Some(child) = child else { continue };
        let plugin = &plugins[i];
        let finished = matches!(child.try_wait(), Ok(Some(_)));
        if !finished {
            if outputs[i].is_none() {
                tracing::warn!(
                    target: "plugin",
                    "plugin {PREFIX}{} ({}) did not answer {DESCRIBE_FLAG} within {} s; skipped its description",
                    plugin.name,
                    plugin.path.display(),
                    DESCRIBE_TIMEOUT.as_secs()
                );
            }
            kill(child);
        }
        let _ = child.wait();
        results[i] = outputs[i].as_deref().and_then(parse_description);
        if outputs[i].is_some() && results[i].is_none() {
            tracing::debug!(target: "plugin", "{} did not answer {DESCRIBE_FLAG} with a JSON object", plugin.path.display());
        }
    }
    results
}

/// Kills a describe child and, on Unix, its process group.
fn kill(child: &mut Child) {
    #[cfg(unix)]
    {
        // No signal API without `unsafe` in std; kill(1) reaches the group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
}

/// The first non-empty line, as `{"name","version","description"}`.
fn parse_description(out: &[u8]) -> Option<Description> {
    let text = std::str::from_utf8(out).ok()?;
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    let object = value.as_object()?;
    let field = |key: &str| {
        object
            .get(key)
            .and_then(|v| v.as_str())
            .map(one_line)
            .filter(|s| !s.is_empty())
    };
    Some(Description {
        version: field("version"),
        description: field("description"),
    })
}

/// A plugin's text made safe for a terminal line: no control characters
/// (escape sequences), at most 120 characters.
fn one_line(text: &str) -> String {
    let clean: String = text
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let clean = clean.trim();
    if clean.chars().count() > 120 {
        let cut: String = clean.chars().take(117).collect();
        format!("{cut}...")
    } else {
        clean.to_owned()
    }
}

/// Sets up stderr logging for the help path, which runs before `lmi::run`
/// initialises it, so that describe warnings are seen.
fn ensure_logging() {
    if !tracing::dispatcher::has_been_set() {
        crate::logging::init(&crate::logging::LogSetup {
            verbosity: 0,
            file: None,
            file_level: tracing::level_filters::LevelFilter::OFF,
        });
    }
}

/// Text appended to `lmi --help`: a "Plugins:" list with one-line
/// descriptions; empty when there are none.
pub fn help_section(paths: &Paths, env: &Env) -> String {
    let plugins: Vec<Found> = discover(paths, env)
        .into_iter()
        .filter(|p| p.executable)
        .collect();
    if plugins.is_empty() {
        return String::new();
    }
    ensure_logging();
    let descriptions = describe_all(&plugins, env);
    let width = plugins.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut text = String::from("Plugins:\n");
    for (plugin, described) in plugins.iter().zip(descriptions) {
        let about = described
            .and_then(|d| d.description)
            .unwrap_or_else(|| format!("runs {}", plugin.path.display()));
        text.push_str(&format!("  {:width$}  {about}\n", plugin.name));
    }
    text.push_str("\nRun `lmi plugin list` for versions and where each plugin comes from.");
    text
}

/// Lines for `lmi --version`, one per plugin (`lmi-hello 0.1.0`).
pub fn version_lines(paths: &Paths, env: &Env) -> Vec<String> {
    let plugins: Vec<Found> = discover(paths, env)
        .into_iter()
        .filter(|p| p.executable)
        .collect();
    let descriptions = describe_all(&plugins, env);
    plugins
        .iter()
        .zip(descriptions)
        .map(|(plugin, described)| {
            let version = described
                .and_then(|d| d.version)
                .unwrap_or_else(|| "(unknown version)".to_owned());
            format!("{PREFIX}{} {version}", plugin.name)
        })
        .collect()
}

/// The closest of `candidates` to `typed`, if one is close enough to be a
/// plausible typo.
pub fn did_you_mean<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let typed = typed.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&c.to_lowercase(), &typed), c))
        .filter(|(distance, c)| *distance <= (c.chars().count() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// The error for a command that is neither built in nor a plugin.
fn unknown_command(ctx: &Ctx, name: &str) -> Error {
    let builtins = builtin_names();
    let plugins: Vec<String> = discover(&ctx.paths, &ctx.env)
        .into_iter()
        .map(|p| p.name)
        .collect();
    let candidates = builtins.iter().chain(plugins.iter()).map(String::as_str);
    let hint = match did_you_mean(name, candidates) {
        Some(close) => format!("did you mean '{close}'? Run `lmi --help` for the commands and plugins"),
        None => format!(
            "run `lmi --help` for the commands and plugins; a plugin is an executable named {PREFIX}{} in {} or on PATH",
            if valid_name(name) { name } else { "<name>" },
            ctx.paths.plugins_bin().display()
        ),
    };
    Error::usage(format!("unknown command '{name}'")).with_hint(hint)
}

/// The resolved environment for `LMI_ENVIRONMENT`. An explicit `-e` that does
/// not resolve is the user's error to see now; otherwise an unresolvable
/// configuration passes `LMI_ENVIRONMENT` on as the user set it, so the
/// plugin's own lmi calls report the same problem instead of quietly falling
/// back to another environment.
fn environment_for_plugin(ctx: &Ctx) -> Result<String> {
    match ctx.settings() {
        Ok(settings) => Ok(settings.environment.clone().unwrap_or_default()),
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

/// Variables that `--set` must not replace in a plugin's environment: they
/// steer the process itself, not lmi's configuration.
fn reserved_variable(key: &str) -> bool {
    matches!(
        key,
        "PATH" | "HOME" | "USER" | "LOGNAME" | "SHELL" | "TMPDIR" | "PWD" | "IFS"
    ) || key.starts_with("LMI_")
        || key.starts_with("LD_")
        || key.starts_with("DYLD_")
        || key.starts_with("XDG_")
}

/// The command-line configuration (`--set KEY=V`, `--<key> V`) as variables
/// for the plugin, so that its `$LMI_BIN` calls see it: for a documented key,
/// and for a key that a config file mentions, an environment variable is the
/// next source below the command line (SPEC §2), above every file.
pub fn command_line_exports(command_line: &[(String, String)]) -> Vec<(String, String)> {
    command_line
        .iter()
        .filter(|(key, _)| {
            key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !key.starts_with(|c: char| c.is_ascii_digit())
                && !reserved_variable(key)
        })
        .cloned()
        .collect()
}

/// The name of a signal, for the message about a plugin it killed.
#[cfg(unix)]
fn signal_name(signal: i32) -> Option<&'static str> {
    // 1–15 except 7, 10 and 12 have the same numbers on Linux and macOS.
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        #[cfg(target_os = "linux")]
        7 => "SIGBUS",
        #[cfg(target_os = "linux")]
        10 => "SIGUSR1",
        #[cfg(target_os = "linux")]
        12 => "SIGUSR2",
        #[cfg(not(target_os = "linux"))]
        10 => "SIGBUS",
        #[cfg(not(target_os = "linux"))]
        30 => "SIGUSR1",
        #[cfg(not(target_os = "linux"))]
        31 => "SIGUSR2",
        _ => return None,
    })
}

/// `lmi <name> ARGS...`: runs `lmi-<name>` with the remaining arguments and
/// lmi's context in its environment; its exit code becomes lmi's.
pub fn run_external(ctx: &Ctx, args: Vec<OsString>) -> Result<u8> {
    let mut args = args.into_iter();
    let typed = args
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(plugin) = find(&ctx.paths, &ctx.env, &typed) else {
        return Err(unknown_command(ctx, &typed));
    };
    let file = plugin.path.display().to_string();
    if !plugin.executable {
        return Err(Error::plugin(format!(
            "plugin {PREFIX}{typed} at {file} is not executable"
        ))
        .with_hint(format!(
            "make it executable (chmod +x {file}) or remove it with `lmi plugin uninstall {typed}`"
        )));
    }

    let environment = environment_for_plugin(ctx)?;
    let lmi_bin = std::env::current_exe().map_err(|e| {
        Error::plugin(format!(
            "cannot tell the path of lmi itself for LMI_BIN: {e}"
        ))
    })?;
    let output = if ctx.out.is_json() { "json" } else { "text" };

    let mut cmd = Command::new(&plugin.path);
    cmd.args(args)
        .envs(command_line_exports(&ctx.command_line))
        .env("LMI_BIN", &lmi_bin)
        .env("LMI_ENVIRONMENT", &environment)
        .env("LMI_OUTPUT", output)
        .env("LMI_VERBOSITY", ctx.global.verbosity().to_string())
        .env("LMI_CONFIG_DIR", &ctx.paths.config_dir)
        .env_remove(DESCRIBING_VAR);
    if ctx.global.no_file_log {
        // `--no-file-log` has no variable of its own; this key is its twin.
        cmd.env("LOG_FILE_ENABLED", "false");
    }
    tracing::debug!(
        target: "plugin",
        "running {file} (environment {:?}, output {output})",
        environment
    );
    let started = Instant::now();
    // Stdin, stdout and stderr are inherited: the plugin talks to the user
    // directly. It shares lmi's process group, so Ctrl-C reaches it too;
    // lmi itself only notes the signal and waits, so the plugin decides how
    // to end and its exit code is passed through (handlers reset on exec, so
    // the plugin keeps the default Ctrl-C behaviour).
    crate::interrupt::set_exits(false);
    let status = cmd.status().map_err(|e| {
        Error::plugin(format!("cannot run plugin {PREFIX}{typed} ({file}): {e}")).with_hint(
            "check that the file is a program for this system, or a script whose #! line names an installed interpreter",
        )
    })?;
    tracing::info!(target: "plugin", "{PREFIX}{typed} finished with {status} after {:?}", started.elapsed());

    if let Some(code) = status.code() {
        // Exit codes are 0–255 on Unix; anything else is not a plain code.
        return Ok(u8::try_from(code).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            if signal == 2 {
                // Ctrl-C: the user interrupted; nothing to explain.
                return Err(Error::silent(Kind::Interrupted));
            }
            if signal == 13 {
                // SIGPIPE: the reader went away (`lmi x | head`); as quiet
                // as lmi's own closed stdout.
                return Err(Error::silent(Kind::Plugin));
            }
            let named = signal_name(signal)
                .map(|n| format!("{n} ({signal})"))
                .unwrap_or_else(|| format!("signal {signal}"));
            let core = if status.core_dumped() {
                ", core dumped"
            } else {
                ""
            };
            return Err(Error::plugin(format!(
                "plugin {PREFIX}{typed} ({file}) was killed by {named}{core}"
            )));
        }
    }
    Err(Error::plugin(format!(
        "plugin {PREFIX}{typed} ({file}) ended without an exit code ({status})"
    )))
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
        assert!(is_builtin("api") && is_builtin("help") && is_builtin("plugin"));
        assert!(!is_builtin("hello"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("confg", ["auth", "config"]), Some("config"));
        assert_eq!(did_you_mean("helo", ["hello"]), Some("hello"));
        assert_eq!(did_you_mean("zzzzzz", ["auth", "config"]), None);
    }

    #[test]
    fn descriptions() {
        let d = parse_description(b"\n{\"name\":\"x\",\"version\":\"1.2\",\"description\":\"Does \\u001b[31mthings\\nmore\"}\n")
            .unwrap();
        assert_eq!(d.version.as_deref(), Some("1.2"));
        assert_eq!(d.description.as_deref(), Some("Does [31mthings"));
        assert!(parse_description(b"usage: x [options]").is_none());
        assert!(parse_description(b"[1,2]").is_none());
    }

    #[test]
    fn exports_skip_process_variables() {
        let line = vec![
            ("OAUTH_SCOPES".to_owned(), "read".to_owned()),
            ("MY_PLUGIN_KEY".to_owned(), "x".to_owned()),
            ("PATH".to_owned(), "/evil".to_owned()),
            ("LD_PRELOAD".to_owned(), "/evil.so".to_owned()),
            ("LMI_BIN".to_owned(), "/evil".to_owned()),
            ("BAD-KEY".to_owned(), "x".to_owned()),
        ];
        let keys: Vec<String> = command_line_exports(&line)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["OAUTH_SCOPES", "MY_PLUGIN_KEY"]);
    }
}
