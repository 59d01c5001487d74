//! `--output-file` and `--silent` (SPEC §4.4): byte-exact downloads, the
//! previous file kept when a download breaks off or fails, the progress
//! line only on a terminal, and a bad folder refused before anything is
//! sent.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use lmi_testidp::PatternReader;
use sha2::{Digest, Sha256};

use super::{assert_nothing_sent, sandbox, server};
use crate::support::{lmi_bin, Sandbox};

const MIB: u64 = 1024 * 1024;

fn sha256(mut input: impl Read) -> Vec<u8> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf).unwrap();
        if n == 0 {
            return hasher.finalize().to_vec();
        }
        hasher.update(&buf[..n]);
    }
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn api_output_file_is_byte_exact_and_prints_nothing() {
    let srv = server();
    let sb = sandbox(&srv);
    let dir = sb.home().join("dl");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("blob.bin");
    let len = 5 * MIB + 123;
    let out = sb.run(&[
        "api",
        &format!("/bytes/{len}"),
        "--output-file",
        file.to_str().unwrap(),
    ]);
    out.assert_ok();
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr, "",
        "no progress line when stderr is not a terminal"
    );
    assert_eq!(std::fs::metadata(&file).unwrap().len(), len);
    assert_eq!(
        sha256(std::fs::File::open(&file).unwrap()),
        sha256(PatternReader::new(0, len))
    );
    assert_eq!(names(&dir), vec!["blob.bin"], "no temporary file is left");

    // A relative name lands in the working folder; -i prints only the head.
    let out = sb
        .cmd(&["api", "-i", "/bytes/10", "--output-file", "ten.bin"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("HTTP/1.1 200"), "{stdout}");
    assert!(stdout.ends_with("\n\n"), "{stdout}");
    assert_eq!(std::fs::read(dir.join("ten.bin")).unwrap().len(), 10);
}

#[test]
fn api_a_broken_or_failed_download_leaves_the_old_file() {
    let srv = server();
    let sb = sandbox(&srv);
    let dir = sb.home().join("dl");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("blob.bin");
    std::fs::write(&file, "previous").unwrap();
    let target = file.to_str().unwrap();

    let out = sb.run(&[
        "api",
        &format!("/drop/{}", 2 * MIB),
        "--output-file",
        target,
    ]);
    out.assert_code(5);
    out.assert_stderr_contains("connection broke");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "previous");
    assert_eq!(names(&dir), vec!["blob.bin"], "the temporary file is gone");

    // An error answer never replaces the file; its body goes to stdout.
    let out = sb.run(&["api", "/status/404", "--output-file", target]);
    out.assert_code(5);
    assert_eq!(out.json()["status"], 404);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "previous");
    assert_eq!(names(&dir), vec!["blob.bin"]);
}

#[test]
fn api_output_file_into_a_bad_folder_sends_nothing() {
    let srv = server();
    let sb = sandbox(&srv);
    let missing = sb.home().join("no-such-folder").join("out.bin");
    let out = sb.run(&[
        "api",
        "/bytes/10",
        "--output-file",
        missing.to_str().unwrap(),
    ]);
    out.assert_code(2);
    out.assert_stderr_contains("does not exist");
    assert_nothing_sent(&srv);

    let out = sb.run(&[
        "api",
        "/bytes/10",
        "--output-file",
        sb.home().to_str().unwrap(),
    ]);
    out.assert_code(2);
    out.assert_stderr_contains("is a folder");
    assert_nothing_sent(&srv);

    // A folder nobody may write in, whoever runs the tests (root included).
    if cfg!(target_os = "linux") {
        let out = sb.run(&["api", "/bytes/10", "--output-file", "/proc/out.bin"]);
        out.assert_code(2);
        out.assert_stderr_contains("cannot write in the folder /proc");
        assert_nothing_sent(&srv);
    }
}

#[test]
fn api_silent_prints_no_body() {
    let srv = server();
    let sb = sandbox(&srv);
    let out = sb.run(&["api", "--silent", "/whoami"]);
    out.assert_ok();
    assert_eq!(out.stdout, "");
    let out = sb.run(&["api", "--silent", "-i", "/whoami"]);
    out.assert_ok();
    assert!(out.stdout.starts_with("HTTP/1.1 200"), "{}", out.stdout);
    assert!(!out.stdout.contains("lmi-client"), "{}", out.stdout);
    let out = sb.run(&["api", "--silent", "/status/500"]);
    out.assert_code(5);
    assert_eq!(out.stdout, "");
    assert_eq!(srv.api_requests(), 3);
}

/// Runs lmi under a pseudo-terminal (util-linux `script`), returning what
/// the terminal showed.
fn under_pty(sb: &Sandbox, args: &str) -> String {
    let base = sb.cmd(&[]);
    let mut cmd = Command::new("script");
    cmd.env_clear();
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let line = format!("'{}' {args}", lmi_bin().display());
    let out = cmd
        .env("TERM", "xterm")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run script (util-linux)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn api_progress_line_only_on_a_terminal() {
    let srv = server();
    let sb = sandbox(&srv);
    let file = sb.home().join("blob.bin");
    let shown = under_pty(
        &sb,
        &format!("api /bytes/{} --output-file '{}'", 3 * MIB, file.display()),
    );
    assert!(shown.contains("3.00 MiB/3.00 MiB"), "{shown:?}");
    assert!(shown.contains("100%"), "{shown:?}");
    assert!(shown.contains("/s"), "the rate: {shown:?}");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 3 * MIB);

    // Without a length: bytes and rate, no percent.
    let shown = under_pty(
        &sb,
        &format!(
            "api '/bytes/{}?chunked' --output-file '{}'",
            2 * MIB,
            file.display()
        ),
    );
    assert!(shown.contains("2.00 MiB"), "{shown:?}");
    assert!(!shown.contains('%'), "{shown:?}");

    // -q: no progress either.
    let shown = under_pty(
        &sb,
        &format!("-q api /bytes/{} --output-file '{}'", MIB, file.display()),
    );
    assert!(!shown.contains("MiB"), "{shown:?}");
}

#[test]
fn api_ctrl_c_during_a_download_leaves_no_file_behind() {
    let srv = server();
    let sb = sandbox(&srv);
    let dir = sb.home().join("dl");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("blob.bin");
    std::fs::write(&file, "previous").unwrap();
    let mut child = sb
        .cmd(&[
            "api",
            &format!("/stall/{}", 256 * 1024),
            "--output-file",
            file.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The server has sent part of the body and waits: lmi is mid-download,
    // its temporary file beside FILE.
    crate::support::wait_until(
        "the download never started",
        Duration::from_secs(30),
        || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("lmi ended ({status}) before the download stalled");
            }
            srv.stalled_requests() == 1
        },
    );
    assert_eq!(
        names(&dir).len(),
        2,
        "FILE and its temporary file: {:?}",
        names(&dir)
    );
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    srv.release_stalled();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "previous");
    assert_eq!(names(&dir), vec!["blob.bin"], "the temporary file is gone");
}
