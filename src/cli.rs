//! Every command-line type: the clap definitions, as plain data.
//!
//! Nothing here does I/O. [`parse_with`] turns argv into [`Cli`];
//! resolving the values against configuration files and the environment
//! happens in `config/`, and the work in `commands/`. cli sits below
//! `output` and the plugin layer: it names neither (the `--output` flag is
//! [`OutputFlag`], turned into `output::OutputFormat` by `commands`), and
//! [`builtin_names`] is what the plugin layer is handed.

use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

use crate::config::KEYS;

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
    /// A plugin: `lmi NAME ARGS...` runs `lmi-NAME ARGS...`
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Print the environment's service access token (cached or freshly acquired)
    Token,
    /// Show the SSO session and the environment's cached-token state (no network)
    Status,
    /// Delete the environment's cached service token
    Clear {
        /// Delete every environment's cached token
        #[arg(long)]
        all: bool,
    },
    /// Show the decoded header and claims of the service token (never the token)
    #[command(
        long_about = "Show the decoded header and claims of the environment's service \
        token (from the cache, or acquired as `lmi auth token` would), with its expiry and \
        scope from the cache. An opaque token shows as \"format\": \"opaque\".\n\n\
        NOTHING IS VERIFIED: the signature is neither checked nor shown, and the claims are \
        what the token says about itself. Never print the token itself (use auth token for that)."
    )]
    Inspect {
        /// Inspect the SSO session's stored access and ID tokens instead (no refresh)
        #[arg(long)]
        sso: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LoginCommand {
    /// Log in through your company's SSO: in the browser (Authorization Code + PKCE), or with a code on another device (--device)
    Sso(LoginSsoArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct LoginSsoArgs {
    /// Only print the login URL; do not open a browser
    #[arg(long)]
    pub no_browser: bool,
    /// Log in again even when a valid session exists
    #[arg(long)]
    pub force: bool,
    /// Use the device flow: approve a code in a browser on any device (RFC 8628)
    #[arg(long)]
    pub device: bool,
}

#[derive(Debug, Subcommand)]
pub enum LogoutCommand {
    /// Revoke and forget the SSO session
    Sso,
}

#[derive(Debug, Args, Clone)]
#[command(after_help = "Examples:\n  \
    lmi api /issues -f title=Bug -F draft=false -f 'labels[]=ui'   (JSON body, POST)\n  \
    lmi api -X GET /search -f q=bug -F per_page=50                  (query string)\n  \
    lmi api /notes -F body=@notes.md                                (a file's content)\n  \
    lmi api graphql -F query=@q.graphql -f owner=ann -F first=10    (GraphQL)\n  \
    lmi api /export --output-file export.tar                        (download)")]
pub struct ApiArgs {
    /// HTTP method (default GET, or POST with a body or fields)
    #[arg(short = 'X', long = "method", value_name = "METHOD")]
    pub method: Option<String>,
    /// Path joined to API_BASE_URL, a full URL on an allowed origin, or `graphql` for a GraphQL request to API_GRAPHQL_URL
    pub path: String,
    /// Extra request header (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Request body from a file, or - for stdin (JSON unless Content-Type says otherwise)
    #[arg(long = "file", value_name = "PATH")]
    pub file: Option<String>,
    /// Print the status line and response headers before the body
    #[arg(short = 'i', long = "include")]
    pub include: bool,
    #[arg(
        short = 'f',
        long = "raw-field",
        value_name = "KEY=VALUE",
        help = "Add a string field (repeatable): query string for GET/HEAD, else JSON body; KEY[sub]= nests, KEY[]= appends"
    )]
    pub raw_fields: Vec<String>,
    /// Add a typed field (repeatable): true, false, null and numbers as JSON, @PATH a file's content, @- stdin
    #[arg(short = 'F', long = "field", value_name = "KEY=VALUE")]
    pub typed_fields: Vec<String>,
    /// Write the response body to FILE (through a temporary file renamed at the end)
    #[arg(long = "output-file", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output_file: Option<PathBuf>,
    /// Print no response body
    #[arg(long = "silent")]
    pub silent: bool,
    /// Filter the JSON body with a jq program: strings raw, other results compact JSON, one per line (per page with --paginate)
    #[arg(long = "jq", value_name = "EXPR")]
    pub jq: Option<String>,
    /// Fetch every page: Link rel="next", or --next; array pages are merged into one array (GET only)
    #[arg(long = "paginate")]
    pub paginate: bool,
    /// With --paginate: a jq expression on each page's body giving the next URL or cursor (e.g. .links.next)
    #[arg(long = "next", value_name = "EXPR", requires = "paginate")]
    pub next: Option<String>,
    /// With --next: the query parameter that takes a cursor that is not a URL
    #[arg(long = "cursor-param", value_name = "NAME", requires = "next")]
    pub cursor_param: Option<String>,
    /// With --paginate: wrap all pages in one array (--jq then applies to that array)
    #[arg(long = "slurp", requires = "paginate")]
    pub slurp: bool,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// List the environments, marking the default
    List,
    /// Create an environment's file (0600) with the given keys
    Add {
        /// Environment name: letters, digits, '.', '_' and '-'
        name: String,
        /// Keys to write into the new file
        #[arg(value_name = "KEY=VALUE")]
        pairs: Vec<String>,
    },
    /// Delete an environment's file, its cached token and metadata
    Remove {
        /// Environment name
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show the effective configuration, each value with its source
    Show,
    /// Write keys into the active environment's file (or the main .env)
    Set {
        /// Keys and values (quoted in the file as needed)
        #[arg(value_name = "KEY=VALUE", required = true)]
        pairs: Vec<String>,
        /// Write to the main .env, shared by every environment
        #[arg(long)]
        main: bool,
    },
    /// Remove keys from the active environment's file (or the main .env)
    Unset {
        /// Keys to remove
        #[arg(value_name = "KEY", required = true)]
        keys: Vec<String>,
        /// Remove from the main .env
        #[arg(long)]
        main: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List installed and discovered plugins
    List,
    /// Install a plugin from an executable file or a cargo registry crate
    Install(PluginInstallArgs),
    /// Remove a plugin that lmi installed
    Uninstall {
        /// Plugin name (without the lmi- prefix)
        name: String,
    },
}

#[derive(Debug, Args, Clone)]
pub struct PluginInstallArgs {
    /// Path to an executable named `lmi-<name>`
    #[arg(required_unless_present = "krate", conflicts_with = "krate")]
    pub path: Option<PathBuf>,
    /// Install this crate with `cargo install`
    #[arg(long = "crate", value_name = "NAME")]
    pub krate: Option<String>,
    /// Crate version (with --crate)
    #[arg(long, requires = "krate")]
    pub version: Option<String>,
    /// Cargo registry name (with --crate)
    #[arg(long, requires = "krate")]
    pub registry: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// kubectl exec credential plugin: prints an ExecCredential (client.authentication.k8s.io)
    Kubectl {
        /// Give the SSO session's ID token instead of the service token
        #[arg(long)]
        sso: bool,
    },
    /// git credential helper (git-credential(1)): reads key=value lines on stdin
    Git {
        /// What git asks for
        #[arg(value_enum)]
        action: GitAction,
    },
}

/// The operations of a git credential helper (git-credential(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GitAction {
    /// Answer with the user name and token for an allowed origin
    Get,
    /// Do nothing (lmi keeps its own cache)
    Store,
    /// Discard the cached token if git says it was rejected
    Erase,
}

#[derive(Debug, Args, Clone)]
#[command(
    after_help = "The token is in $LMI_ACCESS_TOKEN (or the --env-var name), its expiry in \
                  $LMI_TOKEN_EXPIRES_AT (RFC 3339, empty when unknown); never in CMD's arguments.\n\
                  Example: lmi -e dev exec -- sh -c 'curl -H \"Authorization: Bearer $LMI_ACCESS_TOKEN\" https://api.example.com/'"
)]
pub struct ExecArgs {
    /// Name of the variable that holds the token (default LMI_ACCESS_TOKEN)
    #[arg(long = "env-var", value_name = "NAME", value_parser = parse_env_var_name)]
    pub env_var: Option<String>,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// An environment variable name as POSIX shells accept one:
/// `[A-Za-z_][A-Za-z0-9_]*`.
fn parse_env_var_name(raw: &str) -> Result<String, String> {
    let mut chars = raw.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not a valid environment variable name (letters, digits and _, not starting with a digit)"
        ))
    }
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
