//! The loopback git server (`git_server.py`): bare repositories over git's
//! dumb HTTP protocol behind HTTP Basic authentication, where the password
//! must be a token the test API accepts. It logs every credential it saw.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct GitServer {
    child: Child,
    pub port: u16,
    root: tempfile::TempDir,
    log: PathBuf,
}

/// One request with credentials, as the server logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub username: String,
    pub password: String,
    pub accepted: bool,
}

impl GitServer {
    /// Starts the server; tokens are checked with `GET {validate_url}`.
    pub fn start(validate_url: &str) -> GitServer {
        let root = tempfile::tempdir().expect("git server root");
        let log = root.path().join("credentials.log");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/git_server.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(root.path())
            .arg(validate_url)
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs tests/support/git_server.py");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("port line");
        let value: serde_json::Value = serde_json::from_str(&line).expect("JSON port line");
        let port = value["port"].as_u64().expect("port") as u16;
        GitServer {
            child,
            port,
            root,
            log,
        }
    }

    /// Creates the bare repository `name.git` with one commit holding
    /// `README` = `content`, ready for dumb HTTP (`update-server-info`).
    pub fn create_repo(&self, name: &str, content: &str) {
        let work = self.root.path().join(format!("{name}-work"));
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("README"), content).unwrap();
        let bare = self.root.path().join(format!("{name}.git"));
        for args in [
            vec!["init", "-q", "-b", "main", "."],
            vec!["add", "README"],
            vec![
                "-c",
                "user.name=lmi test",
                "-c",
                "user.email=test@example.test",
                "commit",
                "-q",
                "-m",
                "first",
            ],
            vec!["clone", "-q", "--bare", ".", bare.to_str().unwrap()],
        ] {
            git_ok(&work, &args);
        }
        git_ok(&bare, &["update-server-info"]);
    }

    /// `http://{host}:{port}/{name}.git`.
    pub fn url(&self, host: &str, name: &str) -> String {
        format!("http://{host}:{}/{name}.git", self.port)
    }

    /// Every request with credentials so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("log line");
                Seen {
                    path: v["path"].as_str().unwrap().to_owned(),
                    username: v["username"].as_str().unwrap().to_owned(),
                    password: v["password"].as_str().unwrap().to_owned(),
                    accepted: v["accepted"].as_bool().unwrap(),
                }
            })
            .collect()
    }
}

/// Runs git in `dir` (no user or system configuration) and asserts success.
fn git_ok(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::null())
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
