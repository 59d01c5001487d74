//! Hostile local configuration: a config file over 1 MiB, a non-UTF-8
//! environment name, files and folders others can write, and credentials
//! inside configured URLs or secret-looking keys.

use std::os::unix::fs::PermissionsExt;

use crate::support::Sandbox;

#[test]
fn a_config_file_over_one_mib_is_refused() {
    let sb = Sandbox::new();
    let mut text = String::from("DEFAULT_ENVIRONMENT=dev\n");
    while text.len() <= 1024 * 1024 {
        text.push_str(&format!("PLUGIN_KEY_{}=value\n", text.len()));
    }
    sb.write_main(&text);
    let started = std::time::Instant::now();
    let out = sb.run(&["config", "show"]);
    out.assert_code(3)
        .assert_stderr_contains("larger than 1 MiB");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    sb.write_main("DEFAULT_ENVIRONMENT=dev\nX=1\n");
    sb.write_env("dev", "HTTP_TIMEOUT=5\n");
    sb.run(&["config", "show"]).assert_ok();
}

#[test]
fn a_non_utf8_environment_name_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env("dev", "HTTP_TIMEOUT=5\n");
    let out: crate::support::Outcome = sb
        .cmd(&["config", "show"])
        .env("LMI_ENVIRONMENT", std::ffi::OsStr::from_bytes(b"pro\xffd"))
        .output()
        .unwrap()
        .into();
    out.assert_code(3).assert_stderr_contains("LMI_ENVIRONMENT");
}

#[test]
fn config_files_and_folders_others_can_write_draw_a_warning() {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env("dev", "HTTP_TIMEOUT=5\n");
    let file = sb.env_file("dev");
    let clean = sb.run(&["config", "show"]);
    clean.assert_ok();
    assert!(
        !clean.stderr.contains("writable by other users"),
        "{}",
        clean.stderr
    );

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o622)).unwrap();
    assert_eq!(crate::support::mode(&file), 0o622);
    sb.run(&["config", "show"])
        .assert_ok()
        .assert_stderr_contains(&format!("chmod go-w {}", file.display()));

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let folder = file.parent().unwrap();
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(crate::support::mode(folder), 0o777);
    sb.run(&["config", "show"])
        .assert_ok()
        .assert_stderr_contains(&format!("chmod go-w {}", folder.display()));
}

#[test]
fn credentials_in_url_values_and_secret_looking_keys_are_hidden() {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        "API_BASE_URL=https://svc:pw-in-userinfo@api.example.com/v1?api_key=pw-in-query\n\
         BILLING_URL=https://blob.example.com/c?sig=pw-in-sig&token=pw-in-token\n\
         GH_PAT=pw-pat\nNPM_PASS=pw-pass\nDEPLOY_KEY=pw-key\nSESSION_COOKIE=pw-cookie\n",
    );
    let out = sb.run(&["config", "show", "-vv"]);
    out.assert_ok();
    assert!(
        !out.stdout.contains("pw-") && !out.stderr.contains("pw-"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let values = &out.json()["values"];
    assert!(values["API_BASE_URL"]["value"]
        .as_str()
        .unwrap()
        .contains("api.example.com"));
    assert_eq!(values["GH_PAT"]["value"], "********");
}
