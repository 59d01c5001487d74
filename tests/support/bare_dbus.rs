//! A private D-Bus session bus with NO service activation: nothing owns
//! `org.freedesktop.secrets` and nothing can be auto-started for it, so a
//! Secret Service client gets `org.freedesktop.DBus.Error.ServiceUnknown`
//! right away ("no keychain available"), instead of D-Bus launching gnome-keyring.
//!
//! ```ignore
//! let bus = support::bare_dbus::BareDbus::start();
//! Command::new(lmi).env("DBUS_SESSION_BUS_ADDRESS", &bus.address) /* ... */;
//! ```
//!
//! Needs `dbus-daemon` (Debian package `dbus-daemon`; scripts/test.sh installs it).
//! The bus stops when the value is dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct BareDbus {
    child: Child,
    /// A D-Bus address (`unix:path=...,guid=...`) for `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
    _dir: tempfile::TempDir,
}

impl BareDbus {
    /// Starts `dbus-daemon` on a socket in a new temporary folder and waits (at most
    /// 10 s) for its address. Panics with an explanation if it cannot start.
    pub fn start() -> BareDbus {
        let dir = tempfile::Builder::new()
            .prefix("lmi-bare-dbus")
            .tempdir()
            .unwrap_or_else(|e| panic!("bare_dbus: cannot create a temp dir: {e}"));
        let socket = dir.path().join("bus");
        let config = dir.path().join("session.conf");
        let log = dir.path().join("dbus-daemon.log");
        // Like /usr/share/dbus-1/session.conf minus <standard_session_servicedirs/>,
        // <servicedir> and includes: no activation at all.
        let xml = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            xml_escape(&socket.to_string_lossy())
        );
        std::fs::write(&config, xml)
            .unwrap_or_else(|e| panic!("bare_dbus: cannot write {}: {e}", config.display()));
        let log_file = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("bare_dbus: cannot create {}: {e}", log.display()));

        let mut child = Command::new("dbus-daemon")
            .arg("--nofork")
            .arg("--nopidfile")
            .arg("--print-address=1")
            .arg(format!("--config-file={}", config.display()))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "bare_dbus: cannot run dbus-daemon: {e} \
                     (install the Debian package dbus-daemon; scripts/test.sh does)"
                )
            });

        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bare_dbus: no stdout pipe for dbus-daemon");
        };
        let (tx, rx) = mpsc::channel::<std::io::Result<String>>();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let res = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send(res);
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });

        let address = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) if line.trim().starts_with("unix:") => line.trim().to_owned(),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("bare_dbus: dbus-daemon gave no address ({other:?}); its stderr:\n{stderr}");
            }
        };

        BareDbus {
            child,
            address,
            _dir: dir,
        }
    }
}

impl Drop for BareDbus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
