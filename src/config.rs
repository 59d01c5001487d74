//! Configuration: the documented keys, the sources they come from, and
//! resolution into [`Settings`] where every value remembers its source.
//!
//! Precedence, highest first (SPEC §2): command line (`--set`, `--<key>`),
//! OS environment, `env/<name>.env`, the main `.env`, built-in defaults.
//! [`resolve`] takes every source as an input so precedence is testable
//! without touching the process.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::paths::{readable_by_others, Paths};
use crate::secret::Secret;

/// A documented configuration key.
pub struct KeyDef {
    pub name: &'static str,
    pub help: &'static str,
    pub default: Option<&'static str>,
    pub secret: bool,
}

const fn key(name: &'static str, help: &'static str, default: Option<&'static str>) -> KeyDef {
    KeyDef {
        name,
        help,
        default,
        secret: false,
    }
}

/// Every documented key (SPEC §2), in the order `config show` lists them.
pub const KEYS: &[KeyDef] = &[
    key(
        "DEFAULT_ENVIRONMENT",
        "environment when none is chosen",
        None,
    ),
    key(
        "OAUTH_GRANT_TYPE",
        "client_credentials or password",
        Some("client_credentials"),
    ),
    key("OAUTH_CLIENT_ID", "service client id", None),
    KeyDef {
        name: "OAUTH_CLIENT_SECRET",
        help: "service client secret",
        default: None,
        secret: true,
    },
    key(
        "OAUTH_CLIENT_AUTH_METHOD",
        "client_secret_basic or client_secret_post",
        Some("client_secret_basic"),
    ),
    key(
        "OAUTH_SERVICE_URL",
        "issuer of the OAuth service, for discovery",
        None,
    ),
    key(
        "OAUTH_TOKEN_URL",
        "token endpoint; wins over discovery",
        None,
    ),
    key("OAUTH_SCOPES", "space-separated scopes to request", None),
    key("OAUTH_AUDIENCE", "audience parameter", None),
    key("OAUTH_USERNAME", "user for the password grant", None),
    KeyDef {
        name: "OAUTH_PASSWORD",
        help: "password for the password grant",
        default: None,
        secret: true,
    },
    key(
        "API_BASE_URL",
        "base URL of the environment's service",
        None,
    ),
    key(
        "API_ALLOWED_ORIGINS",
        "extra origins that may receive the token",
        None,
    ),
    key(
        "REQUIRE_SSO",
        "hand out tokens only during a valid SSO session",
        Some("false"),
    ),
    key(
        "TOKEN_EXPIRY_SKEW",
        "seconds before expiry at which a token counts as expired",
        Some("60"),
    ),
    key(
        "HTTP_TIMEOUT",
        "seconds for any one HTTP exchange",
        Some("30"),
    ),
    key("OAUTH_SSO_ISSUER", "IdP issuer", None),
    key(
        "OAUTH_SSO_CLIENT_ID",
        "lmi's public client id at the IdP",
        None,
    ),
    key(
        "OAUTH_SSO_AUTHORIZATION_URL",
        "explicit authorization endpoint",
        None,
    ),
    key("OAUTH_SSO_TOKEN_URL", "explicit SSO token endpoint", None),
    key(
        "OAUTH_SSO_SCOPES",
        "scopes for the SSO login",
        Some("openid profile email offline_access"),
    ),
    key(
        "OAUTH_SSO_REDIRECT_PORT",
        "fixed loopback port for the redirect",
        Some("0"),
    ),
    key(
        "OAUTH_SSO_LOGIN_TIMEOUT",
        "seconds to wait for the browser",
        Some("300"),
    ),
    key(
        "OAUTH_SSO_TOKEN_STORE",
        "keychain or file",
        Some("keychain"),
    ),
    key("LOG_FILE", "file log path", None),
    key(
        "LOG_FILE_ENABLED",
        "false turns the file log off",
        Some("true"),
    ),
    key(
        "LOG_LEVEL",
        "file log level (error, warn, info, debug)",
        Some("info"),
    ),
];

pub fn key_def(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.name.eq_ignore_ascii_case(name))
}

/// Whether a key's value is a secret: the documented secrets, and any other
/// key (a plugin's) whose name says it holds one.
pub fn is_secret_key(name: &str) -> bool {
    match key_def(name) {
        Some(def) => def.secret,
        None => {
            let upper = name.to_ascii_uppercase();
            [
                "SECRET",
                "PASSWORD",
                "PASSWD",
                "TOKEN",
                "CREDENTIAL",
                "PRIVATE_KEY",
                "API_KEY",
                "APIKEY",
            ]
            .iter()
            .any(|part| upper.contains(part))
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    CommandLine,
    Environment,
    EnvFile(PathBuf),
    MainFile(PathBuf),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::CommandLine => f.write_str("command line"),
            Source::Environment => f.write_str("environment variable"),
            Source::EnvFile(p) | Source::MainFile(p) => write!(f, "{}", p.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A resolved value and its source.
#[derive(Debug, Clone)]
pub struct Value {
    pub value: String,
    pub source: Source,
}

/// The inputs to [`resolve`].
pub struct Inputs<'a> {
    pub env: &'a Env,
    pub paths: &'a Paths,
    /// `-e/--environment`.
    pub environment_flag: Option<&'a str>,
    /// `--set` and `--<key>` values, keys upper-cased, later ones win.
    pub command_line: &'a [(String, String)],
}

/// The effective configuration for one invocation.
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Option<String>,
    pub env_file: Option<PathBuf>,
    pub values: BTreeMap<String, Value>,
    /// Warnings to show once logging is up (secrets in the wrong place).
    pub warnings: Vec<String>,
}

/// One parsed dotenv file.
struct FileValues {
    path: PathBuf,
    values: Vec<(String, String)>,
}

/// Reads a dotenv file; `Ok(None)` when it does not exist.
fn read_dotenv(path: &Path) -> Result<Option<FileValues>> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::config(format!(
                "cannot read config file {}: {e}",
                path.display()
            )))
        }
        Ok(meta) if !meta.is_file() => {
            return Err(Error::config(format!(
                "config file {} is not a regular file",
                path.display()
            ))
            .with_hint("remove it or replace it with a dotenv file of KEY=value lines"))
        }
        Ok(_) => {}
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(format!("cannot read config file {}: {e}", path.display())))?;
    let text = quote_unquoted_spaces(&text);
    let mut values = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (k, v) = item.map_err(|e| dotenv_error(path, &text, e))?;
        values.push((k.to_ascii_uppercase(), v));
    }
    Ok(Some(FileValues {
        path: path.to_owned(),
        values,
    }))
}

/// Single-quotes unquoted values that contain spaces (`OAUTH_SCOPES=read
/// write`), which python-dotenv (and so lmi's earlier, Python design) reads as
/// one value but dotenvy rejects. Values with quotes, backslashes or `$` are
/// left for dotenvy to judge; a ` #` still starts a comment. Lines map one to
/// one, so error line numbers stay right.
fn quote_unquoted_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        out.push_str(&quote_line(body).unwrap_or_else(|| body.to_owned()));
        out.push_str(newline);
    }
    out
}

fn quote_line(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') {
        return None;
    }
    let (key_part, value) = trimmed.split_once('=')?;
    let key = key_part
        .trim()
        .strip_prefix("export ")
        .map_or(key_part.trim(), str::trim);
    let key_ok = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !key_ok {
        return None;
    }
    // A ` #` (or tab-#) starts a comment after an unquoted value.
    let value = value.trim();
    let value = match value.find(" #").into_iter().chain(value.find("\t#")).min() {
        Some(i) => value[..i].trim_end(),
        None => value,
    };
    let plain = !value.is_empty()
        && value.contains(char::is_whitespace)
        && !value.contains(['\'', '"', '\\', '$', '`']);
    plain.then(|| format!("{key_part}='{value}'"))
}

fn dotenv_error(path: &Path, text: &str, err: dotenvy::Error) -> Error {
    match err {
        dotenvy::Error::LineParse(fragment, _) => {
            // dotenvy reports the fragment it choked on; find its line.
            let first = fragment
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            let number = Some(text)
                .and_then(|text| {
                    text.lines()
                        .position(|l| {
                            !first.is_empty()
                                && l.contains(&first)
                                && !l.trim_start().starts_with('#')
                        })
                        .map(|i| i + 1)
                })
                .map(|n| format!(" line {n}"))
                .unwrap_or_default();
            // The line may hold a secret: name it by number, not by content.
            Error::config(format!("malformed line in config file {}{number}", path.display())).with_hint(
                "each line must be KEY=value (`export ` and # comments are allowed); quote a value that holds quotes, `\\` or `$` (KEY='a \"b\"')",
            )
        }
        dotenvy::Error::Io(e) => {
            Error::config(format!("cannot read config file {}: {e}", path.display()))
        }
        other => Error::config(format!(
            "cannot read config file {}: {other}",
            path.display()
        )),
    }
}

/// The documented key that `name` (not itself documented) is a typo of.
pub fn misspelt_key(name: &str) -> Option<&'static str> {
    if key_def(name).is_some() || name.len() < 8 {
        return None;
    }
    crate::suggest::closest(
        name,
        KEYS.iter().map(|k| k.name),
        crate::suggest::Tolerance::Edits(2),
    )
}

/// Whether `name` is a valid environment name (SPEC §2).
pub fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    name.len() <= 64 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The environments that exist: `env/*.env` with a valid name, sorted.
pub fn list_environments(paths: &Paths) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(paths.env_dir()) {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some(stem) = name.strip_suffix(".env") {
                if valid_env_name(stem) && path.is_file() {
                    out.push((stem.to_owned(), path));
                }
            }
        }
    }
    out.sort();
    out
}

fn environments_hint(paths: &Paths, wanted: Option<&str>) -> String {
    let names: Vec<String> = list_environments(paths)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    if names.is_empty() {
        return format!(
            "no environments exist yet: create {} with KEY=value lines",
            paths.env_file("<name>").display()
        );
    }
    let mut hint = format!("available environments: {}", names.join(", "));
    if let Some(wanted) = wanted {
        let names = names.iter().map(String::as_str);
        if let Some(name) = crate::suggest::closest(wanted, names, crate::suggest::Tolerance::Typo)
        {
            hint.push_str(&format!(" (did you mean {name}?)"));
        }
    }
    hint
}

/// Resolves every source into [`Settings`].
pub fn resolve(inputs: &Inputs<'_>) -> Result<Settings> {
    let paths = inputs.paths;
    let mut warnings = Vec::new();
    let main = read_dotenv(&paths.main_config())?;

    let cli_value = |name: &str| {
        inputs
            .command_line
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let main_value = |name: &str| {
        main.as_ref().and_then(|f| {
            f.values
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    };

    // Which environment: -e, then LMI_ENVIRONMENT (empty = unset), then
    // DEFAULT_ENVIRONMENT from the command line, the OS, or the main file.
    let chosen = match inputs.environment_flag {
        Some(flag) => Some(flag.to_owned()),
        None => inputs
            .env
            .non_empty("LMI_ENVIRONMENT")
            .map(str::to_owned)
            .or_else(|| {
                cli_value("DEFAULT_ENVIRONMENT")
                    .or_else(|| inputs.env.get("DEFAULT_ENVIRONMENT").map(str::to_owned))
                    .or_else(|| main_value("DEFAULT_ENVIRONMENT"))
                    .filter(|v| !v.is_empty())
            }),
    };

    let mut env_file = None;
    let mut env_values = None;
    if let Some(name) = &chosen {
        if !valid_env_name(name) {
            return Err(Error::config(format!(
                "invalid environment name {name:?}: use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters"
            ))
            .with_hint(environments_hint(paths, None)));
        }
        let path = paths.env_file(name);
        match read_dotenv(&path)? {
            Some(values) => {
                env_file = Some(path);
                env_values = Some(values);
            }
            None => {
                return Err(Error::config(format!(
                    "environment {name:?} does not exist (no file {})",
                    path.display()
                ))
                .with_hint(environments_hint(paths, Some(name))))
            }
        }
    }

    // The keys to resolve: documented ones, and any that a file or the
    // command line mentions.
    let mut names: Vec<String> = KEYS.iter().map(|k| k.name.to_owned()).collect();
    let file_keys = main
        .iter()
        .chain(env_values.iter())
        .flat_map(|f| f.values.iter().map(|(k, _)| k));
    for k in file_keys.chain(inputs.command_line.iter().map(|(k, _)| k)) {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }

    let mut values = BTreeMap::new();
    for name in names {
        let from_file = |file: &Option<FileValues>| {
            file.as_ref().and_then(|f| {
                f.values
                    .iter()
                    .rev()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (v.clone(), f.path.clone()))
            })
        };
        let resolved = if let Some(v) = cli_value(&name) {
            Some(Value {
                value: v,
                source: Source::CommandLine,
            })
        } else if let Some(v) = inputs.env.get(&name) {
            Some(Value {
                value: v.to_owned(),
                source: Source::Environment,
            })
        } else if let Some((v, p)) = from_file(&env_values) {
            Some(Value {
                value: v,
                source: Source::EnvFile(p),
            })
        } else if let Some((v, p)) = from_file(&main) {
            Some(Value {
                value: v,
                source: Source::MainFile(p),
            })
        } else {
            key_def(&name).and_then(|k| k.default).map(|d| Value {
                value: d.to_owned(),
                source: Source::Default,
            })
        };
        if let Some(value) = resolved {
            values.insert(name, value);
        }
    }

    // Secrets in places others can read them (SPEC §2), warned about as
    // ssh does for keys: on the command line, in the shared main file, or in
    // a file readable by group or others.
    for key in KEYS.iter().filter(|k| k.secret) {
        if cli_value(key.name).is_some() {
            warnings.push(format!(
                "{} was given on the command line, where other users can see it in the process list; set it in {} or an environment variable instead",
                key.name,
                chosen.as_deref().map(|n| paths.env_file(n).display().to_string()).unwrap_or_else(|| paths.env_file("<name>").display().to_string())
            ));
        }
        for file in main.iter().chain(env_values.iter()) {
            if !file.values.iter().any(|(k, _)| k == key.name) {
                continue;
            }
            let in_env_file = env_values
                .as_ref()
                .is_some_and(|f| f.values.iter().any(|(k, _)| k == key.name));
            if Some(&file.path) == main.as_ref().map(|m| &m.path) {
                if in_env_file {
                    warnings.push(format!(
                        "{} in the main config {} is overridden by the environment's file; remove it from {}",
                        key.name,
                        file.path.display(),
                        file.path.display()
                    ));
                } else {
                    warnings.push(format!(
                        "{} is set in the main config {}; move it to the environment's file {} or an environment variable",
                        key.name,
                        file.path.display(),
                        chosen.as_deref().map(|n| paths.env_file(n).display().to_string()).unwrap_or_else(|| paths.env_file("<name>").display().to_string())
                    ));
                }
            }
            if readable_by_others(&file.path) {
                warnings.push(format!(
                    "{} holds {} and is readable by other users; run: chmod 600 {}",
                    file.path.display(),
                    key.name,
                    file.path.display()
                ));
            }
        }
    }
    // A key that is one or two typos away from a documented one is almost
    // certainly meant as that key (OAUTH_CLEINT_ID).
    for (name, value) in &values {
        if let Some(meant) = misspelt_key(name) {
            warnings.push(format!(
                "{name} ({}) is not a key lmi knows; did you mean {meant}?",
                value.source
            ));
        }
    }
    warnings.dedup();

    Ok(Settings {
        environment: chosen,
        env_file,
        values,
        warnings,
    })
}

impl Settings {
    /// The value of `key` (any case), if set anywhere.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_uppercase())
            .map(|v| v.value.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn source(&self, key: &str) -> Option<&Source> {
        self.values
            .get(&key.to_ascii_uppercase())
            .map(|v| &v.source)
    }

    /// The value of a secret key.
    pub fn secret(&self, key: &str) -> Option<Secret> {
        self.get(key).map(Secret::new)
    }

    /// Where the user should set `key`: the environment's file when one is
    /// active, else the main file.
    pub fn where_to_set(&self, key: &str, paths: &Paths) -> String {
        match &self.environment {
            Some(name) => format!(
                "set {key} in {} or as an environment variable",
                paths.env_file(name).display()
            ),
            None => format!(
                "set {key} in {} or as an environment variable",
                paths.main_config().display()
            ),
        }
    }

    /// A required key, or a configuration error naming it.
    pub fn require(&self, key: &str, paths: &Paths) -> Result<&str> {
        self.get(key).ok_or_else(|| {
            let env = self
                .environment
                .as_deref()
                .map(|e| format!(" for environment {e:?}"))
                .unwrap_or_default();
            let typo = self
                .values
                .iter()
                .find(|(name, _)| misspelt_key(name) == Some(key));
            let hint = match typo {
                Some((name, value)) => format!("{} sets {name}; did you mean {key}?", value.source),
                None => self.where_to_set(key, paths),
            };
            Error::config(format!("{key} is not set{env}")).with_hint(hint)
        })
    }

    pub fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(false),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(other) => Err(Error::config(format!(
                "{key} must be true or false, not {other:?}"
            ))
            .with_hint(format!(
                "set {key}=true or {key}=false (yes/no and 1/0 work too)"
            ))),
        }
    }

    /// A whole number of seconds (or a port), within the key's sane range so
    /// that expiry and timeout arithmetic can never overflow.
    pub fn u64(&self, key: &str) -> Result<u64> {
        let raw = self
            .get(key)
            .or_else(|| key_def(key).and_then(|k| k.default))
            .unwrap_or("0");
        let max = match key.to_ascii_uppercase().as_str() {
            "TOKEN_EXPIRY_SKEW" | "OAUTH_SSO_LOGIN_TIMEOUT" => 86_400,
            "HTTP_TIMEOUT" => 3_600,
            "OAUTH_SSO_REDIRECT_PORT" => 65_535,
            _ => u64::from(u32::MAX),
        };
        let what = if key.eq_ignore_ascii_case("OAUTH_SSO_REDIRECT_PORT") {
            "a port number"
        } else {
            "a whole number of seconds"
        };
        match raw.trim().parse::<u64>() {
            Ok(value) if value <= max => Ok(value),
            _ => Err(
                Error::config(format!("{key} must be {what} from 0 to {max}, not {raw:?}"))
                    .with_hint(format!("fix {key} (lmi config show says where it is set)")),
            ),
        }
    }

    /// The active environment, or a configuration error listing those that exist.
    pub fn require_environment(&self, paths: &Paths) -> Result<&str> {
        self.environment.as_deref().ok_or_else(|| {
            Error::config("no environment selected").with_hint(format!(
                "use -e NAME, set LMI_ENVIRONMENT, or set DEFAULT_ENVIRONMENT in {}; {}",
                paths.main_config().display(),
                environments_hint(paths, None)
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(dir: &Path) -> Paths {
        Paths {
            config_dir: dir.join("cfg"),
            cache_dir: dir.join("cache"),
            data_dir: dir.join("data"),
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn precedence_levels() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        write(
            &p.main_config(),
            "DEFAULT_ENVIRONMENT=dev\nOAUTH_SCOPES=main\nhttp_timeout=5\nX=main\nY=main\nZ=main\n",
        );
        write(
            &p.env_file("dev"),
            "oauth_scopes=envfile\nX=envfile\nY=envfile\n",
        );
        let env = Env::from_pairs([
            ("OAUTH_SCOPES", "osenv"),
            ("X", "osenv"),
            ("UNRELATED", "u"),
        ]);
        let cli = vec![("X".to_string(), "cli".to_string())];
        let s = resolve(&Inputs {
            env: &env,
            paths: &p,
            environment_flag: None,
            command_line: &cli,
        })
        .unwrap();
        assert_eq!(s.environment.as_deref(), Some("dev"));
        assert_eq!(s.get("oauth_scopes"), Some("osenv"));
        assert_eq!(s.get("X"), Some("cli"));
        assert_eq!(s.get("Y"), Some("envfile"));
        assert_eq!(s.get("Z"), Some("main"));
        assert_eq!(s.get("HTTP_TIMEOUT"), Some("5"));
        assert_eq!(s.source("TOKEN_EXPIRY_SKEW"), Some(&Source::Default));
        assert_eq!(s.get("UNRELATED"), None);
    }

    #[test]
    fn unquoted_values_with_spaces() {
        assert_eq!(quote_unquoted_spaces("A=read write\n"), "A='read write'\n");
        assert_eq!(
            quote_unquoted_spaces("export A = x y # note\nB=1"),
            "export A ='x y'\nB=1"
        );
        for kept in [
            "A=\"x y\"\n",
            "A=x\n",
            "# A=x y\n",
            "A=$X y\n",
            "A='x y'\n",
            "not a line\n",
        ] {
            assert_eq!(quote_unquoted_spaces(kept), kept);
        }
    }

    #[test]
    fn secret_looking_keys_are_masked() {
        assert!(is_secret_key("oauth_client_secret") && is_secret_key("OAUTH_PASSWORD"));
        assert!(is_secret_key("BILLING_API_TOKEN") && is_secret_key("deploy_password"));
        assert!(!is_secret_key("OAUTH_TOKEN_URL") && !is_secret_key("TOKEN_EXPIRY_SKEW"));
        assert!(!is_secret_key("BILLING_REGION"));
    }

    #[test]
    fn env_names() {
        assert!(valid_env_name("dev"));
        assert!(valid_env_name("a.b_c-1"));
        assert!(!valid_env_name(""));
        assert!(!valid_env_name("../x"));
        assert!(!valid_env_name("/etc/passwd"));
        assert!(!valid_env_name(".hidden"));
        assert!(!valid_env_name(&"a".repeat(65)));
    }
}
