//! The HTTPS test peer (`tls_server.py`): a token endpoint and API behind a
//! certificate from the test CA in `tests/fixtures/tls/`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct TlsServer {
    child: Child,
    pub port: u16,
}

impl TlsServer {
    pub fn start() -> TlsServer {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/tls_server.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs tests/support/tls_server.py");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("port line");
        let value: serde_json::Value = serde_json::from_str(&line).expect("JSON port line");
        let port = value["port"].as_u64().expect("port") as u16;
        TlsServer { child, port }
    }

    /// The test CA that signed the server certificate.
    pub fn ca_file() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem")
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
