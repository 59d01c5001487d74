//! Local input and the process itself: stderr that cannot be written, core
//! dumps, a log on a full disk, huge or shared config files, a non-UTF-8
//! environment name, and credentials inside configured URLs (items 9, 11,
//! 14, 16, 17, 21).

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use crate::support::{lmi_bin, Sandbox};

#[test]
fn a_full_stderr_keeps_the_exit_code() {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=nope\n");
    // /dev/full: every write fails with ENOSPC, where eprintln! panics.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let status = sb
        .cmd(&["auth", "token", "-vv"])
        .stdout(Stdio::null())
        .stderr(full)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    // And closed outright.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {} auth token 2>&-", lmi_bin().display()))
        .env_clear()
        .env("HOME", sb.home())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
}

#[test]
fn core_dumps_are_off_for_lmi_and_its_plugins() {
    let sb = Sandbox::new();
    let bin = sb.home().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let plugin = bin.join("lmi-limits");
    // The plugin reports its parent's (lmi's) core limit and its own.
    std::fs::write(
        &plugin,
        "#!/bin/sh\ngrep 'Max core' /proc/$PPID/limits\ngrep 'Max core' /proc/self/limits\n",
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    // Core dumps allowed where lmi starts; the control run shows they are.
    let raise = "ulimit -c unlimited 2>/dev/null || ulimit -S -c \"$(ulimit -H -c)\"";
    let control = Command::new("sh")
        .arg("-c")
        .arg(format!("{raise}; grep 'Max core' /proc/self/limits"))
        .output()
        .unwrap();
    let control = String::from_utf8_lossy(&control.stdout).into_owned();
    if control.split_whitespace().nth(4) == Some("0") {
        eprintln!("skipped: the hard core limit is 0 here, so the check would be vacuous");
        return;
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{raise}; exec {} limits", lmi_bin().display()))
        .env_clear()
        .env("HOME", sb.home())
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            fields[4..6],
            ["0", "0"],
            "soft and hard core limits: {line}"
        );
    }
}

#[test]
fn a_log_write_failure_warns_once() {
    let mut sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\nLOG_LEVEL=debug\n");
    sb.write_env("dev", "HTTP_TIMEOUT=5\n");
    sb.var("LOG_FILE", "/dev/full");
    let out = sb.run(&["config", "show", "-v"]);
    let warnings = out
        .stderr
        .lines()
        .filter(|l| l.contains("cannot write log file /dev/full"))
        .count();
    assert_eq!(warnings, 1, "{}", out.stderr);
}

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
