//! Starting, reporting and ending the agent: JSON and text output, a
//! second `start`, two `start`s at once, a stale socket after `kill -9`,
//! `--lifetime`, SIGTERM.

use std::thread;
use std::time::Duration;

use super::{alive, serves, signal, socket, start, status, Agent};
use crate::support::{mode, wait_until, Sandbox};

#[test]
fn agent_start_status_stop_in_json_and_text() {
    let sb = Sandbox::new();
    let none = status(&sb);
    none.assert_ok();
    let json = none.json();
    assert_eq!(json["running"], false);
    assert_eq!(json["pid"], serde_json::Value::Null);
    assert_eq!(json["sessions"], serde_json::json!([]));
    assert_eq!(json["shared_environments"], serde_json::json!([]));
    assert_eq!(json["socket"], socket(&sb).display().to_string());

    let (agent, started) = start(&sb, &[]);
    assert_eq!(started["already_running"], false);
    assert_eq!(started["socket"], socket(&sb).display().to_string());
    assert!(alive(agent.pid));
    assert_eq!(mode(&socket(&sb)) & 0o777, 0o600);
    assert_eq!(mode(socket(&sb).parent().unwrap()) & 0o777, 0o700);

    let running = status(&sb);
    running.assert_ok();
    assert_eq!(running.json()["running"], true);
    assert_eq!(running.json()["pid"], agent.pid);

    // A second start reports the live agent.
    let again = sb.run(&["agent", "start"]);
    again.assert_ok();
    assert_eq!(again.json()["already_running"], true);
    assert_eq!(again.json()["pid"], agent.pid);

    // Text: what a shell evaluates, as `ssh-agent -s` prints it.
    let text = sb.run(&["agent", "start", "-o", "text"]);
    text.assert_ok();
    assert_eq!(
        text.stdout,
        format!(
            "LMI_AGENT_SOCK={}; export LMI_AGENT_SOCK;\necho Agent pid {};\n",
            socket(&sb).display(),
            agent.pid
        )
    );
    let text = sb.run(&["agent", "status", "-o", "text"]);
    assert!(
        text.stdout.contains(&format!("pid {}", agent.pid)),
        "{}",
        text.stdout
    );

    let stop = sb.run(&["agent", "stop"]);
    stop.assert_ok();
    assert_eq!(stop.json()["stopped"], true);
    wait_until("the agent ends", Duration::from_secs(10), || {
        !alive(agent.pid)
    });
    assert!(!socket(&sb).exists(), "the socket is removed");
    let stop = sb.run(&["agent", "stop"]);
    stop.assert_ok();
    assert_eq!(stop.json()["stopped"], false);
    assert_eq!(status(&sb).json()["running"], false);
}

/// The `lmi agent run` processes of this sandbox (by their HOME).
fn agents_of(sb: &Sandbox) -> usize {
    let home = format!("HOME={}", sb.home().display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| alive(*pid))
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            cmdline.windows(10).any(|w| w == b"agent\0run\0")
                && environ.split(|b| *b == 0).any(|v| v == home.as_bytes())
        })
        .count()
}

#[test]
fn agent_two_starts_at_once_make_one_agent() {
    let sb = Sandbox::new();
    let outs: Vec<_> = thread::scope(|s| {
        let a = s.spawn(|| sb.run(&["agent", "start"]));
        let b = s.spawn(|| sb.run(&["agent", "start"]));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    for out in &outs {
        out.assert_ok();
    }
    let pid = outs[0].json()["pid"].as_u64().unwrap() as u32;
    let _agent = Agent { pid };
    assert_eq!(outs[1].json()["pid"], pid, "both report the same agent");
    let fresh = outs
        .iter()
        .filter(|o| o.json()["already_running"] == false)
        .count();
    assert_eq!(fresh, 1, "one started it, the other reports it");
    // The loser (if one was spawned) ends at once; one agent stays.
    wait_until("one agent process", Duration::from_secs(10), || {
        agents_of(&sb) == 1
    });
    assert!(serves(&socket(&sb)));
}

#[test]
fn agent_stale_socket_after_kill_9_is_replaced() {
    let sb = Sandbox::new();
    let (first, _) = start(&sb, &[]);
    signal(first.pid, "KILL");
    wait_until("the killed agent is gone", Duration::from_secs(10), || {
        !alive(first.pid)
    });
    assert!(socket(&sb).exists(), "kill -9 leaves the socket file");
    let none = status(&sb);
    none.assert_ok();
    assert_eq!(none.json()["running"], false);

    let (second, started) = start(&sb, &[]);
    assert_eq!(started["already_running"], false);
    assert_ne!(second.pid, first.pid);
    assert!(serves(&socket(&sb)));
}

#[test]
fn agent_lifetime_ends_it_and_removes_the_socket() {
    let sb = Sandbox::new();
    let (agent, _) = start(&sb, &["--lifetime", "1"]);
    assert!(serves(&socket(&sb)));
    wait_until(
        "the agent ends after its lifetime",
        Duration::from_secs(15),
        || !alive(agent.pid),
    );
    assert!(!socket(&sb).exists());
    assert_eq!(status(&sb).json()["running"], false);
}

#[test]
fn agent_sigterm_ends_it_cleanly() {
    let sb = Sandbox::new();
    let (agent, _) = start(&sb, &[]);
    signal(agent.pid, "TERM");
    wait_until("the agent ends on SIGTERM", Duration::from_secs(10), || {
        !alive(agent.pid)
    });
    assert!(!socket(&sb).exists(), "the socket is removed");
}

#[test]
fn agent_refuses_a_socket_folder_others_can_write() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let mut sb = Sandbox::new();
    sb.var(
        "LMI_AGENT_SOCK",
        open.join("agent.sock").display().to_string(),
    );
    for cmd in ["start", "run"] {
        let out = sb.run(&["agent", cmd]);
        out.assert_code(3)
            .assert_stderr_contains("writable by group or others");
    }
    assert!(!open.join("agent.sock").exists());
}
