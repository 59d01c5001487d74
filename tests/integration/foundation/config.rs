//! Configuration: the precedence of its sources, key spellings, the
//! dotenv format, misplaced secrets, misspelt keys, the config folders and
//! `config show`.

use super::{configured, SECRET};
use crate::support::Sandbox;

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
fn config_show_names_the_default_log_file() {
    let sb = configured();
    let out = sb.run(&["config", "show"]).json();
    let log = &out["values"]["LOG_FILE"];
    assert_eq!(log["source"], "default");
    assert_eq!(log["value"], sb.log_file().display().to_string());
}
