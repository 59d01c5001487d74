//! `lmi exec [--env-var NAME] -- CMD [ARG]...`: the child's exact
//! variables, the token kept out of every command line, exit codes,
//! signals, a missing command, a broken environment, and usage errors.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{cached, cached_token, rfc3339, sandbox, server};
use crate::support::{dead_port, exit_within, lmi_bin, poll_until, wait_until, Sandbox};

/// The child's `LMI_*` variables and `API_TOKEN`, from `env` run by lmi.
fn lmi_vars(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("LMI_") || *k == "API_TOKEN")
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn exec_gives_the_child_the_token_its_expiry_and_the_plugin_variables() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let out = sb.run(&["exec", "--", "env"]);
    out.assert_ok();
    let token = cached_token(&sb);
    let expires = rfc3339(cached(&sb)["expires_at"].as_i64().unwrap());
    let vars = lmi_vars(&out.stdout);
    let bin = std::fs::canonicalize(lmi_bin()).unwrap();
    let expected: BTreeMap<String, String> = [
        ("LMI_ACCESS_TOKEN", token.as_str()),
        ("LMI_TOKEN_EXPIRES_AT", expires.as_str()),
        ("LMI_TOKEN_TYPE", "Bearer"),
        ("LMI_BIN", bin.to_str().unwrap()),
        ("LMI_ENVIRONMENT", "dev"),
        ("LMI_OUTPUT", "json"),
        ("LMI_VERBOSITY", "0"),
        ("LMI_CONFIG_DIR", sb.config_dir().to_str().unwrap()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(vars, expected);
    assert_eq!(srv.token_requests(), 1);

    // The token works at the API, and the next run reuses the cached one.
    let out = sb.run(&["exec", "--", "sh", "-c", "exec \"$LMI_BIN\" api /whoami"]);
    out.assert_ok();
    assert_eq!(out.json()["client_id"], "lmi-client");
    assert_eq!(srv.token_requests(), 1, "the cached token is reused");
    let seen = srv.last_api_request().unwrap();
    assert_eq!(
        seen.authorization(),
        Some(format!("Bearer {token}").as_str())
    );
}

#[test]
fn exec_env_var_names_the_variable_and_expiry_may_be_unknown() {
    let srv = server();
    // No expires_in and an opaque token: the expiry is unknown.
    srv.set(|b| b.token_lifetime = None);
    let sb = sandbox(&srv, "");
    let out = sb.run(&[
        "-e",
        "dev",
        "-o",
        "text",
        "-vv",
        "exec",
        "--env-var",
        "API_TOKEN",
        "--",
        "env",
    ]);
    out.assert_ok();
    let vars = lmi_vars(&out.stdout);
    assert_eq!(vars.get("API_TOKEN"), Some(&cached_token(&sb)));
    assert!(!vars.contains_key("LMI_ACCESS_TOKEN"), "{vars:?}");
    assert_eq!(
        vars.get("LMI_TOKEN_EXPIRES_AT").map(String::as_str),
        Some("")
    );
    assert_eq!(vars.get("LMI_OUTPUT").map(String::as_str), Some("text"));
    assert_eq!(vars.get("LMI_VERBOSITY").map(String::as_str), Some("2"));
    assert!(cached(&sb)["expires_at"].is_null());
    // DEBUG logging tells where the token went, never the token.
    out.assert_stderr_contains("handed to \"env\" in API_TOKEN");
    assert!(!out.stderr.contains(&cached_token(&sb)), "{}", out.stderr);
}

#[test]
fn exec_never_puts_the_token_on_a_command_line() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let seen = sb.home().join("cmdlines");
    // The child reads its parent's (lmi's) command line and its own while
    // both run; arguments are NUL-separated.
    let script = format!(
        "tr '\\0' ' ' < /proc/$PPID/cmdline > {0}; echo >> {0}; tr '\\0' ' ' < /proc/$$/cmdline >> {0}",
        seen.display()
    );
    sb.run(&["exec", "--", "sh", "-c", &script, "child-arg"])
        .assert_ok();
    let token = cached_token(&sb);
    let text = std::fs::read_to_string(&seen).unwrap();
    let mut lines = text.lines();
    let parent = lines.next().unwrap();
    let child = lines.next().unwrap();
    assert!(
        parent.starts_with(lmi_bin().to_str().unwrap()) && parent.contains("exec -- sh -c"),
        "the parent is lmi: {parent}"
    );
    assert!(child.contains("child-arg"), "{child}");
    assert!(!text.contains(&token), "a token in a command line: {text}");
    assert!(token.len() >= 16);
}

#[test]
fn exec_passes_the_exit_code_and_stdin_through() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let out = sb.run(&["exec", "--", "sh", "-c", "echo out; echo err >&2; exit 7"]);
    out.assert_code(7);
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n", "lmi adds nothing");

    let out = sb.run_with_stdin(
        &["exec", "--", "sh", "-c", "read l; echo \"got=$l\""],
        b"hello\n",
    );
    out.assert_ok();
    assert_eq!(out.stdout, "got=hello\n");
}

#[test]
fn exec_child_killed_by_a_signal() {
    let srv = server();
    let sb = sandbox(&srv, "");
    sb.run(&["exec", "--", "sh", "-c", "kill -TERM $$; sleep 5"])
        .assert_code(6)
        .assert_stderr_contains("command \"sh\"")
        .assert_stderr_contains("SIGTERM");
    // Death by SIGINT is an interruption: 130, nothing to explain.
    let out = sb.run(&["exec", "--", "sh", "-c", "kill -INT $$; sleep 5"]);
    out.assert_code(130);
    assert!(out.error_line().is_none(), "{}", out.stderr);
}

#[test]
fn exec_leaves_ctrl_c_to_the_child() {
    use std::os::unix::process::CommandExt;
    let srv = server();
    let sb = sandbox(&srv, "");
    let ready = sb.home().join("ready");
    let script = format!(
        "trap 'echo interrupted; exit 42' INT; touch {}; while :; do sleep 0.05; done",
        ready.display()
    );
    let child = sb
        .cmd(&["exec", "--", "sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        // Its own process group, as a terminal gives a foreground job.
        .process_group(0)
        .spawn()
        .unwrap();
    wait_until("the command never started", Duration::from_secs(20), || {
        ready.exists()
    });
    // Ctrl-C reaches the whole foreground group: lmi and the command.
    let group = format!("-{}", child.id());
    assert!(std::process::Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(42));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "interrupted");
}

#[test]
fn exec_command_that_cannot_start_is_exit_6_naming_it() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let out = sb.run(&["exec", "--", "no-such-command-for-lmi", "x"]);
    out.assert_code(6)
        .assert_stderr_contains("no-such-command-for-lmi");
    assert!(out.stdout.is_empty());
}

/// Runs `exec` with a command that leaves a marker file when it starts.
fn exec_marking(sb: &Sandbox, before: &[&str]) -> (crate::support::Outcome, bool) {
    let marker = sb.home().join("started");
    let mut args = before.to_vec();
    let touch = format!("touch {}", marker.display());
    args.extend(["exec", "--", "sh", "-c", &touch]);
    let out = sb.run(&args);
    (out, marker.exists())
}

#[test]
fn exec_with_a_broken_environment_never_starts_the_command() {
    // The IdP is down: authentication error, nothing run.
    let down = dead_port();
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL=http://127.0.0.1:{}/token\nOAUTH_CLIENT_ID=c\nOAUTH_CLIENT_SECRET=s\n",
            down.port
        ),
    );
    let (out, started) = exec_marking(&sb, &[]);
    out.assert_code(4);
    assert!(!started && out.stdout.is_empty(), "{out:?}");

    // A missing secret: configuration error, nothing run, no request.
    let srv = server();
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\n",
            srv.token_url()
        ),
    );
    let (out, started) = exec_marking(&sb, &[]);
    out.assert_code(3)
        .assert_stderr_contains("OAUTH_CLIENT_SECRET");
    assert!(!started && out.stdout.is_empty(), "{out:?}");
    // A refused secret: authentication error, nothing run.
    let (out, started) = exec_marking(&sb, &["--set", "OAUTH_CLIENT_SECRET=wrong"]);
    out.assert_code(4);
    assert!(!started && out.stdout.is_empty(), "{out:?}");
    assert_eq!(srv.token_requests(), 1);
}

#[test]
fn exec_usage_errors_are_exit_2() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let marker = sb.home().join("started");
    let touch = format!("touch {}", marker.display());
    // Without `--`, without a command, with a bad variable name.
    for args in [
        vec!["exec", "sh", "-c", touch.as_str()],
        vec!["exec", "--"],
        vec!["exec"],
        vec![
            "exec",
            "--env-var",
            "1BAD",
            "--",
            "sh",
            "-c",
            touch.as_str(),
        ],
        vec![
            "exec",
            "--env-var",
            "NO-DASH",
            "--",
            "sh",
            "-c",
            touch.as_str(),
        ],
        vec!["exec", "--env-var", "", "--", "sh", "-c", touch.as_str()],
        vec![
            "exec",
            "--env-var",
            "PATH",
            "--",
            "sh",
            "-c",
            touch.as_str(),
        ],
    ] {
        let out = sb.run(&args);
        out.assert_code(2);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        if args.len() <= 4 && !args.contains(&"--env-var") {
            out.assert_stderr_contains("Usage: lmi exec");
        }
    }
    assert!(!marker.exists());
    assert_eq!(srv.token_requests(), 0, "usage errors cost no token");
}

#[test]
fn exec_never_passes_a_secret_password_or_key_on_to_the_child() {
    let srv = server();
    // The secret from the command line, with a password and a plugin's
    // secret-looking key beside it; a non-secret key is still passed on.
    let sb = sandbox(&srv, "");
    let out = sb.run(&[
        "--set",
        "OAUTH_CLIENT_SECRET=lmi-secret",
        "--oauth-password",
        "pw-wonderland",
        "--set",
        "BILLING_API_KEY=billing-k3y",
        "--oauth-scopes",
        "read",
        "exec",
        "--",
        "env",
    ]);
    out.assert_ok();
    for secret in ["lmi-secret", "pw-wonderland", "billing-k3y"] {
        assert!(!out.stdout.contains(secret), "{secret} in {}", out.stdout);
    }
    assert!(
        out.stdout.lines().any(|l| l == "OAUTH_SCOPES=read"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&cached_token(&sb)),
        "the token is given"
    );

    // The secret from lmi's own environment (and none in the file): CMD
    // gets the token, not what it was made from.
    let mut sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\n",
            srv.token_url()
        ),
    );
    sb.var("OAUTH_CLIENT_SECRET", "lmi-secret");
    sb.var("OAUTH_PASSWORD", "pw-wonderland");
    let out = sb.run(&["exec", "--", "env"]);
    out.assert_ok();
    for secret in ["lmi-secret", "pw-wonderland"] {
        assert!(!out.stdout.contains(secret), "{secret} in {}", out.stdout);
    }
    assert!(out.stdout.contains(&cached_token(&sb)));

    // From the environment file: never exported either.
    let sb = sandbox(&srv, "OAUTH_PASSWORD=pw-wonderland\n");
    let out = sb.run(&["exec", "--", "env"]);
    out.assert_ok();
    for secret in ["lmi-secret", "pw-wonderland"] {
        assert!(!out.stdout.contains(secret), "{secret} in {}", out.stdout);
    }
}

/// The command `lmi exec` started, killed when the test ends so that a
/// failing test leaves nothing behind.
struct Command {
    pid: String,
}

impl Command {
    fn running(&self) -> bool {
        std::process::Command::new("kill")
            .args(["-0", &self.pid])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    }
}

impl Drop for Command {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &self.pid])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Starts `lmi exec -- sh -c SCRIPT` and waits (bounded) for the script to
/// write its process id to the `ready` file it is given as `$1`. lmi's
/// stderr goes to a file: a pipe would stay open as long as the command
/// lives, and reading it could outlast lmi.
fn exec_until_ready(sb: &Sandbox, script: &str) -> (std::process::Child, Command) {
    let ready = sb.home().join("ready");
    let _ = std::fs::remove_file(&ready);
    let stderr = std::fs::File::create(sb.home().join("stderr")).unwrap();
    let mut child = sb
        .cmd(&[
            "exec",
            "--",
            "sh",
            "-c",
            script,
            "sh",
            ready.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    // Written by `echo $$ > tmp; mv`, so a read never sees half of it.
    let read_pid = || std::fs::read_to_string(&ready).ok();
    let pid = match poll_until(Duration::from_secs(20), read_pid) {
        Ok(pid) => pid.trim().to_owned(),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the command never started");
        }
    };
    (child, Command { pid })
}

/// Waits (bounded) for lmi to end, then its exit code and stderr; kills it
/// and fails the test otherwise.
fn finish_within(sb: &Sandbox, mut child: std::process::Child) -> (Option<i32>, String) {
    let status = exit_within(&mut child, Duration::from_secs(20), "lmi did not end");
    let stderr = std::fs::read_to_string(sb.home().join("stderr")).unwrap();
    (status.code(), stderr)
}

fn send(signal: &str, pid: &str) {
    assert!(std::process::Command::new("kill")
        .args([&format!("-{signal}"), pid])
        .status()
        .unwrap()
        .success());
}

#[test]
fn exec_passes_sigterm_sighup_and_sigquit_on_and_waits_for_the_command() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let got = sb.home().join("got");
    for signal in ["TERM", "HUP", "QUIT"] {
        let _ = std::fs::remove_file(&got);
        let script = format!(
            "trap 'echo {signal} > {got}; exit 42' {signal}; echo $$ > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; while :; do sleep 0.05; done",
            got = got.display()
        );
        let (lmi, command) = exec_until_ready(&sb, &script);
        // Only lmi is signalled, as a service manager or `kill` would.
        send(signal, &lmi.id().to_string());
        let (code, stderr) = finish_within(&sb, lmi);
        assert_eq!(
            code,
            Some(42),
            "{signal}: lmi's exit code is the command's ({stderr})"
        );
        let seen = std::fs::read_to_string(&got).unwrap_or_default();
        assert_eq!(seen.trim(), signal, "the command got {signal}");
        assert!(
            !command.running(),
            "{signal}: the command is not left running"
        );
    }

    // A command that does not catch SIGTERM dies of it: exit 6 naming it.
    let script = "echo $$ > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; while :; do sleep 0.05; done";
    let (lmi, command) = exec_until_ready(&sb, script);
    send("TERM", &lmi.id().to_string());
    let (code, stderr) = finish_within(&sb, lmi);
    assert_eq!(code, Some(6), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(!command.running(), "the command is not left running");
}
