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
    out.assert_ok();
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

/// The `config` check of `lmi doctor -o json`: (status, detail).
fn doctor_config(sb: &Sandbox) -> (String, String) {
    let out = sb.run(&["doctor", "-o", "json"]);
    let checks = out.json()["checks"].as_array().unwrap().clone();
    let config = checks.iter().find(|c| c["name"] == "config").unwrap();
    (
        config["status"].as_str().unwrap().to_owned(),
        config["detail"].as_str().unwrap().to_owned(),
    )
}

fn set_mode(path: &std::path::Path, bits: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(bits)).unwrap();
    assert_eq!(
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777,
        bits,
        "the mode took effect"
    );
}

#[test]
fn an_env_file_linked_into_a_folder_others_can_write_draws_a_warning() {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    let shared = tempfile::tempdir().unwrap();
    let target = shared.path().join("dev.env");
    std::fs::write(&target, "HTTP_TIMEOUT=5\n").unwrap();
    set_mode(&target, 0o600);
    set_mode(shared.path(), 0o700);
    let link = sb.env_file("dev");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let shown = shared.path().display().to_string();

    // A private target folder: no warning, and doctor calls it private.
    let out = sb.run(&["config", "show"]);
    out.assert_ok();
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let (status, detail) = doctor_config(&sb);
    assert_eq!(status, "ok", "{detail}");
    assert!(detail.contains("private"), "{detail}");

    // A shared folder (as /tmp: anyone may write, sticky): others could
    // replace the file the link reaches.
    set_mode(shared.path(), 0o1777);
    let out = sb.run(&["config", "show"]);
    out.assert_ok()
        .assert_stderr_contains(&format!("{shown} (which {} links to)", link.display()))
        .assert_stderr_contains("writable by other users");
    let (status, detail) = doctor_config(&sb);
    assert_eq!(status, "warn", "{detail}");
    assert!(
        detail.contains(&shown) && !detail.contains("private"),
        "{detail}"
    );
}

/// A user made for one test and deleted when it ends.
struct ThrowawayUser {
    name: String,
    uid: u32,
}

impl ThrowawayUser {
    fn new() -> ThrowawayUser {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("lmit{}x{nanos}", std::process::id());
        // useradd waits for no lock: another test may hold /etc/passwd.
        let mut tries = 0;
        while !std::process::Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                &name,
            ])
            .status()
            .expect("useradd (the test runs as root, as in CI)")
            .success()
        {
            tries += 1;
            assert!(tries < 50, "useradd {name} failed");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let out = std::process::Command::new("id")
            .args(["-u", &name])
            .output()
            .unwrap();
        let uid = String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        ThrowawayUser { name, uid }
    }
}

impl Drop for ThrowawayUser {
    fn drop(&mut self) {
        for _ in 0..50 {
            let deleted = std::process::Command::new("userdel")
                .arg(&self.name)
                .status()
                .is_ok_and(|s| s.success());
            if deleted {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

#[test]
fn an_env_folder_owned_by_another_user_draws_a_warning() {
    use std::os::unix::fs::MetadataExt;
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env("dev", "HTTP_TIMEOUT=5\n");
    let folder = sb.env_file("dev").parent().unwrap().to_owned();
    let (status, detail) = doctor_config(&sb);
    assert_eq!(status, "ok", "{detail}");

    let other = ThrowawayUser::new();
    let me = std::fs::metadata(sb.home()).unwrap().uid();
    assert_ne!(other.uid, me);
    assert_ne!(other.uid, 0);
    std::os::unix::fs::chown(&folder, Some(other.uid), None).unwrap();
    // Really another user's now (mode unchanged: owner only).
    assert_eq!(std::fs::metadata(&folder).unwrap().uid(), other.uid);
    assert_eq!(std::fs::metadata(&folder).unwrap().mode() & 0o022, 0);

    let out = sb.run(&["config", "show"]);
    out.assert_ok().assert_stderr_contains(&format!(
        "{} is owned by uid {}",
        folder.display(),
        other.uid
    ));
    let (status, detail) = doctor_config(&sb);
    assert_eq!(status, "warn", "{detail}");
    assert!(
        detail.contains(&format!("owned by uid {}", other.uid)) && !detail.contains("private"),
        "{detail}"
    );
    std::os::unix::fs::chown(&folder, Some(me), None).unwrap();
}
