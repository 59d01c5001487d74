//! The lmi process itself against a hostile host: a stderr that cannot be
//! written keeps the exit code, and core dumps are off for lmi and the
//! plugins it starts.

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
