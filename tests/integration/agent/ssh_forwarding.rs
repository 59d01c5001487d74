//! Over a real `ssh -R`: the remote (a second HOME, no Secret Service, no
//! browser) reaches the laptop's agent through the forwarded socket.

use super::ssh_server::Sshd;

#[test]
fn agent_ssh_a_forwarded_socket_with_no_agent_behind_it_is_exit_4_naming_it() {
    let sshd = Sshd::start();
    let remote_home = tempfile::tempdir().unwrap();
    // Nothing listens at the laptop's end: sshd accepts on the remote
    // socket, and the connection closes without an answer.
    let local = sshd.dir.path().join("laptop.sock");
    let remote = sshd.dir.path().join("remote.sock");
    let out = sshd.lmi(
        &local,
        &remote,
        remote_home.path(),
        &["auth", "status"],
        b"",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains(&remote.display().to_string()), "{stderr}");
}
