//! Running a plugin: its arguments, stdin and context (environment, global
//! flags, nested lmi calls), and how its exit, a signal, a failed start or
//! Ctrl-C become lmi's exit code.

use std::path::Path;
use std::time::Duration;

use super::{chmod, path_dir, script};
use crate::support::{lmi_bin, Sandbox};

/// Prints each argument and the five LMI_* variables, one per line.
const SHOW_CONTEXT: &str = r#"for a in "$@"; do echo "arg=$a"; done
echo "LMI_BIN=$LMI_BIN"
echo "LMI_ENVIRONMENT=$LMI_ENVIRONMENT"
echo "LMI_OUTPUT=$LMI_OUTPUT"
echo "LMI_VERBOSITY=$LMI_VERBOSITY"
echo "LMI_CONFIG_DIR=$LMI_CONFIG_DIR"
echo "LMI_ENVIRONMENT_SET=${LMI_ENVIRONMENT+yes}"
"#;

/// `KEY=value` lines of a plugin's output.
fn line<'a>(stdout: &'a str, key: &str) -> Option<&'a str> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

fn args_of(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("arg="))
        .collect()
}

fn configured() -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env("dev", "OAUTH_CLIENT_ID=dev-client\n");
    sb.write_env(
        "prod",
        "OAUTH_CLIENT_ID=prod-client\nMY_PLUGIN_SETTING=from-file\n",
    );
    sb
}

#[test]
fn plugin_on_path_runs_with_its_arguments_stdin_and_context() {
    let mut sb = configured();
    let dir = path_dir(&mut sb, "bin");
    script(
        &dir,
        "lmi-hello",
        &format!("{SHOW_CONTEXT}read line; echo \"stdin=$line\"\n"),
    );
    // Everything after the name is the plugin's, even lmi's own flags.
    let out = sb.run_with_stdin(
        &["hello", "a b", "--flag", "-o", "text", "-e", "prod"],
        b"from stdin\n",
    );
    out.assert_ok();
    assert_eq!(
        args_of(&out.stdout),
        ["a b", "--flag", "-o", "text", "-e", "prod"]
    );
    assert_eq!(line(&out.stdout, "stdin"), Some("from stdin"));
    let bin = line(&out.stdout, "LMI_BIN").unwrap();
    assert!(Path::new(bin).is_absolute(), "{bin}");
    assert_eq!(
        std::fs::canonicalize(bin).unwrap(),
        std::fs::canonicalize(lmi_bin()).unwrap()
    );
    assert_eq!(line(&out.stdout, "LMI_ENVIRONMENT"), Some("dev"));
    assert_eq!(line(&out.stdout, "LMI_OUTPUT"), Some("json"));
    assert_eq!(line(&out.stdout, "LMI_VERBOSITY"), Some("0"));
    assert_eq!(
        line(&out.stdout, "LMI_CONFIG_DIR"),
        Some(sb.config_dir().to_str().unwrap())
    );
}

#[test]
fn plugin_gets_global_flags_given_before_its_name() {
    let mut sb = configured();
    let dir = path_dir(&mut sb, "bin");
    script(&dir, "lmi-hello", SHOW_CONTEXT);

    let out = sb.run(&["-e", "prod", "-o", "text", "-v", "hello"]);
    out.assert_ok();
    assert_eq!(line(&out.stdout, "LMI_ENVIRONMENT"), Some("prod"));
    assert_eq!(line(&out.stdout, "LMI_OUTPUT"), Some("text"));
    assert_eq!(line(&out.stdout, "LMI_VERBOSITY"), Some("1"));

    let out = sb.run(&["-vv", "hello"]);
    assert_eq!(line(&out.stdout, "LMI_VERBOSITY"), Some("2"));
    let out = sb.run(&["-q", "--output", "json", "hello"]);
    assert_eq!(line(&out.stdout, "LMI_VERBOSITY"), Some("-1"));
    assert_eq!(line(&out.stdout, "LMI_OUTPUT"), Some("json"));

    // LMI_ENVIRONMENT from the user's shell is replaced by the resolved one.
    sb.var("LMI_ENVIRONMENT", "prod");
    let out = sb.run(&["-e", "dev", "hello"]);
    assert_eq!(line(&out.stdout, "LMI_ENVIRONMENT"), Some("dev"));

    // A bad explicit -e is the user's configuration error, before any plugin runs.
    let out = sb.run(&["-e", "nope", "hello"]);
    out.assert_code(3).assert_stderr_contains("nope");
    assert!(!out.stdout.contains("LMI_BIN="), "{}", out.stdout);
}

#[test]
fn plugin_without_any_environment_gets_an_empty_one() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    script(&dir, "lmi-hello", SHOW_CONTEXT);
    let out = sb.run(&["hello"]);
    out.assert_ok();
    assert_eq!(line(&out.stdout, "LMI_ENVIRONMENT"), Some(""));
    assert_eq!(line(&out.stdout, "LMI_ENVIRONMENT_SET"), Some("yes"));
}

#[test]
fn plugin_nested_lmi_calls_see_the_command_line_configuration() {
    let mut sb = configured();
    let dir = path_dir(&mut sb, "bin");
    script(&dir, "lmi-conf", "exec \"$LMI_BIN\" config show\n");
    let out = sb.run(&[
        "-e",
        "prod",
        "--set",
        "MY_PLUGIN_SETTING=from-cli",
        "--oauth-scopes",
        "read write",
        "conf",
    ]);
    out.assert_ok();
    let shown = out.json();
    assert_eq!(shown["environment"], "prod");
    assert_eq!(shown["values"]["OAUTH_SCOPES"]["value"], "read write");
    // A plugin's own key beats the environment file, as on the command line.
    assert_eq!(shown["values"]["MY_PLUGIN_SETTING"]["value"], "from-cli");
    assert_eq!(shown["values"]["OAUTH_CLIENT_ID"]["value"], "prod-client");
}

#[test]
fn plugin_exit_code_is_lmis() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    script(
        &dir,
        "lmi-fail",
        "echo partial\necho 'my own error' >&2\nexit 7\n",
    );
    let out = sb.run(&["fail"]);
    out.assert_code(7);
    assert_eq!(out.stdout, "partial\n");
    // lmi adds nothing: the plugin has said what went wrong.
    assert_eq!(out.stderr, "my own error\n");
}

#[test]
fn plugin_killed_by_a_signal_is_exit_6_naming_the_signal() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    script(&dir, "lmi-doomed", "kill -TERM $$\nsleep 5\n");
    let out = sb.run(&["doomed"]);
    out.assert_code(6)
        .assert_stderr_contains("lmi-doomed")
        .assert_stderr_contains("SIGTERM");
}

#[test]
fn plugin_that_cannot_start_is_exit_6() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    let path = dir.join("lmi-broken");
    std::fs::write(&path, "#!/no/such/interpreter\n").unwrap();
    chmod(&path, 0o755);
    sb.run(&["broken"])
        .assert_code(6)
        .assert_stderr_contains(path.to_str().unwrap());
}

#[test]
fn plugin_decides_how_ctrl_c_ends_it() {
    use std::os::unix::process::CommandExt;
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    let ready = sb.home().join("ready");
    script(
        &dir,
        "lmi-slow",
        "trap 'echo interrupted; exit 42' INT\ntouch \"$1\"\nwhile :; do sleep 0.05; done\n",
    );
    let child = sb
        .cmd(&["slow", ready.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        // Its own process group, as a terminal gives a foreground job.
        .process_group(0)
        .spawn()
        .unwrap();
    crate::support::wait_until("plugin never started", Duration::from_secs(10), || {
        ready.exists()
    });
    // Ctrl-C reaches the whole foreground group: lmi and the plugin.
    let pgid = format!("-{}", child.id());
    assert!(std::process::Command::new("kill")
        .args(["-INT", "--", &pgid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(42),
        "lmi passes the plugin's own exit code through"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "interrupted");
}

#[test]
fn plugin_gets_no_secret_from_the_command_line() {
    let mut sb = configured();
    let dir = path_dir(&mut sb, "bin");
    script(&dir, "lmi-envdump", "env\n");
    let out = sb.run(&[
        "--set",
        "OAUTH_CLIENT_SECRET=cli-s3cret",
        "--oauth-password",
        "cli-passw0rd",
        "--set",
        "MY_PLUGIN_TOKEN=cli-t0ken",
        "--set",
        "MY_PLUGIN_SETTING=from-cli",
        "envdump",
    ]);
    out.assert_ok();
    for secret in ["cli-s3cret", "cli-passw0rd", "cli-t0ken"] {
        assert!(!out.stdout.contains(secret), "{secret} in {}", out.stdout);
    }
    assert_eq!(line(&out.stdout, "MY_PLUGIN_SETTING"), Some("from-cli"));
}
