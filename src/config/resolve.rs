//! Resolution: every source of a value (SPEC §2 precedence, highest first:
//! command line, OS environment, `env/<name>.env`, the main `.env`, built-in
//! defaults) merged into [`Settings`], where each value remembers its source,
//! plus the warnings about where secrets sit. [`resolve`] does no I/O of its
//! own: files come through the `read_file` function it is given, so
//! precedence tests are pure.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use super::dotenv::FileValues;
use super::environments::{environments_hint, no_environment, EnvName};
use super::keys::{key_def, misspelt_key, parse_bool, KeyKind, KEYS};
use crate::env::ProcessEnv;
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::secret::Secret;

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
#[derive(Clone)]
pub struct Value {
    pub value: String,
    pub source: Source,
}

/// Values may be secrets: debug output shows where a value came from, never
/// the value.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field(
                "value",
                &format_args!("[{} chars]", self.value.chars().count()),
            )
            .field("source", &self.source)
            .finish()
    }
}

/// The inputs to [`resolve`].
pub struct Inputs<'a> {
    pub env: &'a ProcessEnv,
    pub paths: &'a Paths,
    /// `-e/--environment`.
    pub environment_flag: Option<&'a str>,
    /// `--set` and `--<key>` values, keys upper-cased, later ones win.
    pub command_line: &'a [(String, String)],
}

/// The raw configuration of one invocation: every key's value and source.
/// Outside `config`, code reads the typed parts of [`super::Config`]; the
/// raw map is only listed (`config show`, plugins' `--set` exports).
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Option<EnvName>,
    pub env_file: Option<PathBuf>,
    pub values: BTreeMap<String, Value>,
    /// Warnings to show once logging is up (secrets in the wrong place).
    pub warnings: Vec<String>,
}

/// Resolves every source into [`Settings`]. `read_file` reads a dotenv file
/// (`Ok(None)` when it does not exist).
pub fn resolve(
    inputs: &Inputs<'_>,
    read_file: &dyn Fn(&Path) -> Result<Option<FileValues>>,
) -> Result<Settings> {
    let paths = inputs.paths;
    // A setting whose value is not UTF-8 would otherwise be dropped, and
    // lmi would go on with the default (the wrong environment, say).
    if let Some(name) = inputs
        .env
        .not_unicode()
        .iter()
        .find(|n| n.as_str() == "LMI_ENVIRONMENT" || crate::config::keys::key_def(n).is_some())
    {
        return Err(Error::config(format!(
            "the environment variable {name} is not valid UTF-8"
        ))
        .with_hint(format!("set {name} to a plain text value, or unset it")));
    }
    let mut warnings = Vec::new();
    let main = read_file(&paths.main_config())?;
    warnings.extend(main.as_ref().and_then(FileValues::write_warning));

    // Later entries win: a map built in order keeps the last one.
    let cli: HashMap<&str, &str> = inputs
        .command_line
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();

    // Which environment: -e, then LMI_ENVIRONMENT (empty = unset), then
    // DEFAULT_ENVIRONMENT from the command line, the OS, or the main file.
    let chosen = match inputs.environment_flag {
        Some(flag) => Some(flag.to_owned()),
        None => inputs
            .env
            .non_empty("LMI_ENVIRONMENT")
            .map(str::to_owned)
            .or_else(|| {
                cli.get("DEFAULT_ENVIRONMENT")
                    .map(|v| (*v).to_owned())
                    .or_else(|| inputs.env.get("DEFAULT_ENVIRONMENT").map(str::to_owned))
                    .or_else(|| {
                        main.as_ref()
                            .and_then(|m| m.get("DEFAULT_ENVIRONMENT"))
                            .map(str::to_owned)
                    })
                    .filter(|v| !v.is_empty())
            }),
    };

    let mut environment = None;
    let mut env_file = None;
    let mut env_values = None;
    if let Some(name) = &chosen {
        let name = EnvName::parse(name, paths)?;
        let path = paths.env_file(name.as_str());
        match read_file(&path)? {
            Some(values) => {
                warnings.extend(values.write_warning());
                env_file = Some(path);
                env_values = Some(values);
            }
            None => {
                return Err(Error::config(format!(
                    "environment {:?} does not exist (no file {})",
                    name.as_str(),
                    path.display()
                ))
                .with_hint(environments_hint(paths, Some(name.as_str()))))
            }
        }
        environment = Some(name);
    }

    // Each source as a map (the last line of a key wins), so resolution is
    // linear in the number of keys.
    let file_map = |file: &Option<FileValues>| -> HashMap<String, (String, PathBuf)> {
        file.iter()
            .flat_map(|f| {
                f.values
                    .iter()
                    .map(|(k, v)| (k.clone(), (v.clone(), f.path.clone())))
            })
            .collect()
    };
    let from_env_file = file_map(&env_values);
    let from_main = file_map(&main);

    // The keys to resolve: documented ones, and any that a file or the
    // command line mentions.
    let mut names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    names.extend(from_main.keys().map(String::as_str));
    names.extend(from_env_file.keys().map(String::as_str));
    names.extend(cli.keys().copied());

    let mut values = BTreeMap::new();
    for name in names {
        if values.contains_key(name) {
            continue;
        }
        let resolved = if let Some(v) = cli.get(name) {
            Some(Value {
                value: (*v).to_owned(),
                source: Source::CommandLine,
            })
        } else if let Some(v) = inputs.env.get(name) {
            Some(Value {
                value: v.to_owned(),
                source: Source::Environment,
            })
        } else if let Some((v, p)) = from_env_file.get(name) {
            Some(Value {
                value: v.clone(),
                source: Source::EnvFile(p.clone()),
            })
        } else if let Some((v, p)) = from_main.get(name) {
            Some(Value {
                value: v.clone(),
                source: Source::MainFile(p.clone()),
            })
        } else {
            key_def(name).and_then(|k| k.default).map(|d| Value {
                value: d.to_owned(),
                source: Source::Default,
            })
        };
        if let Some(value) = resolved {
            values.insert(name.to_owned(), value);
        }
    }

    secret_warnings(
        &mut warnings,
        paths,
        chosen.as_deref(),
        &cli,
        main.as_ref(),
        env_values.as_ref(),
    );
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
        environment,
        env_file,
        values,
        warnings,
    })
}

/// Secrets in places others can read them (SPEC §2), warned about as ssh
/// does for keys: on the command line, in the shared main file, or in a
/// file readable by group or others.
fn secret_warnings(
    warnings: &mut Vec<String>,
    paths: &Paths,
    chosen: Option<&str>,
    cli: &HashMap<&str, &str>,
    main: Option<&FileValues>,
    env_values: Option<&FileValues>,
) {
    let env_file_shown = || {
        paths
            .env_file(chosen.unwrap_or("<name>"))
            .display()
            .to_string()
    };
    for key in KEYS.iter().filter(|k| k.secret) {
        if cli.contains_key(key.name) {
            warnings.push(format!(
                "{} was given on the command line, where other users can see it in the process list; set it in {} or an environment variable instead",
                key.name,
                env_file_shown()
            ));
        }
        for file in main.into_iter().chain(env_values) {
            if !file.has(key.name) {
                continue;
            }
            let in_env_file = env_values.is_some_and(|f| f.has(key.name));
            if Some(&file.path) == main.map(|m| &m.path) {
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
                        env_file_shown()
                    ));
                }
            }
            if file.readable_by_others {
                warnings.push(format!(
                    "{} holds {} and is readable by other users; run: chmod 600 {}",
                    file.path.display(),
                    key.name,
                    file.path.display()
                ));
            }
        }
    }
}

impl Settings {
    /// The active environment, if one was chosen.
    pub fn environment(&self) -> Option<&EnvName> {
        self.environment.as_ref()
    }

    /// The value of `key` (any case), if set anywhere.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_uppercase())
            .map(|v| v.value.as_str())
            .filter(|v| !v.is_empty())
    }

    #[cfg(test)]
    pub(crate) fn source(&self, key: &str) -> Option<&Source> {
        self.values
            .get(&key.to_ascii_uppercase())
            .map(|v| &v.source)
    }

    /// The value of a secret key.
    pub(crate) fn secret(&self, key: &str) -> Option<Secret> {
        self.get(key).map(Secret::new)
    }

    /// Where the user should set `key`: the environment's file when one is
    /// active, else the main file.
    pub(crate) fn where_to_set(&self, key: &str, paths: &Paths) -> String {
        match &self.environment {
            Some(name) => format!(
                "set {key} in {} or as an environment variable",
                paths.env_file(name.as_str()).display()
            ),
            None => format!(
                "set {key} in {} or as an environment variable",
                paths.main_config().display()
            ),
        }
    }

    /// A required key, or a configuration error naming it.
    pub(crate) fn require(&self, key: &str, paths: &Paths) -> Result<&str> {
        self.get(key).ok_or_else(|| {
            let env = self
                .environment
                .as_ref()
                .map(|e| format!(" for environment {:?}", e.as_str()))
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

    pub(crate) fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key) {
            None => Ok(false),
            Some(raw) => parse_bool(raw).ok_or_else(|| {
                Error::config(format!(
                    "{key} must be true or false, not {:?}",
                    raw.to_ascii_lowercase()
                ))
                .with_hint(format!(
                    "set {key}=true or {key}=false (yes/no and 1/0 work too)"
                ))
            }),
        }
    }

    /// A whole number within the key's range (from the key table), so that
    /// expiry and timeout arithmetic can never overflow.
    pub(crate) fn u64(&self, key: &str) -> Result<u64> {
        let def = key_def(key);
        let raw = self
            .get(key)
            .or_else(|| def.and_then(|k| k.default))
            .unwrap_or("0");
        let (max, what) = match def.map(|d| d.kind) {
            Some(KeyKind::Number { max, what }) => (max, what),
            _ => (u64::from(u32::MAX), "a whole number of seconds"),
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
    pub(crate) fn require_environment(&self, paths: &Paths) -> Result<&EnvName> {
        self.environment
            .as_ref()
            .ok_or_else(|| no_environment(paths))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::dotenv;

    fn paths() -> Paths {
        Paths {
            config_dir: PathBuf::from("/cfg"),
            cache_dir: PathBuf::from("/cache"),
            data_dir: PathBuf::from("/data"),
        }
    }

    /// Files from memory: resolution without touching the disk.
    fn files(list: &[(&str, &str)]) -> impl Fn(&Path) -> Result<Option<FileValues>> {
        let list: Vec<(PathBuf, String)> = list
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
            .collect();
        move |path: &Path| {
            list.iter()
                .find(|(p, _)| p == path)
                .map(|(p, text)| dotenv::parse(p, text))
                .transpose()
        }
    }

    #[test]
    fn precedence_levels() {
        let p = paths();
        let read = files(&[
            (
                "/cfg/.env",
                "DEFAULT_ENVIRONMENT=dev\nOAUTH_SCOPES=main\nhttp_timeout=5\nX=main\nY=main\nZ=main\n",
            ),
            ("/cfg/env/dev.env", "oauth_scopes=envfile\nX=envfile\nY=envfile\n"),
        ]);
        let env = ProcessEnv::from_pairs([
            ("OAUTH_SCOPES", "osenv"),
            ("X", "osenv"),
            ("UNRELATED", "u"),
        ]);
        let cli = vec![
            ("X".to_string(), "first".to_string()),
            ("X".to_string(), "cli".to_string()),
        ];
        let s = resolve(
            &Inputs {
                env: &env,
                paths: &p,
                environment_flag: None,
                command_line: &cli,
            },
            &read,
        )
        .unwrap();
        assert_eq!(s.environment.as_ref().map(EnvName::as_str), Some("dev"));
        assert_eq!(s.get("oauth_scopes"), Some("osenv"));
        assert_eq!(s.get("X"), Some("cli"));
        assert_eq!(s.get("Y"), Some("envfile"));
        assert_eq!(s.get("Z"), Some("main"));
        assert_eq!(s.get("HTTP_TIMEOUT"), Some("5"));
        assert_eq!(s.source("TOKEN_EXPIRY_SKEW"), Some(&Source::Default));
        assert_eq!(s.get("UNRELATED"), None);
    }

    #[test]
    fn debug_output_never_shows_a_value() {
        let p = paths();
        let read = files(&[("/cfg/env/dev.env", "OAUTH_CLIENT_SECRET=hunter2\n")]);
        let s = resolve(
            &Inputs {
                env: &ProcessEnv::from_pairs([("OAUTH_PASSWORD", "swordfish")]),
                paths: &p,
                environment_flag: Some("dev"),
                command_line: &[],
            },
            &read,
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(shown.contains("OAUTH_CLIENT_SECRET") && shown.contains("[7 chars]"));
        assert!(!shown.contains("hunter2") && !shown.contains("swordfish"));
    }

    #[test]
    fn environment_choice_and_errors() {
        let p = paths();
        let read = files(&[
            ("/cfg/env/dev.env", "A=1\n"),
            ("/cfg/env/prod.env", "A=2\n"),
        ]);
        let env = ProcessEnv::from_pairs([("LMI_ENVIRONMENT", "prod")]);
        let run = |flag: Option<&str>, env: &ProcessEnv| {
            resolve(
                &Inputs {
                    env,
                    paths: &p,
                    environment_flag: flag,
                    command_line: &[],
                },
                &read,
            )
        };
        assert_eq!(run(None, &env).unwrap().get("A"), Some("2"));
        assert_eq!(run(Some("dev"), &env).unwrap().get("A"), Some("1"));
        let missing = run(Some("stage"), &env).unwrap_err();
        assert_eq!(missing.exit_code(), 3);
        assert!(missing.message().contains("\"stage\" does not exist"));
        assert!(run(Some("../x"), &env)
            .unwrap_err()
            .message()
            .contains("invalid environment name"));
        assert!(run(None, &ProcessEnv::from_pairs([("X", "1")]))
            .unwrap()
            .environment
            .is_none());
    }

    #[test]
    fn numbers_and_booleans_follow_the_key_table() {
        let p = paths();
        let read = files(&[(
            "/cfg/.env",
            "HTTP_TIMEOUT=3601\nTOKEN_EXPIRY_SKEW=20\nREQUIRE_SSO=yes\nLOG_FILE_ENABLED=maybe\n",
        )]);
        let s = resolve(
            &Inputs {
                env: &ProcessEnv::from_pairs::<[(&str, &str); 0], _, _>([]),
                paths: &p,
                environment_flag: None,
                command_line: &[],
            },
            &read,
        )
        .unwrap();
        assert!(s
            .u64("HTTP_TIMEOUT")
            .unwrap_err()
            .message()
            .contains("0 to 3600"));
        assert_eq!(s.u64("TOKEN_EXPIRY_SKEW").unwrap(), 20);
        assert_eq!(s.u64("OAUTH_SSO_LOGIN_TIMEOUT").unwrap(), 300);
        assert!(s.bool("REQUIRE_SSO").unwrap());
        assert!(s.bool("LOG_FILE_ENABLED").is_err());
    }

    #[test]
    fn many_keys_resolve_in_linear_time() {
        let p = paths();
        let text: String = (0..20_000)
            .map(|i| format!("PLUGIN_KEY_{i}=v{i}\n"))
            .collect();
        let read = files(&[("/cfg/.env", text.as_str())]);
        let s = resolve(
            &Inputs {
                env: &ProcessEnv::from_pairs::<[(&str, &str); 0], _, _>([]),
                paths: &p,
                environment_flag: None,
                command_line: &[],
            },
            &read,
        )
        .unwrap();
        assert_eq!(s.get("PLUGIN_KEY_19999"), Some("v19999"));
        assert!(s.values.len() >= 20_000);
    }
}
