//! Resolution: every source of a value (SPEC §2 precedence, highest first:
//! command line, OS environment, `env/<name>.env`, the main `.env`, built-in
//! defaults) merged into [`Settings`], where each value remembers its source,
//! and the choice of environment. [`resolve`] does no I/O of its own: files
//! come through the `read_file` function it is given, so precedence tests
//! are pure. The types and typed getters are in `settings`, the warnings
//! in `warnings`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::dotenv::FileValues;
use super::environments::{environments_hint, EnvName};
use super::keys::{key_def, KEYS};
use super::settings::{Settings, Source, Value};
use super::warnings::{secret_warnings, typo_warnings};
use crate::env::ProcessEnv;
use crate::error::{Error, Result};
use crate::paths::Paths;

/// The inputs to [`resolve`].
pub struct Inputs<'a> {
    pub env: &'a ProcessEnv,
    pub paths: &'a Paths,
    /// `-e/--environment`.
    pub environment_flag: Option<&'a str>,
    /// `--set` and `--<key>` values, keys upper-cased, later ones win.
    pub command_line: &'a [(String, String)],
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

    let chosen = choose_environment(inputs, &cli, main.as_ref());

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
    typo_warnings(&mut warnings, &values);
    warnings.dedup();

    Ok(Settings {
        environment,
        env_file,
        values,
        warnings,
    })
}

/// Which environment: `-e`, then `LMI_ENVIRONMENT` (empty = unset), then
/// `DEFAULT_ENVIRONMENT` from the command line, the OS, or the main file.
fn choose_environment(
    inputs: &Inputs<'_>,
    cli: &HashMap<&str, &str>,
    main: Option<&FileValues>,
) -> Option<String> {
    if let Some(flag) = inputs.environment_flag {
        return Some(flag.to_owned());
    }
    inputs
        .env
        .non_empty("LMI_ENVIRONMENT")
        .map(str::to_owned)
        .or_else(|| {
            cli.get("DEFAULT_ENVIRONMENT")
                .map(|v| (*v).to_owned())
                .or_else(|| inputs.env.get("DEFAULT_ENVIRONMENT").map(str::to_owned))
                .or_else(|| {
                    main.and_then(|m| m.get("DEFAULT_ENVIRONMENT"))
                        .map(str::to_owned)
                })
                .filter(|v| !v.is_empty())
        })
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
