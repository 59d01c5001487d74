//! The log file: what it gets and never gets (a secret), an unwritable
//! one, rotation, and a write failure (a full disk) warned about once.

use crate::config::{configured, SECRET};
use crate::support::{mode, Sandbox};

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
