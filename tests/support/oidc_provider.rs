//! panva's `oidc-provider` (npm) with `private_key_jwt` clients, run by
//! `tests/node/oidc-provider-pkjwt.mjs` (whose header lists the clients and
//! what the server checks). Needs `node` and `npm ci --prefix tests/node`.
//! The server stops when the value is dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct OidcProvider {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub issuer: String,
    /// `{issuer}/token`.
    pub token_endpoint: String,
}

impl OidcProvider {
    /// Starts the server and waits (at most 30 s) for its address line.
    pub fn start() -> OidcProvider {
        Self::start_script("oidc-provider-pkjwt.mjs", &[])
    }

    /// [`OidcProvider::start`] with another script of `tests/node` that
    /// prints the same address line and serves the same records.
    pub fn start_script(script: &str, args: &[&str]) -> OidcProvider {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
        assert!(
            dir.join("node_modules/oidc-provider/package.json")
                .is_file(),
            "oidc-provider is missing: run `npm ci --prefix tests/node` (scripts/test.sh does)"
        );
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run node (Node.js 20+ on PATH)");
        let stdout = child.stdout.take().expect("stdout pipe");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = tx.send(reader.read_line(&mut line).map(|_| line));
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{script} did not start: {other:?}");
            }
        };
        let v: serde_json::Value = serde_json::from_str(line.trim()).expect("address line");
        OidcProvider {
            child,
            issuer: v["issuer"].as_str().expect("issuer").to_owned(),
            token_endpoint: v["token_endpoint"]
                .as_str()
                .expect("token_endpoint")
                .to_owned(),
        }
    }

    /// What the server recorded of each `POST /token`, in order.
    pub fn token_requests(&self) -> Vec<serde_json::Value> {
        let url = format!("{}/__test/token-requests", self.issuer);
        let body = ureq::get(&url)
            .call()
            .expect("GET the records")
            .into_body()
            .read_to_string()
            .expect("records body");
        serde_json::from_str(&body).expect("records JSON")
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
