//! Foundation: configuration precedence, environments, bad input, output,
//! logs and completions (SPEC §1–3, §7).

use crate::support::{mode, Sandbox};

const SECRET: &str = "s3cr3t-client-secret-value";

fn configured() -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env("dev", "OAUTH_CLIENT_ID=dev-client\n");
    sb.write_env("prod", "OAUTH_CLIENT_ID=prod-client\n");
    sb
}

fn value(out: &serde_json::Value, key: &str) -> (String, String) {
    let v = &out["values"][key];
    (
        v["value"].as_str().unwrap_or_default().to_owned(),
        v["source"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn precedence_each_level_beats_the_ones_below() {
    // A documented key with a default, a documented key without one, and a
    // plugin's own key.
    for key in ["TOKEN_EXPIRY_SKEW", "OAUTH_SCOPES", "MY_PLUGIN_SETTING"] {
        let mut sb = Sandbox::new();
        sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
        sb.write_env("dev", "# nothing yet\n");
        let show = |sb: &Sandbox, args: &[&str]| {
            let mut all = vec!["config", "show"];
            all.extend_from_slice(args);
            let out = sb.run(&all);
            out.assert_ok();
            value(&out.json(), key)
        };
        // default (documented keys only) < main < env file < OS env < command line
        let (v, source) = show(&sb, &[]);
        match key {
            "TOKEN_EXPIRY_SKEW" => assert_eq!((v.as_str(), source.as_str()), ("60", "default")),
            "OAUTH_SCOPES" => assert_eq!((v.as_str(), source.as_str()), ("", "unset")),
            _ => assert_eq!((v.as_str(), source.as_str()), ("", ""), "not listed"),
        }

        sb.write_main(&format!("DEFAULT_ENVIRONMENT=dev\n{key}=11\n"));
        let (v, source) = show(&sb, &[]);
        assert_eq!(v, "11", "{key}");
        assert!(source.ends_with(".config/lmi/.env"), "{key}: {source}");

        sb.write_env("dev", &format!("{key}=22\n"));
        let (v, source) = show(&sb, &[]);
        assert_eq!(v, "22", "{key}");
        assert!(
            source.ends_with(".config/lmi/env/dev.env"),
            "{key}: {source}"
        );

        sb.var(key, "33");
        let (v, source) = show(&sb, &[]);
        assert_eq!(
            (v.as_str(), source.as_str()),
            ("33", "environment variable"),
            "{key}"
        );

        let set = format!("{key}=44");
        let (v, source) = show(&sb, &["--set", &set]);
        assert_eq!(
            (v.as_str(), source.as_str()),
            ("44", "command line"),
            "{key}"
        );
    }
}

#[test]
fn os_environment_counts_only_for_known_keys() {
    let mut sb = configured();
    sb.var("SOME_RANDOM_VAR", "x");
    let out = sb.run(&["config", "show"]).json();
    assert!(out["values"].get("SOME_RANDOM_VAR").is_none());
    assert_eq!(
        value(&out, "TOKEN_EXPIRY_SKEW"),
        ("60".to_owned(), "default".to_owned())
    );
}

#[test]
fn key_flags_in_both_spellings_and_case_insensitive_keys() {
    let sb = configured();
    sb.write_env("dev", "oauth_client_id=lower\nOauth_Scopes=mixed\n");
    let out = sb
        .run(&["config", "show", "--oauth-audience", "dash"])
        .json();
    assert_eq!(value(&out, "OAUTH_CLIENT_ID").0, "lower");
    assert_eq!(value(&out, "OAUTH_SCOPES").0, "mixed");
    assert_eq!(
        value(&out, "OAUTH_AUDIENCE"),
        ("dash".to_owned(), "command line".to_owned())
    );
    let out = sb
        .run(&["--oauth_audience", "under", "config", "show"])
        .json();
    assert_eq!(value(&out, "OAUTH_AUDIENCE").0, "under");
    let out = sb
        .run(&["config", "show", "--set", "oauth_audience=set"])
        .json();
    assert_eq!(value(&out, "OAUTH_AUDIENCE").0, "set");
}

#[test]
fn environment_selection_order() {
    let mut sb = configured();
    assert_eq!(sb.run(&["config", "show"]).json()["environment"], "dev");
    sb.var("LMI_ENVIRONMENT", "prod");
    assert_eq!(sb.run(&["config", "show"]).json()["environment"], "prod");
    assert_eq!(
        sb.run(&["config", "show", "-e", "dev"]).json()["environment"],
        "dev"
    );
    // An empty LMI_ENVIRONMENT counts as unset.
    sb.var("LMI_ENVIRONMENT", "");
    assert_eq!(sb.run(&["config", "show"]).json()["environment"], "dev");
}

#[test]
fn no_environment_lists_the_ones_that_exist() {
    let sb = Sandbox::new();
    sb.write_env("alpha", "OAUTH_CLIENT_ID=a\n");
    sb.write_env("beta", "OAUTH_CLIENT_ID=b\n");
    let out = sb.run(&["auth", "token"]);
    out.assert_code(3)
        .assert_stderr_contains("no environment selected");
    out.assert_stderr_contains("alpha, beta");
    assert!(
        out.stderr.lines().any(|l| l.starts_with("hint: ")),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_environment_suggests_the_closest() {
    let sb = configured();
    let out = sb.run(&["-e", "prd", "auth", "token"]);
    out.assert_code(3)
        .assert_stderr_contains("\"prd\" does not exist");
    out.assert_stderr_contains("did you mean prod?");
}

#[test]
fn bad_environment_names_touch_nothing_outside() {
    let sb = configured();
    let long = "a".repeat(65);
    for name in ["../x", "/etc/passwd", "", long.as_str(), ".hidden", "a/b"] {
        let before = list_tree(sb.home());
        let out = sb.run(&["-e", name, "auth", "token"]);
        out.assert_code(3)
            .assert_stderr_contains("invalid environment name");
        // Only the log may have been written.
        let after: Vec<_> = list_tree(sb.home())
            .into_iter()
            .filter(|p| {
                !p.ends_with("lmi.log")
                    && !p.ends_with("share/lmi")
                    && !p.ends_with(".local/share")
                    && !p.ends_with(".local")
            })
            .collect();
        let before: Vec<_> = before
            .into_iter()
            .filter(|p| {
                !p.ends_with("lmi.log")
                    && !p.ends_with("share/lmi")
                    && !p.ends_with(".local/share")
                    && !p.ends_with(".local")
            })
            .collect();
        assert_eq!(before, after, "files changed for {name:?}");
    }
    let mut sb2 = configured();
    sb2.var("LMI_ENVIRONMENT", "../../etc");
    sb2.run(&["auth", "token"]).assert_code(3);
}

fn list_tree(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = entry.path();
            out.push(p.display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn malformed_dotenv_line_names_file_and_line() {
    let sb = configured();
    sb.write_env("dev", "OAUTH_CLIENT_ID=x\n# comment\nthis is not valid\n");
    let out = sb.run(&["config", "show"]);
    out.assert_code(3)
        .assert_stderr_contains("env/dev.env line 3");
}

#[test]
fn config_path_that_is_a_directory() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.config_dir().join(".env")).unwrap();
    let out = sb.run(&["config", "show"]);
    out.assert_code(3)
        .assert_stderr_contains(".config/lmi/.env");
    let sb = configured();
    std::fs::remove_file(sb.env_file("dev")).unwrap();
    std::fs::create_dir_all(sb.env_file("dev")).unwrap();
    sb.run(&["-e", "dev", "config", "show"])
        .assert_code(3)
        .assert_stderr_contains("env/dev.env");
}

#[test]
fn secrets_in_the_wrong_place_warn_but_work() {
    // On the command line.
    let sb = configured();
    let out = sb.run(&["config", "show", "--oauth-client-secret", SECRET]);
    out.assert_ok()
        .assert_stderr_contains("warning: OAUTH_CLIENT_SECRET was given on the command line");
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET));
    assert_eq!(value(&out.json(), "OAUTH_CLIENT_SECRET").0, "********");

    // In the main file.
    let sb = configured();
    sb.write_main(&format!(
        "DEFAULT_ENVIRONMENT=dev\nOAUTH_PASSWORD={SECRET}\n"
    ));
    let out = sb.run(&["config", "show"]);
    out.assert_ok()
        .assert_stderr_contains("OAUTH_PASSWORD is set in the main config");
    out.assert_stderr_contains("env/dev.env");

    // In a file readable by others.
    let sb = configured();
    sb.write_env(
        "dev",
        &format!("OAUTH_CLIENT_ID=x\nOAUTH_CLIENT_SECRET={SECRET}\n"),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(sb.env_file("dev"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = sb.run(&["config", "show"]);
    out.assert_ok()
        .assert_stderr_contains(&format!("chmod 600 {}", sb.env_file("dev").display()));
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET));
}

#[test]
fn private_wellformed_configuration_gives_no_warnings() {
    let sb = configured();
    sb.write_env(
        "dev",
        &format!("OAUTH_CLIENT_ID=x\nOAUTH_CLIENT_SECRET={SECRET}\n"),
    );
    let out = sb.run(&["config", "show"]);
    out.assert_ok();
    assert_eq!(out.stderr, "", "unexpected stderr");
    let out = sb.run(&["config", "show", "-o", "text"]);
    assert!(
        out.stdout.contains("OAUTH_CLIENT_SECRET=********"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(SECRET));
}

#[test]
fn unknown_command_or_flag_is_a_usage_error() {
    let sb = configured();
    sb.run(&["auth", "tokn"])
        .assert_code(2)
        .assert_stderr_contains("token");
    sb.run(&["config", "show", "--bogus"])
        .assert_code(2)
        .assert_stderr_contains("--bogus");
    sb.run(&["-o", "yaml", "config", "show"]).assert_code(2);
}

#[test]
fn log_file_gets_lines_and_never_a_secret() {
    let sb = configured();
    sb.write_env(
        "dev",
        &format!("OAUTH_CLIENT_ID=x\nOAUTH_CLIENT_SECRET={SECRET}\nOAUTH_PASSWORD={SECRET}-pw\n"),
    );
    let out = sb.run(&[
        "-vv",
        "config",
        "show",
        "--oauth-password",
        "another-secret-pw",
    ]);
    out.assert_ok();
    let log = std::fs::read_to_string(sb.log_file()).expect("log file written");
    assert!(log.contains("DEBUG config:"), "{log}");
    assert!(log.contains("OAUTH_CLIENT_SECRET = ********"), "{log}");
    for text in [&log, &out.stderr] {
        assert!(
            !text.contains(SECRET) && !text.contains("another-secret-pw"),
            "secret leaked:\n{text}"
        );
    }
    assert_eq!(mode(&sb.log_file()), 0o600);
    assert_eq!(mode(&sb.data_dir()), 0o700);

    // Control: a plain run writes the log.
    let sb = configured();
    sb.run(&["env", "list"]).assert_ok();
    assert!(sb.log_file().exists());
    // Switched off three ways.
    for (args, main) in [
        (vec!["--no-file-log", "env", "list"], ""),
        (vec!["--set", "LOG_FILE_ENABLED=false", "env", "list"], ""),
        (vec!["env", "list"], "LOG_FILE_ENABLED=false\n"),
    ] {
        let sb = configured();
        sb.write_main(&format!("DEFAULT_ENVIRONMENT=dev\n{main}"));
        let out = sb.run(&args);
        out.assert_ok();
        assert!(!sb.log_file().exists(), "{args:?} {main:?}");
    }
    let sb = configured();
    let custom = sb.home().join("custom/lmi.log");
    sb.run(&[
        "--set",
        &format!("LOG_FILE={}", custom.display()),
        "-v",
        "env",
        "list",
    ])
    .assert_ok();
    assert!(custom.exists() && !sb.log_file().exists());
}

#[test]
fn unwritable_log_file_warns_once_and_goes_on() {
    let sb = configured();
    let dir = sb.home().join("a-dir-not-a-file");
    std::fs::create_dir_all(&dir).unwrap();
    let out = sb.run(&[
        "--set",
        &format!("LOG_FILE={}", dir.display()),
        "env",
        "list",
    ]);
    out.assert_ok();
    assert_eq!(
        out.stderr.matches("cannot write log file").count(),
        1,
        "{}",
        out.stderr
    );
}

#[test]
fn env_list_marks_the_default() {
    let sb = configured();
    let out = sb.run(&["env", "list"]).json();
    let list = out.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "dev");
    assert_eq!(list[0]["default"], true);
    assert_eq!(list[1]["default"], false);
    assert!(list[1]["path"].as_str().unwrap().ends_with("env/prod.env"));
    let text = sb.run(&["env", "list", "-o", "text"]).stdout;
    assert!(text.contains("* dev") && text.contains("  prod"), "{text}");
}

#[test]
fn config_folder_override() {
    let mut sb = Sandbox::new();
    let dir = sb.home().join("elsewhere");
    sb.write_private(&dir.join("env/qa.env"), "OAUTH_CLIENT_ID=qa\n");
    sb.var("LMI_CONFIG_DIR", dir.display().to_string());
    let out = sb.run(&["env", "list"]).json();
    assert_eq!(out[0]["name"], "qa");
    sb.var(
        "XDG_CONFIG_HOME",
        sb.home().join("xdg").display().to_string(),
    );
    assert_eq!(sb.run(&["env", "list"]).json()[0]["name"], "qa");
}

#[test]
fn xdg_folders_are_honoured() {
    let mut sb = Sandbox::new();
    let xdg = sb.home().join("xdg-config");
    sb.write_private(&xdg.join("lmi/env/x.env"), "OAUTH_CLIENT_ID=x\n");
    sb.var("XDG_CONFIG_HOME", xdg.display().to_string());
    sb.var(
        "XDG_DATA_HOME",
        sb.home().join("xdg-data").display().to_string(),
    );
    assert_eq!(sb.run(&["env", "list"]).json()[0]["name"], "x");
    assert!(sb.home().join("xdg-data/lmi/lmi.log").exists());
}

#[test]
fn completions_for_every_shell() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = sb.run(&["completions", shell]);
        out.assert_ok();
        assert!(
            out.stdout.len() > 200 && out.stdout.contains("lmi"),
            "{shell}"
        );
    }
    sb.run(&["completions", "tcsh"]).assert_code(2);
}

/// Whether some line of `text` starts with `prefix` (a whole entry of a
/// help listing, not a word somewhere in a description).
fn has_line(text: &str, prefix: &str) -> bool {
    text.lines().any(|l| l.starts_with(prefix))
}

#[test]
fn help_and_version() {
    let sb = Sandbox::new();
    let help = |args: &[&str]| {
        let out = sb.run(args);
        out.assert_ok();
        assert!(out.stderr.is_empty(), "{args:?}: {}", out.stderr);
        out.stdout
    };
    let top = help(&["--help"]);
    for command in [
        "auth",
        "login",
        "logout",
        "api",
        "env",
        "config",
        "completions",
        "plugin",
    ] {
        assert!(
            has_line(&top, &format!("  {command} ")),
            "{command}:\n{top}"
        );
    }
    assert!(has_line(&top, "  -e, --environment <NAME>"), "{top}");

    // Key flags are listed once, in `lmi --help`, not in every command's help
    // (they still work everywhere).
    assert!(
        top.lines().any(|l| l.starts_with("  --oauth-service-url ")),
        "{top}"
    );
    let long = help(&["auth", "token", "--help"]);
    assert!(has_line(&long, "Usage: lmi auth token"), "{long}");
    assert!(!long.contains("--oauth-service-url"), "{long}");
    let short = help(&["-h"]);
    assert!(!short.contains("--oauth-service-url"), "{short}");

    let login = help(&["login", "sso", "--help"]);
    assert!(has_line(&login, "Usage: lmi login sso"), "{login}");
    assert!(has_line(&login, "      --no-browser"), "{login}");
    assert!(has_line(&login, "      --force"), "{login}");

    let api = help(&["api", "--help"]);
    assert!(has_line(&api, "Usage: lmi api [OPTIONS] <PATH>"), "{api}");
    for option in [
        "  -X, --method <METHOD>",
        "  -H, --header <NAME: VALUE>",
        "      --file <PATH>",
        "  -i, --include",
    ] {
        assert!(has_line(&api, option), "{option}:\n{api}");
    }

    let plugin = help(&["plugin", "--help"]);
    assert!(has_line(&plugin, "Usage: lmi plugin"), "{plugin}");
    for command in ["list", "install", "uninstall"] {
        assert!(
            has_line(&plugin, &format!("  {command} ")),
            "{command}:\n{plugin}"
        );
    }

    let out = sb.run(&["--version"]);
    out.assert_ok();
    assert!(out
        .stdout
        .starts_with(&format!("lmi {}", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn closed_stdout_exits_quietly() {
    use std::process::Stdio;
    let sb = Sandbox::new();
    let mut child = sb
        .cmd(&["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn config_show_lists_unset_documented_keys() {
    let sb = configured();
    let out = sb.run(&["config", "show"]).json();
    assert_eq!(
        out["values"]["OAUTH_AUDIENCE"],
        serde_json::json!({"value": null, "source": "unset"})
    );
    assert_eq!(out["values"]["OAUTH_CLIENT_ID"]["value"], "dev-client");
    let text = sb.run(&["config", "show", "-o", "text"]).stdout;
    assert!(text.contains("# OAUTH_AUDIENCE is not set"), "{text}");
}

#[test]
fn unquoted_values_with_spaces_read_as_python_dotenv_does() {
    let sb = configured();
    sb.write_env("dev", "OAUTH_SCOPES=read write   # the usual two\nexport OAUTH_AUDIENCE = https://api one\nQUOTED=\"a  b\"\n");
    let out = sb.run(&["config", "show"]);
    out.assert_ok();
    let out = out.json();
    assert_eq!(value(&out, "OAUTH_SCOPES").0, "read write");
    assert_eq!(value(&out, "OAUTH_AUDIENCE").0, "https://api one");
    assert_eq!(value(&out, "QUOTED").0, "a  b");
}

#[test]
fn big_log_file_is_rotated() {
    let sb = configured();
    std::fs::create_dir_all(sb.data_dir()).unwrap();
    let big = vec![b'x'; 5 * 1024 * 1024 + 1];
    std::fs::write(sb.log_file(), &big).unwrap();
    sb.run(&["-vv", "auth", "clear"]).assert_ok();
    let rotated = sb.data_dir().join("lmi.log.1");
    assert_eq!(std::fs::metadata(&rotated).unwrap().len(), big.len() as u64);
    let fresh = std::fs::read_to_string(sb.log_file()).unwrap();
    assert!(
        fresh.len() < 100_000 && fresh.contains("DEBUG config:"),
        "{}",
        fresh.len()
    );
    assert_eq!(mode(&sb.log_file()), 0o600);
}

#[test]
fn misspelt_keys_are_named() {
    let sb = configured();
    sb.write_env("dev", "OAUTH_CLEINT_ID=x\nOAUTH_CLIENT_SECRET=y\nOAUTH_TOKEN_URL=http://127.0.0.1:9/token\nMY_PLUGIN_REGION=eu\n");
    let out = sb.run(&["auth", "token"]);
    out.assert_code(3)
        .assert_stderr_contains("warning: OAUTH_CLEINT_ID (")
        .assert_stderr_contains("did you mean OAUTH_CLIENT_ID?");
    assert!(
        out.stderr.lines().any(|l| l.starts_with("hint: ")
            && l.contains("sets OAUTH_CLEINT_ID; did you mean OAUTH_CLIENT_ID?")),
        "{}",
        out.stderr
    );
    // A plugin's own key far from any documented one is not a typo.
    assert!(!out.stderr.contains("MY_PLUGIN_REGION"), "{}", out.stderr);
}

#[test]
fn status_and_env_list_report_broken_configuration() {
    let sb = configured();
    sb.run(&["auth", "status"]).assert_ok();
    sb.run(&["-e", "stagign", "auth", "status"])
        .assert_code(3)
        .assert_stderr_contains("does not exist");
    sb.run(&["-e", "stagign", "env", "list"])
        .assert_code(3)
        .assert_stderr_contains("available environments: dev, prod");
    sb.write_main("DEFAULT_ENVIRONMENT=dev\ngarbage line\n");
    sb.run(&["auth", "status"])
        .assert_code(3)
        .assert_stderr_contains(".env line 2");
}

#[test]
fn config_show_names_the_default_log_file() {
    let sb = configured();
    let out = sb.run(&["config", "show"]).json();
    let log = &out["values"]["LOG_FILE"];
    assert_eq!(log["source"], "default");
    assert_eq!(log["value"], sb.log_file().display().to_string());
}
