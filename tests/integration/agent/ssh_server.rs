//! A real OpenSSH server for the agent tests: `/usr/sbin/sshd` started on
//! 127.0.0.1 (a free port) with a throwaway host key and user key made by
//! `ssh-keygen` in a temporary folder, running as the current user, and
//! `ssh -R REMOTE:LOCAL` into it to run lmi "on the remote": a second HOME
//! with no Secret Service (no `DBUS_SESSION_BUS_ADDRESS`) and no browser.
//!
//! A machine without sshd fails these tests (scripts/test.sh installs
//! `openssh-server`); they never skip.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::support::{lmi_bin, wait_until};

const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd; killed (and waited for) when dropped.
pub struct Sshd {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    user_key: PathBuf,
    user: String,
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "lmi-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen (Debian package openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

impl Sshd {
    /// Starts sshd; fails the test when it cannot run.
    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install the Debian package openssh-server (scripts/test.sh does)"
        );
        // Short, in /tmp: Unix socket paths are limited to about 100 bytes.
        let dir = tempfile::Builder::new()
            .prefix("lmi-ssh-")
            .tempdir_in("/tmp")
            .unwrap();
        let host_key = dir.path().join("host_key");
        let user_key = dir.path().join("user_key");
        keygen(&host_key);
        keygen(&user_key);
        let authorized = dir.path().join("authorized_keys");
        std::fs::copy(user_key.with_extension("pub"), &authorized).unwrap();
        // sshd run by root wants its privilege separation folder.
        if rustix_is_root() {
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile none\nUsePAM no\n\
                 StrictModes no\nPermitRootLogin yes\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 AuthorizedKeysFile {}\nAllowStreamLocalForwarding yes\n\
                 StreamLocalBindUnlink yes\nPrintMotd no\nLogLevel ERROR\n",
                host_key.display(),
                authorized.display()
            ),
        )
        .unwrap();
        let mut child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sshd");
        wait_until("sshd did not listen", Duration::from_secs(20), || {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                use std::io::Read;
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("sshd exited ({status}): {err}");
            }
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Sshd {
            child,
            port,
            dir,
            user_key,
            user: current_user(),
        }
    }

    /// Runs `lmi ARGS` on the "remote" over ssh, with `local` forwarded
    /// to `remote` (`ssh -R remote:local`) and `LMI_AGENT_SOCK=remote`
    /// there, in `remote_home`, with nothing else in its environment.
    pub fn lmi(
        &self,
        local: &Path,
        remote: &Path,
        remote_home: &Path,
        args: &[&str],
        stdin: &[u8],
    ) -> Output {
        let mut remote_cmd = vec![
            "env".to_owned(),
            "-i".to_owned(),
            "PATH=/usr/bin:/bin".to_owned(),
            format!("HOME={}", remote_home.display()),
            format!("LMI_AGENT_SOCK={}", remote.display()),
            lmi_bin().display().to_string(),
        ];
        remote_cmd.extend(args.iter().map(|a| (*a).to_owned()));
        let line: Vec<String> = remote_cmd.iter().map(|a| quote(a)).collect();
        let mut child = Command::new("ssh")
            .args([
                "-F",
                "/dev/null",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "ExitOnForwardFailure=yes",
                "-o",
                "StreamLocalBindUnlink=yes",
                "-o",
                "LogLevel=ERROR",
                "-i",
            ])
            .arg(&self.user_key)
            .args(["-p", &self.port.to_string(), "-R"])
            .arg(format!("{}:{}", remote.display(), local.display()))
            .arg(format!("{}@127.0.0.1", self.user))
            .arg(line.join(" "))
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ssh (Debian package openssh-client)");
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            input.write_all(stdin).unwrap();
        }
        child.wait_with_output().expect("wait for ssh")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rustix_is_root() -> bool {
    current_user() == "root"
}

/// `text` as one word for the remote shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
