//! The login callback listener under a flood of idle connections:
//! lmi runs with 64 file descriptors while another local process holds 120
//! connections to its callback port open without sending anything.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lmi_testidp::TestServer;

use crate::support::{lmi_bin, workspace_bin, Sandbox};

/// Connects `count` sockets to the port, then forks: the child keeps them
/// open (idle); the parent writes the child's pid and returns at once.
/// (Debian's python3, from the base image.)
const FLOOD: &str = r#"
import os, socket, sys, time
port, count, pidfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
for _ in range(count):
    try:
        held.append(socket.create_connection(("127.0.0.1", port), timeout=1))
    except OSError:
        break
child = os.fork()
if child == 0:
    time.sleep(120)
else:
    with open(pidfile, "w") as f:
        f.write(str(child))
"#;

#[test]
fn idle_connections_do_not_keep_out_the_callback() {
    let srv = TestServer::start_default().unwrap();
    let mut sb = Sandbox::new();
    sb.write_main(&format!(
        "OAUTH_SSO_ISSUER={}\nOAUTH_SSO_CLIENT_ID=lmi-public\nOAUTH_SSO_TOKEN_STORE=file\n",
        srv.idp_url()
    ));
    let flood = sb.home().join("flood.py");
    std::fs::write(&flood, FLOOD).unwrap();
    let pidfile = sb.home().join("flood.pid");
    // The "browser": flood the callback port, then log in for real.
    let browser = sb.home().join("browser.sh");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\nulimit -S -n 1024\nport=$(printf '%s' \"$1\" | sed -n 's/.*127\\.0\\.0\\.1%3A\\([0-9]*\\).*/\\1/p')\n/usr/bin/python3 {} \"$port\" 120 {} 2>{}\nexec {} browser \"$1\"\n",
            flood.display(),
            pidfile.display(),
            sb.home().join("flood.err").display(),
            workspace_bin("testidp").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    sb.var("BROWSER", browser.display().to_string());
    let started = Instant::now();
    let out: crate::support::Outcome = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -S -n 64 && exec {} login sso",
            lmi_bin().display()
        ))
        .env_clear()
        .env("HOME", sb.home())
        .env("PATH", std::env::var("PATH").unwrap())
        .env("BROWSER", browser.display().to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap()
        .into();
    let took = started.elapsed();
    if let Ok(pid) = std::fs::read_to_string(&pidfile) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
    assert!(
        pidfile.exists(),
        "the flood ran: {}\n{:?}",
        out.stderr,
        std::fs::read_to_string(sb.home().join("flood.err"))
    );
    out.assert_ok();
    assert_eq!(srv.authorize_requests(), 1);
    // Idle connections time out after 3 s; without the bound the callback
    // would wait for them (and lmi would spin on EMFILE meanwhile).
    assert!(took < Duration::from_secs(6), "took {took:?}");
}
