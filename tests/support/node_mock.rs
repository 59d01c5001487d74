//! A third-party OAuth 2.0 / OpenID Connect server for interoperability tests:
//! the npm package `oauth2-mock-server`, run by `tests/node/mock-server.mjs`
//! (whose header comment lists exactly what the server checks and returns).
//!
//! ```ignore
//! let idp = support::node_mock::NodeMockServer::start();
//! // idp.issuer == "http://127.0.0.1:<port>"; metadata at
//! // {issuer}/.well-known/openid-configuration, token endpoint {issuer}/token.
//! ```
//!
//! Needs `node` on PATH and `npm ci --prefix tests/node` (scripts/test.sh does it).
//! The server stops when the value is dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long the server may take to print its address line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct NodeMockServer {
    child: Child,
    /// `http://127.0.0.1:<port>`, no trailing slash; also the `iss` of its tokens.
    pub issuer: String,
    pub port: u16,
}

impl NodeMockServer {
    /// Starts the server on a free loopback port and waits (at most 20 s) until it
    /// listens. Panics with an explanation if node or the npm packages are missing.
    pub fn start() -> NodeMockServer {
        Self::start_on_port(0)
    }

    /// Like [`NodeMockServer::start`], on a fixed port (0 = any free port).
    pub fn start_on_port(port: u16) -> NodeMockServer {
        Self::start_script("mock-server.mjs", "oauth2-mock-server", port)
    }

    /// Runs `tests/node/<script>` (which needs the npm package `package`)
    /// the same way: it must print `{"issuer","port"}` on one line once it
    /// listens, and stop when its stdin closes.
    pub fn start_script(script: &str, package: &str, port: u16) -> NodeMockServer {
        let node_dir = node_dir();
        let script = node_dir.join(script);
        if !node_dir
            .join("node_modules")
            .join(package)
            .join("package.json")
            .is_file()
        {
            panic!(
                "node_mock: {} is missing; install the test's npm packages first: \
                 `npm ci --prefix tests/node` (scripts/test.sh does this)",
                node_dir.join("node_modules").join(package).display()
            );
        }

        let mut child = Command::new("node")
            .arg(&script)
            .arg(port.to_string())
            .current_dir(&node_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "node_mock: cannot run `node {}`: {e} (is Node.js 20+ installed and on PATH?)",
                    script.display()
                )
            });

        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("node_mock: no stdout pipe for the node child");
        };
        let (tx, rx) = mpsc::channel::<std::io::Result<String>>();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let res = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send(res);
            // Keep draining so the child can never block on a full pipe.
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });

        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            Ok(Ok(_)) => {
                let status = child.wait().ok();
                panic!(
                    "node_mock: mock-server.mjs exited before printing its address \
                     (status {status:?}); see its stderr above. If modules are missing, \
                     run `npm ci --prefix tests/node`"
                );
            }
            Ok(Err(e)) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("node_mock: reading mock-server.mjs stdout failed: {e}");
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "node_mock: mock-server.mjs printed no address within {START_TIMEOUT:?} \
                     (is `npm ci --prefix tests/node` done?)"
                );
            }
        };

        let parsed: serde_json::Value = match serde_json::from_str(line.trim()) {
            Ok(v) => v,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("node_mock: bad address line {line:?}: {e}");
            }
        };
        let issuer = parsed["issuer"].as_str().map(str::to_owned);
        let port = parsed["port"].as_u64().and_then(|p| u16::try_from(p).ok());
        match (issuer, port) {
            (Some(issuer), Some(port)) => NodeMockServer {
                child,
                issuer,
                port,
            },
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("node_mock: address line lacks issuer/port: {line:?}");
            }
        }
    }

    /// `issuer` joined with `path` (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

impl Drop for NodeMockServer {
    fn drop(&mut self) {
        // Closing stdin asks the server to stop; kill to be sure and quick.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("node")
}
