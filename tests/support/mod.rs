//! Test harness: a sandbox HOME per test, config writers, and a runner for
//! the `lmi` binary with a cleared environment.

#![allow(dead_code)]

pub mod bare_dbus;
pub mod git_server;
pub mod hostile;
pub mod kubectl;
pub mod node_mock;
pub mod oidc_provider;
pub mod socks;
pub mod tls_server;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

/// The one bounded wait of the tests: poll a condition every few ms until a
/// deadline. It lives in testidp, whose scripted browser waits the same way.
pub use lmi_testidp::wait::{poll_until, wait_until};

/// The `lmi` binary under test.
pub fn lmi_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lmi"))
}

/// A sibling binary of the workspace (`testidp`, `lmi-hello`), built by
/// `cargo build --workspace` before the tests run.
pub fn workspace_bin(name: &str) -> PathBuf {
    let path = lmi_bin().with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` first",
        path.display()
    );
    path
}

/// A temporary HOME with lmi's folders inside it.
pub struct Sandbox {
    pub home: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

/// What a run printed and how it exited.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }

    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    /// Every stderr line is `error:`/`hint:`/`warning:` or a log line.
    pub fn error_line(&self) -> Option<&str> {
        self.stderr.lines().find(|l| l.starts_with("error: "))
    }
}

impl From<Output> for Outcome {
    fn from(out: Output) -> Self {
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let home = tempfile::tempdir().expect("temp HOME");
        Sandbox {
            home,
            vars: Vec::new(),
        }
    }

    /// An extra environment variable for every command run in this sandbox.
    pub fn var(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_owned(), value.into()));
        self
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }
    pub fn config_dir(&self) -> PathBuf {
        self.home().join(".config/lmi")
    }
    pub fn env_file(&self, name: &str) -> PathBuf {
        self.config_dir().join("env").join(format!("{name}.env"))
    }
    pub fn tokens_dir(&self) -> PathBuf {
        self.home().join(".cache/lmi/tokens")
    }
    pub fn token_file(&self, env: &str) -> PathBuf {
        self.tokens_dir().join(format!("{env}.json"))
    }
    pub fn data_dir(&self) -> PathBuf {
        self.home().join(".local/share/lmi")
    }
    pub fn log_file(&self) -> PathBuf {
        self.data_dir().join("lmi.log")
    }

    /// Writes a private (0600) file, creating folders.
    pub fn write_private(&self, path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
    }

    /// Writes the main `.env`.
    pub fn write_main(&self, text: &str) {
        self.write_private(&self.config_dir().join(".env"), text);
    }

    /// Writes `env/<name>.env`.
    pub fn write_env(&self, name: &str, text: &str) {
        self.write_private(&self.env_file(name), text);
    }

    /// The command with a cleared environment: HOME, PATH, and this
    /// sandbox's variables only.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(lmi_bin());
        cmd.args(args)
            .env_clear()
            .env("HOME", self.home())
            .stdin(Stdio::null());
        for key in ["PATH", "DBUS_SESSION_BUS_ADDRESS", "LANG"] {
            if let Ok(v) = std::env::var(key) {
                cmd.env(key, v);
            }
        }
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Outcome {
        self.cmd(args).output().expect("run lmi").into()
    }

    /// Runs with `input` on stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Outcome {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lmi");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
        child.wait_with_output().expect("wait lmi").into()
    }
}

/// A sandbox whose default `dev` environment gets client-credentials tokens
/// from `token_url` (often a hostile server), plus `extra` lines.
pub fn sandbox_for(token_url: &str, extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={token_url}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret-value\n{extra}"
        ),
    );
    sb
}

/// Every file below `dir`, recursively, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Waits (bounded) for `child` to end and returns its status; after `limit`
/// kills it and fails the test with `what`, so a test of "never blocks"
/// cannot hang.
#[track_caller]
pub fn exit_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    match poll_until(limit, || child.try_wait().expect("try_wait")) {
        Ok(status) => status,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} (still running after {limit:?})");
        }
    }
}

/// Makes a cached token or stored session look obtained long ago, keeping
/// its expiry: the skew cap (half the token's lifetime) then no longer
/// applies, so `TOKEN_EXPIRY_SKEW` alone decides whether it is stale.
pub fn backdate(path: &Path) {
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON");
    let expires_at = value["expires_at"].as_i64().expect("expires_at");
    value["obtained_at"] = (expires_at - 1_000_000).into();
    std::fs::write(path, value.to_string()).expect("write");
}

/// The mode bits of a path.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// A loopback port that refuses connections for as long as this value lives.
///
/// The port is the local end of a connected TCP stream: bound, so no other
/// socket (in this test or one running in parallel) can bind it, yet not
/// listening, so the kernel answers a connection attempt with a reset
/// ("connection refused"). A port taken from a dropped listener could
/// instead be picked up again by a parallel test's server.
pub struct DeadPort {
    pub port: u16,
    _listener: std::net::TcpListener,
    _stream: std::net::TcpStream,
}

pub fn dead_port() -> DeadPort {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let stream =
        std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let port = stream.local_addr().expect("local addr").port();
    DeadPort {
        port,
        _listener: listener,
        _stream: stream,
    }
}
