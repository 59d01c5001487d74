//! `lmi <name> ARGS...`: running an external plugin (SPEC §6), and any
//! child the plugin way (`lmi exec`, SPEC §8).
//!
//! What belongs here: what a plugin gets from lmi (its arguments, the
//! `LMI_*` variables, the command-line configuration as variables), how
//! Ctrl-C is shared with it, how its exit code or signal becomes lmi's
//! result, and the error for a name that is neither a command nor a plugin.
//! The caller hands over everything as an [`Invocation`], plain data, so this
//! layer never sees a command's context.

use std::ffi::OsString;
use std::process::Command;
use std::time::Instant;

use super::describe::DESCRIBING_VAR;
use super::discover::{discover, find, valid_name, PREFIX};
use super::forward::Forwarder;
use crate::config::is_secret_key;
use crate::env::ProcessEnv;
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::suggest::{self, Tolerance};

/// Everything running a plugin needs from the invocation of lmi.
pub struct Invocation<'a> {
    pub paths: &'a Paths,
    pub env: &'a ProcessEnv,
    /// `-o`/`--output`, passed on as `LMI_OUTPUT` (`json` or `text`).
    pub output: &'a str,
    /// `-q` is -1, `-v` 1, `-vv` 2: passed on as `LMI_VERBOSITY`.
    pub verbosity: i8,
    /// `--no-file-log`, passed on as `LOG_FILE_ENABLED=false`.
    pub no_file_log: bool,
    /// `--set KEY=V` and `--<key> V`, in order (later wins).
    pub command_line: &'a [(String, String)],
    /// The value for `LMI_ENVIRONMENT` (empty for none), or the error to
    /// report instead of running the plugin. Only used once the plugin is
    /// found and executable, so an unknown command is reported as such first.
    pub environment: Result<String>,
    /// The built-in command names (and `help`), asked for only when a name
    /// is neither built in nor a plugin: the plugin layer does not build
    /// the command line's tree itself.
    pub builtin_names: fn() -> Vec<String>,
}

/// The error for a command that is neither built in nor a plugin: the hint
/// offers every close built-in command and plugin name (SPEC §3.1).
fn unknown_command(
    paths: &Paths,
    env: &ProcessEnv,
    mut builtins: Vec<String>,
    name: &str,
) -> Error {
    builtins.sort();
    // Already sorted by name, and without names a built-in shadows.
    let plugins: Vec<String> = discover(paths, env, &builtins)
        .into_iter()
        .map(|p| p.name)
        .collect();
    // Built-in commands first among equally close names: they are the ones
    // lmi documents.
    let candidates = builtins.iter().chain(plugins.iter()).map(String::as_str);
    let close = suggest::close_matches(name, candidates, Tolerance::Typo);
    let hint = match suggest::did_you_mean(&close) {
        Some(question) => {
            format!("{question} Run `lmi --help` for the commands and plugins")
        }
        None => format!(
            "run `lmi --help` for the commands and plugins; a plugin is an executable named {PREFIX}{} in {} or on PATH",
            if valid_name(name) { name } else { "<name>" },
            paths.plugins_bin().display()
        ),
    };
    Error::usage(format!("unknown command '{name}'")).with_hint(hint)
}

/// Variables that `--set` must not replace in a plugin's environment: they
/// steer the process itself, not lmi's configuration (`APPDATA`,
/// `LOCALAPPDATA` and `USERPROFILE` are where lmi's folders are on Windows).
pub fn reserved_variable(key: &str) -> bool {
    matches!(
        key,
        "PATH"
            | "HOME"
            | "USER"
            | "LOGNAME"
            | "SHELL"
            | "TMPDIR"
            | "PWD"
            | "IFS"
            | "APPDATA"
            | "LOCALAPPDATA"
            | "USERPROFILE"
    ) || key.starts_with("LMI_")
        || key.starts_with("LD_")
        || key.starts_with("DYLD_")
        || key.starts_with("XDG_")
}

/// The command-line configuration (`--set KEY=V`, `--<key> V`) as variables
/// for the plugin, so that its `$LMI_BIN` calls see it: for a documented key,
/// and for a key that a config file mentions, an environment variable is the
/// next source below the command line (SPEC §2), above every file.
///
/// Never a secret (client secret, password, a key whose name says it holds
/// one): a child's environment is readable by every process it starts and
/// ends up in crash reports and `/proc/<pid>/environ` dumps, and `lmi exec`
/// runs programs that know nothing of lmi. A secret given on lmi's command
/// line is for lmi alone (SPEC §8, docs/plugins.md).
pub fn command_line_exports(command_line: &[(String, String)]) -> Vec<(String, String)> {
    command_line
        .iter()
        .filter(|(key, _)| {
            key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !key.starts_with(|c: char| c.is_ascii_digit())
                && !reserved_variable(key)
        })
        .filter(|(key, _)| {
            let secret = is_secret_key(key);
            if secret {
                tracing::debug!(target: "plugin", "{key} from the command line is a secret: not passed on");
            }
            !secret
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

/// `lmi <name> ARGS...`: runs `lmi-<name>` with the remaining arguments
/// (`args[0]` is the name) and lmi's context in its environment; its exit
/// code becomes lmi's.
pub fn run_external(invocation: Invocation<'_>, args: Vec<OsString>) -> Result<u8> {
    let mut args = args.into_iter();
    let typed = args
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (paths, env) = (invocation.paths, invocation.env);
    let Some(plugin) = find(paths, env, &typed) else {
        return Err(unknown_command(
            paths,
            env,
            (invocation.builtin_names)(),
            &typed,
        ));
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
    let mut cmd = Command::new(&plugin.path);
    cmd.args(args).env_remove(DESCRIBING_VAR);
    let child = Child {
        label: format!("plugin {PREFIX}{typed} ({file})"),
        start_hint: "check that the file is a program for this system, or a script whose #! line names an installed interpreter",
    };
    run_child(invocation, cmd, &child)
}

/// What messages call a child process, and what to check when it cannot
/// start.
pub struct Child<'a> {
    /// `plugin lmi-x (/path)`, `command 'make'`.
    pub label: String,
    pub start_hint: &'a str,
}

/// Runs `cmd` the plugin way (SPEC §6, and §8 for `lmi exec`): with the
/// `LMI_*` context and the command-line configuration in its environment,
/// lmi's stdin, stdout and stderr, Ctrl-C left to the child, and its exit
/// code (or the signal that ended it) as lmi's result.
pub fn run_child(invocation: Invocation<'_>, mut cmd: Command, child: &Child<'_>) -> Result<u8> {
    let Invocation {
        paths,
        env: _,
        output,
        verbosity,
        no_file_log,
        command_line,
        environment,
        builtin_names: _,
    } = invocation;
    let label = &child.label;
    let environment = environment?;
    let lmi_bin = std::env::current_exe().map_err(|e| {
        Error::plugin(format!(
            "cannot tell the path of lmi itself for LMI_BIN: {e}"
        ))
    })?;
    cmd.envs(command_line_exports(command_line))
        .env("LMI_BIN", &lmi_bin)
        .env("LMI_ENVIRONMENT", &environment)
        .env("LMI_OUTPUT", output)
        .env("LMI_VERBOSITY", verbosity.to_string())
        .env("LMI_CONFIG_DIR", &paths.config_dir);
    if no_file_log {
        // `--no-file-log` has no variable of its own; this key is its twin.
        cmd.env("LOG_FILE_ENABLED", "false");
    }
    tracing::debug!(
        target: "plugin",
        "running {label} (environment {:?}, output {output})",
        environment
    );
    let started = Instant::now();
    // Stdin, stdout and stderr are inherited: the child talks to the user
    // directly. It shares lmi's process group, so Ctrl-C reaches it too;
    // lmi itself only notes the signal and waits, so the child decides how
    // to end and its exit code is passed through (handlers reset on exec, so
    // the child keeps the default Ctrl-C behaviour).
    crate::interrupt::set_exits(false);
    let forwarder = Forwarder::catch();
    let mut process = cmd.spawn().map_err(|e| {
        Error::plugin(format!("cannot run {label}: {e}")).with_hint(child.start_hint)
    })?;
    let status = forwarder
        .wait(&mut process)
        .map_err(|e| Error::plugin(format!("cannot wait for {label}: {e}")))?;
    tracing::info!(target: "plugin", "{label} finished with {status} after {:?}", started.elapsed());

    if let Some(code) = status.code() {
        // Exit codes are 0–255 on Unix; anything else is not a plain code.
        return Ok(u8::try_from(code).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use crate::error::Kind;
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
                "{label} was killed by {named}{core}"
            )));
        }
    }
    Err(Error::plugin(format!(
        "{label} ended without an exit code ({status})"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_skip_process_variables_and_secrets() {
        let line = vec![
            ("OAUTH_SCOPES".to_owned(), "read".to_owned()),
            ("MY_PLUGIN_SETTING".to_owned(), "x".to_owned()),
            ("MY_PLUGIN_KEY".to_owned(), "x".to_owned()),
            ("PATH".to_owned(), "/evil".to_owned()),
            ("LD_PRELOAD".to_owned(), "/evil.so".to_owned()),
            ("LMI_BIN".to_owned(), "/evil".to_owned()),
            ("BAD-KEY".to_owned(), "x".to_owned()),
            ("OAUTH_CLIENT_SECRET".to_owned(), "s".to_owned()),
            ("OAUTH_PASSWORD".to_owned(), "p".to_owned()),
            ("MY_PLUGIN_API_KEY".to_owned(), "k".to_owned()),
            (
                "OAUTH_CLIENT_KEY_FILE".to_owned(),
                "/path/key.pem".to_owned(),
            ),
        ];
        let keys: Vec<String> = command_line_exports(&line)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            ["OAUTH_SCOPES", "MY_PLUGIN_SETTING", "OAUTH_CLIENT_KEY_FILE"]
        );
    }

    #[test]
    fn unknown_command_offers_commands_and_plugins_together() {
        let home = tempfile::tempdir().unwrap();
        let env = ProcessEnv::from_pairs([("HOME", home.path().to_str().unwrap())]);
        let paths = Paths::from_env(&env);
        let bin = paths.plugins_bin();
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("lmi-hello"), "#!/bin/sh\n").unwrap();
        let hint = unknown_command(&paths, &env, crate::cli::builtin_names(), "helo")
            .hint()
            .unwrap()
            .to_owned();
        assert!(
            hint.starts_with("did you mean 'help' or 'hello'? Run `lmi --help`"),
            "{hint}"
        );
        let hint = unknown_command(&paths, &env, crate::cli::builtin_names(), "zzzzzz")
            .hint()
            .unwrap()
            .to_owned();
        assert!(hint.contains("an executable named lmi-zzzzzz in"), "{hint}");
    }
}
