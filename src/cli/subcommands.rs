//! The arguments of the command groups other than `lmi api`: `auth`,
//! `login`, `logout`, `env`, `config`, `plugin`, `credential`, `exec` and
//! `agent`.

use clap::{Args, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

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
    /// Print a DPoP proof for the environment's token and one request (OAUTH_DPOP)
    #[command(
        long_about = "Print a DPoP proof (RFC 9449) for the environment's token and one \
        request, for scripts that call the service themselves:\n\n  \
        curl -H \"Authorization: DPoP $(lmi auth token -o text)\" \
        -H \"DPoP: $(lmi auth proof -o text \"$URL\")\" \"$URL\"\n\n\
        URL follows the origin rule of `lmi api`. A proof is good for one request, soon."
    )]
    Proof {
        /// HTTP method of the request the proof is for
        #[arg(
            short = 'X',
            long = "method",
            value_name = "METHOD",
            default_value = "GET"
        )]
        method: String,
        /// Path joined to API_BASE_URL, or a full URL on an allowed origin
        url: String,
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

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Start the agent in the background and print its socket (as ssh-agent -s does with -o text)
    Start(AgentRunArgs),
    /// Run the agent in the foreground (for a systemd user unit or launchd)
    Run(AgentRunArgs),
    /// End the running agent
    Stop,
    /// Show whether an agent answers, its sessions and its shared environments
    Status,
}

#[derive(Debug, Args, Clone, Default)]
pub struct AgentRunArgs {
    /// End the agent after this many seconds
    #[arg(long, value_name = "SECONDS")]
    pub lifetime: Option<u64>,
}
