//! Every command-line type: the clap definitions, as plain data.
//!
//! Nothing here does I/O. [`parse_with`] turns argv into [`Cli`];
//! resolving the values against configuration files and the environment
//! happens in `config/`, and the work in `commands/`. cli sits below
//! `output` and the plugin layer: it names neither (the `--output` flag is
//! [`OutputFlag`], turned into `output::OutputFormat` by `commands`), and
//! [`builtin_names`] is what the plugin layer is handed.
//!
//! Here: the top level (global flags, the command list, the per-key
//! flags, parsing); `api`: `lmi api`'s arguments; `subcommands`: every
//! other command group's.

use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

use crate::config::KEYS;

mod api;
mod subcommands;

pub use api::ApiArgs;
pub use subcommands::{
    AgentCommand, AgentRunArgs, AuthCommand, ConfigCommand, CredentialCommand, EnvCommand,
    ExecArgs, GitAction, LoginCommand, LoginSsoArgs, LogoutCommand, PluginCommand,
    PluginInstallArgs,
};

/// The `-o`/`--output` flag's values; `output::OutputFormat` is what the
/// commands write with (cli sits below output and cannot name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFlag {
    /// JSON, for scripts (the default)
    #[default]
    Json,
    /// Plain text, for people
    Text,
}

#[derive(Debug, Parser)]
#[command(
    name = "lmi",
    about = "Reach your company's platform services, authenticated",
    long_about = "Reach your company's platform services, authenticated.\n\n\
        lmi resolves configuration per environment, acquires and caches service tokens, \
        keeps your SSO session in the OS keychain, and makes authenticated calls for you \
        and for plugins.",
    disable_version_flag = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Print version information (lmi and its plugins)
    #[arg(short = 'V', long = "version", action = ArgAction::SetTrue, global = false)]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Values of `--<key>` flags, filled in by [`parse`].
    #[arg(skip)]
    pub key_flags: Vec<(String, String)>,
}

/// Options accepted before or after any built-in command.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Environment to use (overrides LMI_ENVIRONMENT and DEFAULT_ENVIRONMENT)
    #[arg(short = 'e', long = "environment", global = true, value_name = "NAME")]
    pub environment: Option<String>,

    /// More output on stderr: -v for INFO, -vv for DEBUG
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,

    /// Result format on stdout
    #[arg(
        short = 'o',
        long = "output",
        value_enum,
        global = true,
        value_name = "FORMAT"
    )]
    pub output: Option<OutputFlag>,

    /// Set any configuration key (repeatable), e.g. --set OAUTH_SCOPES=read
    #[arg(long = "set", value_name = "KEY=VALUE", global = true, value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,

    /// Do not write the log file
    #[arg(long = "no-file-log", global = true)]
    pub no_file_log: bool,
}

impl GlobalArgs {
    /// -1 for `-q`, 0 by default, 1 for `-v`, 2 for `-vv` (SPEC §6 `LMI_VERBOSITY`).
    pub fn verbosity(&self) -> i8 {
        if self.quiet {
            -1
        } else {
            self.verbose.min(2) as i8
        }
    }
}

fn parse_key_value(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_ascii_uppercase(), value.to_owned()))
        }
        _ => Err(format!("expected KEY=VALUE, got {raw:?}")),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Service tokens for the environment, and the SSO session state
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Log in interactively
    #[command(subcommand)]
    Login(LoginCommand),
    /// Log out
    #[command(subcommand)]
    Logout(LogoutCommand),
    /// Make an authenticated request to the environment's service
    Api(ApiArgs),
    /// Environments
    #[command(subcommand)]
    Env(EnvCommand),
    /// Configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check configuration, files, endpoints, token, keychain and clock, and say what to fix
    Doctor,
    /// Print a shell completion script (environments, plugins, values)
    #[command(
        long_about = "Print a shell completion script. It asks lmi for candidates at \
        each Tab, so environment names, plugin names and allowed values stay current.\n\n\
        bash: source <(lmi completions bash)   (in ~/.bashrc)\n\
        zsh:  source <(lmi completions zsh)    (in ~/.zshrc)\n\
        fish: lmi completions fish | source    (in ~/.config/fish/config.fish)"
    )]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Manage plugins
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Print lmi's man page (roff): lmi man > lmi.1, or --dir for every page
    Man {
        /// Write lmi.1 and a page per subcommand (lmi-auth.1, ...) into this folder
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Hand the environment's token to kubectl or git (credential helpers)
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Run a command with the environment's token in its environment
    Exec(ExecArgs),
    /// The session agent: one login serves every shell and every machine reached over SSH
    #[command(subcommand)]
    Agent(AgentCommand),
    /// A plugin: `lmi NAME ARGS...` runs `lmi-NAME ARGS...`
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

/// The long flag of a configuration key, in its dashed spelling.
fn dashed(key: &str) -> String {
    key.to_ascii_lowercase().replace('_', "-")
}

/// The clap command, with one global long flag for each documented key
/// (`--oauth-service-url` and `--oauth_service_url`). They are hidden from
/// every command's help and listed once, by [`keys_help`], in `lmi --help`.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for names in key_flag_names() {
        // Hidden, so no help text: `lmi --help` lists the keys once
        // ([`keys_help`]). Global args are copied into subcommands while
        // clap builds them, so each copy is kept cheap: `'static` names.
        cmd = cmd.arg(
            clap::Arg::new(names.id)
                .long(names.dashed)
                .alias(names.underscored)
                .value_name("VALUE")
                .hide(true)
                .global(true)
                .action(ArgAction::Set),
        );
    }
    cmd
}

/// The clap id and both spellings of a key's long flag.
struct KeyFlag {
    key: &'static str,
    id: &'static str,
    dashed: &'static str,
    underscored: &'static str,
}

/// The flags of the documented keys, made once per process. The names are
/// leaked on purpose: they live as long as the process, and `'static`
/// strings make clap's copies of global args allocation-free.
fn key_flag_names() -> &'static [KeyFlag] {
    static FLAGS: std::sync::OnceLock<Vec<KeyFlag>> = std::sync::OnceLock::new();
    FLAGS.get_or_init(|| {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        KEYS.iter()
            .map(|key| KeyFlag {
                key: key.name,
                id: leak(format!("key:{}", key.name)),
                dashed: leak(dashed(key.name)),
                underscored: leak(key.name.to_ascii_lowercase()),
            })
            .collect()
    })
}

/// The "Configuration keys" section of `lmi --help`.
/// The built-in command names (and `help`): they always win over plugins,
/// and `plugin install` refuses them. Handed to the plugin layer by its
/// callers.
pub fn builtin_names() -> Vec<String> {
    let mut names: Vec<String> = command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    names.push("help".to_owned());
    names
}

/// Whether `name` is a built-in command (or `help`).
pub fn is_builtin(name: &str) -> bool {
    builtin_names().iter().any(|b| b == name)
}

pub fn keys_help() -> String {
    let mut text = String::from(
        "Configuration keys (set in ~/.config/lmi/.env, env/<name>.env, the environment,\n\
         or on the command line as --set KEY=VALUE or --key-name VALUE / --key_name VALUE):\n",
    );
    for key in KEYS {
        text.push_str(&format!("  --{:<30} {}\n", dashed(key.name), key.help));
    }
    text
}

/// Parses argv into [`Cli`].
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli, clap::Error> {
    parse_with(command(), args)
}

/// Parses argv with a prepared command (help text may carry plugin lines).
pub fn parse_with(
    cmd: clap::Command,
    args: impl IntoIterator<Item = OsString>,
) -> Result<Cli, clap::Error> {
    let matches = cmd.try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    // Global args are propagated down: look in the deepest subcommand too.
    for flag in key_flag_names() {
        let mut value = None;
        let mut m = Some(&matches);
        while let Some(current) = m {
            if let Ok(Some(v)) = current.try_get_one::<String>(flag.id) {
                value = Some(v.clone());
            }
            m = current.subcommand().map(|(_, sub)| sub);
        }
        if let Some(v) = value {
            cli.key_flags.push((flag.key.to_owned(), v));
        }
    }
    Ok(cli)
}
