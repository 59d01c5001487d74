//! Over a real `ssh -R`: the remote (a second HOME, no Secret Service, no
//! browser) reaches the laptop's agent through the forwarded socket. The
//! laptop's session comes from a real browser login into the real
//! keychain; the IdP and the API count what the remote's calls cost.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::ssh_server::Sshd;
use crate::sso::{
    account, backdate_keychain, idp, keychain_entry, login, require_secret_service, sandbox,
    unique_client, Store,
};
use crate::support::{files_below, Sandbox};

/// The laptop's agent, killed (by its pid) if the test ends early.
struct Agent(u32);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.0.to_string()])
            .status();
    }
}

fn start_agent(laptop: &Sandbox) -> Agent {
    let started = laptop.run(&["agent", "start"]);
    started.assert_ok();
    Agent(started.json()["pid"].as_u64().expect("pid") as u32)
}

/// What a remote call showed: its code, stdout and stderr.
struct Remote {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Remote {
    fn from(out: Output) -> Remote {
        Remote {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Remote {
    #[track_caller]
    fn ok(&self) -> serde_json::Value {
        assert_eq!(self.code, Some(0), "{}{}", self.stdout, self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or(serde_json::Value::Null)
    }
}

/// Runs lmi on the remote through `sshd`, forwarding `local`.
struct Link<'a> {
    sshd: &'a Sshd,
    local: PathBuf,
    remote: PathBuf,
    home: &'a Path,
    seen: std::cell::RefCell<Vec<String>>,
}

impl Link<'_> {
    fn run(&self, args: &[&str], stdin: &[u8]) -> Remote {
        let out: Remote = self
            .sshd
            .lmi(&self.local, &self.remote, self.home, args, stdin)
            .into();
        self.seen.borrow_mut().push(out.stdout.clone());
        self.seen.borrow_mut().push(out.stderr.clone());
        out
    }
}

#[test]
fn agent_ssh_one_refresh_one_token_and_no_secret_reaches_the_remote() {
    require_secret_service();
    let client = unique_client("agent-ssh");
    let srv = idp(&client);
    // SSO tokens of 2 minutes under a 5-minute skew: stale once backdated;
    // a fresh one counts for half its life (60 s), whatever the load.
    srv.set(|b| b.token_lifetime = Some(120));
    let sshd = Sshd::start();
    let sock = sshd.dir.path().join("agent.sock");
    let mut laptop = sandbox(
        srv.idp_url(),
        &client,
        Store::Keychain,
        "TOKEN_EXPIRY_SKEW=300\n",
    );
    let service = format!(
        "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL={}\n",
        srv.token_url(),
        srv.api_url()
    );
    laptop.write_env("shared", &format!("AGENT_SHARE=true\n{service}"));
    laptop.write_env("private", &service);
    login(&laptop, &[]).assert_ok();
    let account = account(&client, srv.idp_url());
    let first_refresh_token = keychain_entry(&account).unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    laptop.var("LMI_AGENT_SOCK", sock.display().to_string());
    let agent = start_agent(&laptop);
    backdate_keychain(&account);
    super::stamp_sso_folder(&laptop);
    srv.reset_counts();

    let remote_home = tempfile::tempdir().unwrap();
    let link = Link {
        sshd: &sshd,
        local: sock.clone(),
        remote: sshd.dir.path().join("remote.sock"),
        home: remote_home.path(),
        seen: Default::default(),
    };

    // SSO: three remote needs after expiry cost one refresh, by the agent.
    let status = link.run(&["auth", "status"], b"").ok();
    assert_eq!(status["sso"]["store"], "agent");
    assert_eq!(status["sso"]["logged_in"], true);
    assert_eq!(status["sso"]["refreshable"], true);
    assert_eq!(status["sso"]["issuer"], srv.idp_url());
    let inspected = link.run(&["auth", "inspect", "--sso"], b"").ok();
    assert!(inspected["access_token"]["format"].is_string());
    link.run(&["-vv", "auth", "inspect", "--sso"], b"").ok();
    let login = link.run(&["login", "sso"], b"").ok();
    assert_eq!(login["flow"], "agent");
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(srv.authorize_requests(), 0, "no login flow anywhere");
    let logout = link.run(&["logout", "sso"], b"");
    assert_eq!(logout.code, Some(2), "{}", logout.stderr);

    // A shared environment: many remote calls, one token request.
    let token = link.run(&["-e", "shared", "auth", "token"], b"").ok();
    let token = token["access_token"].as_str().unwrap().to_owned();
    link.run(&["-e", "shared", "api", "/whoami"], b"").ok();
    let api_origin = srv.api_url().trim_start_matches("http://").to_owned();
    let git = link.run(
        &["-e", "shared", "credential", "git", "get"],
        format!("protocol=http\nhost={api_origin}\n\n").as_bytes(),
    );
    git.ok();
    assert!(
        git.stdout.contains(&format!("password={token}\n")),
        "{}",
        git.stdout
    );
    let script = format!("test \"$LMI_ACCESS_TOKEN\" = '{token}'");
    link.run(&["-e", "shared", "exec", "--", "sh", "-c", &script], b"")
        .ok();
    link.run(&["-vv", "-e", "shared", "auth", "token"], b"")
        .ok();
    assert_eq!(srv.token_requests_by_grant("client_credentials"), 1);
    assert_eq!(srv.api_requests(), 1);
    // Not shared: the remote's usual unknown environment.
    let private = link.run(&["-e", "private", "auth", "token"], b"");
    assert_eq!(private.code, Some(3), "{}", private.stderr);
    assert_eq!(srv.token_requests_by_grant("client_credentials"), 1);
    let listed = link.run(&["env", "list"], b"").ok();
    assert_eq!(
        listed,
        serde_json::json!([{"name": "shared", "default": false, "path": null, "source": "agent"}])
    );

    // Nothing secret reached the remote: not in any output, nor in any
    // file under its HOME (its log included).
    let refresh_token = keychain_entry(&account).unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let secrets = [
        first_refresh_token.as_str(),
        refresh_token.as_str(),
        "lmi-secret",
    ];
    for text in link.seen.borrow().iter() {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "a secret in the remote's output: {text}"
            );
        }
    }
    let files = files_below(remote_home.path());
    assert!(!files.is_empty(), "the remote wrote its log");
    assert!(
        files
            .iter()
            .all(|f| !f.to_string_lossy().contains("/tokens/")),
        "the agent's tokens are not cached on the remote: {files:?}"
    );
    for file in files {
        let bytes = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for secret in secrets {
            assert!(!bytes.contains(secret), "a secret in {}", file.display());
        }
    }

    // kill -9 of the agent: the remote's and the laptop's clients exit 4
    // naming their socket.
    Command::new("kill")
        .args(["-9", &agent.0.to_string()])
        .status()
        .unwrap();
    let dead = link.run(&["auth", "status"], b"");
    assert_eq!(dead.code, Some(4), "{}", dead.stderr);
    assert!(
        dead.stderr.contains(&link.remote.display().to_string()),
        "{}",
        dead.stderr
    );
    let here = laptop.run(&["-e", "shared", "auth", "token"]);
    here.assert_code(4)
        .assert_stderr_contains(&sock.display().to_string());
}

#[test]
fn agent_ssh_a_keychain_gone_where_the_agent_runs_is_named_on_the_remote() {
    let client = unique_client("agent-ssh-gone");
    let srv = idp(&client);
    let sshd = Sshd::start();
    let sock = sshd.dir.path().join("agent.sock");
    let mut laptop = sandbox(srv.idp_url(), &client, Store::Keychain, "");
    laptop.var("LMI_AGENT_SOCK", sock.display().to_string());
    // No Secret Service for the agent: its keychain is gone.
    laptop.var(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/lmi-test-bus",
    );
    let _agent = start_agent(&laptop);
    let remote_home = tempfile::tempdir().unwrap();
    let remote = sshd.dir.path().join("remote.sock");
    let out: Remote = sshd
        .lmi(
            &sock,
            &remote,
            remote_home.path(),
            &["auth", "inspect", "--sso"],
            b"",
        )
        .into();
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(out.stderr.contains("lmi agent at"), "{}", out.stderr);
    assert!(
        out.stderr.to_lowercase().contains("keychain"),
        "{}",
        out.stderr
    );
    assert_eq!(srv.token_requests(), 0);
}

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
