//! Shell completion (SPEC §3, §3.1): `lmi completions SHELL` prints a small
//! script that asks lmi itself for candidates at each Tab (clap_complete's
//! dynamic completion: the script runs `LMI_COMPLETE=SHELL lmi -- WORDS...`).
//!
//! Asking lmi at Tab time is what lets the candidates be live: environment
//! names after `-e`/`--environment` (and for `env remove`) from the config
//! folder, plugin names where a command goes, the allowed values of
//! `-o`, of the shell argument and of every choice or boolean key flag, and
//! documented key names for `--set`, `config set` and `config unset`.
//! Completion reads folders only: it never resolves configuration, touches
//! the network or runs a plugin.

use std::ffi::OsString;

use clap_complete::engine::{ArgValueCandidates, CompletionCandidate, SubcommandCandidates};
use clap_complete::env::{EnvCompleter, Shells};

use crate::config::{list_environments, KeyKind, KEYS};
use crate::env::ProcessEnv;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::output::OutputFormat;
use crate::paths::Paths;

/// The variable the completion script sets when it asks for candidates
/// (clap's default, `COMPLETE`, is too common a name to claim).
pub const VAR: &str = "LMI_COMPLETE";

/// The shells lmi completes for.
const SHELLS: Shells<'static> = Shells::builtins();

fn shell(name: &str) -> Result<&'static dyn EnvCompleter> {
    SHELLS
        .completer(name)
        .ok_or_else(|| Error::usage(format!("no completion support for the shell {name:?}")))
}

/// The clap command with live candidates attached.
pub fn command(paths: &Paths, env: &ProcessEnv) -> clap::Command {
    let environments = {
        let paths = paths.clone();
        move || {
            list_environments(&paths)
                .into_iter()
                .map(|(name, _)| CompletionCandidate::new(name))
                .collect::<Vec<_>>()
        }
    };
    let plugins = {
        let (paths, env) = (paths.clone(), env.clone());
        move || {
            crate::plugin::discover(&paths, &env, &crate::cli::builtin_names())
                .into_iter()
                .map(|p| CompletionCandidate::new(p.name).help(Some("plugin".into())))
                .collect::<Vec<_>>()
        }
    };
    let keys = |suffix: &'static str| {
        move || {
            KEYS.iter()
                .map(|k| {
                    CompletionCandidate::new(format!("{}{suffix}", k.name))
                        .help(Some(k.help.into()))
                })
                .collect::<Vec<_>>()
        }
    };
    let mut cmd = crate::cli::command()
        .add(SubcommandCandidates::new(plugins))
        .mut_arg("environment", |a| {
            a.add(ArgValueCandidates::new(environments.clone()))
        })
        .mut_arg("set", |a| a.add(ArgValueCandidates::new(keys("="))));
    for key in KEYS {
        let values: Vec<&'static str> = match key.kind {
            KeyKind::Choice(values) => values.to_vec(),
            KeyKind::Bool => vec!["true", "false"],
            _ => continue,
        };
        cmd = cmd.mut_arg(format!("key:{}", key.name), move |a| {
            a.add(ArgValueCandidates::new(move || {
                values
                    .iter()
                    .map(|v| CompletionCandidate::new(*v))
                    .collect::<Vec<_>>()
            }))
        });
    }
    cmd.mut_subcommand("config", |c| {
        c.mut_subcommand("set", |s| {
            s.mut_arg("pairs", |a| a.add(ArgValueCandidates::new(keys("="))))
        })
        .mut_subcommand("unset", |s| {
            s.mut_arg("keys", |a| a.add(ArgValueCandidates::new(keys(""))))
        })
    })
    .mut_subcommand("env", |c| {
        c.mut_subcommand("remove", |s| {
            s.mut_arg("name", |a| {
                a.add(ArgValueCandidates::new(environments.clone()))
            })
        })
    })
}

/// When the completion script is asking (`LMI_COMPLETE=SHELL lmi -- WORDS...`),
/// prints the candidates and returns `true`. A value that names no shell
/// is not a request: lmi runs as usual.
pub fn answer_if_asked(args: &[OsString], paths: &Paths, env: &ProcessEnv) -> Result<bool> {
    let Some(shell) = env.non_empty(VAR).and_then(|name| shell(name).ok()) else {
        return Ok(false);
    };
    // argv is `lmi -- lmi WORDS...`: the words start after the `--`.
    let words: Vec<OsString> = match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].to_vec(),
        None => Vec::new(),
    };
    let mut cmd = command(paths, env);
    cmd.build();
    let mut buf = Vec::new();
    let current_dir = std::env::current_dir().ok();
    let result = if words.is_empty() {
        shell.write_registration(VAR, "lmi", "lmi", &completer(), &mut buf)
    } else {
        shell.write_complete(&mut cmd, words, current_dir.as_deref(), &mut buf)
    };
    result.map_err(|e| Error::internal(format!("cannot complete: {e}")))?;
    Output::stdout(OutputFormat::Text).raw(&buf)?;
    Ok(true)
}

/// The program the script calls: this very binary, by its full path, so
/// completion works whether or not `lmi` is on PATH.
fn completer() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "lmi".to_owned())
}

/// `lmi completions SHELL`: the script to source.
pub fn script(shell_name: &str) -> Result<u8> {
    let shell = shell(shell_name)?;
    let mut buf = Vec::new();
    shell
        .write_registration(VAR, "lmi", "lmi", &completer(), &mut buf)
        .map_err(|e| Error::internal(format!("cannot write the completion script: {e}")))?;
    Output::stdout(OutputFormat::Text).raw(&buf)?;
    Ok(0)
}
