//! Plugins (SPEC §6): discovery on PATH and in lmi's `plugins/bin/`, the
//! context a plugin gets, exit codes and signals, `--lmi-describe` for
//! `--help`/`--version`, the install/list/uninstall lifecycle, and the
//! example `lmi-hello` plugin end to end against the test IdP and API.
//!
//! The plugins are tiny shell scripts in the sandbox, so each test shows the
//! exact contract a plugin author relies on.

// Test helpers panic on setup failures by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{lmi_bin, mode, workspace_bin, Sandbox};

/// Writes an executable `#!/bin/sh` script.
fn script(dir: &Path, file: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    chmod(&path, 0o755);
    path
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A folder in the sandbox put first on the PATH of every run.
fn path_dir(sb: &mut Sandbox, name: &str) -> PathBuf {
    let dir = sb.home().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let old = sb
        .cmd(&[])
        .get_envs()
        .find(|(k, _)| *k == "PATH")
        .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
        .unwrap_or_else(|| std::env::var("PATH").unwrap());
    sb.var("PATH", format!("{}:{old}", dir.display()));
    dir
}

/// A plugin that answers `--lmi-describe` with `version` and `description`.
fn describing(dir: &Path, name: &str, version: &str, description: &str, body: &str) -> PathBuf {
    script(
        dir,
        &format!("lmi-{name}"),
        &format!(
            "if [ \"$1\" = --lmi-describe ]; then\n  echo '{{\"name\":\"{name}\",\"version\":\"{version}\",\"description\":\"{description}\"}}'\n  exit 0\nfi\n{body}"
        ),
    )
}

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
fn plugin_not_executable_on_path_is_no_plugin_but_in_plugins_bin_is_exit_6() {
    let mut sb = Sandbox::new();
    let first = path_dir(&mut sb, "first");
    let plain = script(&first, "lmi-tool", "echo first\n");
    chmod(&plain, 0o644);
    sb.run(&["tool"])
        .assert_code(2)
        .assert_stderr_contains("unknown command 'tool'");

    // As a shell does, the lookup goes on to the next PATH folder.
    let second = sb.home().join("second");
    script(&second, "lmi-tool", "echo second\n");
    let path = format!("{}:{}:/usr/bin:/bin", first.display(), second.display());
    sb.var("PATH", path);
    let out = sb.run(&["tool"]);
    out.assert_ok();
    assert_eq!(out.stdout, "second\n");

    // In lmi's own folder, a file without execute permission is an error.
    let installed = script(
        &sb.data_dir().join("plugins/bin"),
        "lmi-tool",
        "echo mine\n",
    );
    chmod(&installed, 0o600);
    let out = sb.run(&["tool"]);
    out.assert_code(6)
        .assert_stderr_contains(installed.to_str().unwrap())
        .assert_stderr_contains("not executable");
}

#[test]
fn plugin_in_plugins_bin_wins_over_path_and_builtins_win_over_both() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    script(&dir, "lmi-tool", "echo from-path\n");
    script(
        &sb.data_dir().join("plugins/bin"),
        "lmi-tool",
        "echo from-lmi\n",
    );
    script(&dir, "lmi-env", "echo hijacked\n");
    let out = sb.run(&["tool"]);
    assert_eq!(out.stdout, "from-lmi\n");
    let out = sb.run(&["env", "list"]);
    out.assert_ok();
    assert!(!out.stdout.contains("hijacked"), "{}", out.stdout);
}

#[test]
fn plugin_unknown_command_is_exit_2_with_did_you_mean() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    script(&dir, "lmi-deploy", "exit 0\n");

    let out = sb.run(&["confg", "show"]);
    out.assert_code(2)
        .assert_stderr_contains("error: unknown command 'confg'")
        .assert_stderr_contains("did you mean 'config'");
    let out = sb.run(&["deplyo"]);
    out.assert_code(2)
        .assert_stderr_contains("error: unknown command 'deplyo'")
        .assert_stderr_contains("did you mean 'deploy'");
    let out = sb.run(&["zzzzzzzz"]);
    out.assert_code(2)
        .assert_stderr_contains("unknown command 'zzzzzzzz'");
    assert!(!out.stderr.contains("did you mean"), "{}", out.stderr);
    // A path is never a plugin name.
    sb.run(&["../bin/deploy"]).assert_code(2);
}

#[test]
fn plugin_unknown_command_offers_every_close_command_and_plugin() {
    let sb = Sandbox::new();
    let hello = workspace_bin("lmi-hello");
    sb.run(&["plugin", "install", hello.to_str().unwrap()])
        .assert_ok();
    let out = sb.run(&["helo"]);
    out.assert_code(2)
        .assert_stderr_contains("error: unknown command 'helo'")
        .assert_stderr_contains("did you mean 'help' or 'hello'?");
}

#[test]
fn plugin_help_lists_plugins_with_their_descriptions() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    describing(
        &dir,
        "deploy",
        "2.1.0",
        "Deploy services to an environment",
        "exit 0\n",
    );
    // No --lmi-describe answer: listed by its file.
    script(&dir, "lmi-plain", "echo 'usage: whatever'\nexit 1\n");
    for flag in ["--help", "-h"] {
        let out = sb.run(&[flag]);
        out.assert_ok();
        assert!(out.stdout.contains("Plugins:"), "{}", out.stdout);
        let deploy = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("deploy"));
        assert!(
            deploy.is_some_and(|l| l.contains("Deploy services to an environment")),
            "{}",
            out.stdout
        );
        let plain = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("plain "));
        assert!(
            plain.is_some_and(|l| l.contains("lmi-plain")),
            "{}",
            out.stdout
        );
        assert_eq!(
            out.stderr, "",
            "a well-behaved set of plugins gives no warnings"
        );
    }
    // Without plugins there is no section.
    let empty = Sandbox::new();
    assert!(!empty.run(&["--help"]).stdout.contains("Plugins:"));
}

#[test]
fn plugin_version_lists_each_plugin_version() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    describing(&dir, "deploy", "2.1.0", "Deploy", "exit 0\n");
    script(&dir, "lmi-plain", "exit 1\n");
    let out = sb.run(&["--version"]);
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], format!("lmi {}", env!("CARGO_PKG_VERSION")));
    assert!(lines.contains(&"lmi-deploy 2.1.0"), "{}", out.stdout);
    assert!(
        lines.iter().any(|l| l.starts_with("lmi-plain ")),
        "{}",
        out.stdout
    );
}

#[test]
fn plugin_hanging_describe_is_skipped_within_the_time_limit_with_a_warning() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    describing(&dir, "good", "1.0.0", "Answers at once", "exit 0\n");
    // Six plugins that hang (in a child process, as a real script would):
    // asked one after another they would need 6 s (DESCRIBE_TIMEOUT each);
    // lmi asks them all at once, so about 1 s plus spawning and killing.
    let hanging: Vec<String> = (1..=6).map(|i| format!("lmi-slow{i}")).collect();
    for name in &hanging {
        script(&dir, name, "sleep 60\n");
    }
    // The good plugin is still described: its description in --help, its
    // version in --version.
    for (args, good) in [
        (&["--help"][..], "Answers at once"),
        (&["--version"][..], "lmi-good 1.0.0"),
    ] {
        let started = Instant::now();
        let out = sb.run(args);
        let took = started.elapsed();
        out.assert_ok();
        assert!(took < Duration::from_millis(4500), "{args:?} took {took:?}");
        assert!(out.stdout.contains(good), "{args:?}: {}", out.stdout);
        for name in &hanging {
            assert!(
                out.stderr
                    .lines()
                    .any(|l| l.starts_with("warning:") && l.contains(name.as_str())),
                "{}",
                out.stderr
            );
        }
    }
}

#[test]
fn plugin_install_list_uninstall_roundtrip() {
    let sb = Sandbox::new();
    let src = describing(
        &sb.home().join("build"),
        "tool",
        "0.3.0",
        "A tool",
        "echo \"tool ran with $*\"\n",
    );
    let out = sb.run(&["plugin", "install", src.to_str().unwrap()]);
    out.assert_ok();
    let target = sb.data_dir().join("plugins/bin/lmi-tool");
    let json = out.json();
    assert_eq!(json["installed"][0]["name"], "tool");
    assert_eq!(json["installed"][0]["path"], target.to_str().unwrap());
    assert_eq!(mode(&target), 0o755);
    assert_eq!(mode(&sb.data_dir().join("plugins")), 0o700);
    assert_eq!(mode(&sb.data_dir().join("plugins/bin")), 0o700);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sb.data_dir().join("plugins/installed.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["plugins"]["tool"]["from"], src.to_str().unwrap());

    // It runs, from lmi's folder (the source may go away).
    std::fs::remove_file(&src).unwrap();
    let out = sb.run(&["tool", "x"]);
    out.assert_ok();
    assert_eq!(out.stdout, "tool ran with x\n");

    let out = sb.run(&["plugin", "list"]);
    out.assert_ok();
    let list = out.json();
    let entries = list.as_array().unwrap();
    let tool = entries.iter().find(|e| e["name"] == "tool").unwrap();
    assert_eq!(tool["version"], "0.3.0");
    assert_eq!(tool["source"], "installed");
    assert_eq!(tool["path"], target.to_str().unwrap());
    let text = sb.run(&["plugin", "list", "-o", "text"]);
    text.assert_ok();
    assert!(text.stdout.starts_with("NAME"), "{}", text.stdout);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.starts_with("tool ") && l.contains("0.3.0") && l.contains("installed")),
        "{}",
        text.stdout
    );

    // Installing again replaces it.
    let v2 = describing(
        &sb.home().join("build"),
        "tool",
        "0.4.0",
        "A tool",
        "echo v2\n",
    );
    sb.run(&["plugin", "install", v2.to_str().unwrap()])
        .assert_ok();
    assert_eq!(sb.run(&["tool"]).stdout, "v2\n");

    let out = sb.run(&["plugin", "uninstall", "tool"]);
    out.assert_ok();
    assert_eq!(out.json()["uninstalled"], "tool");
    assert!(!target.exists());
    assert_eq!(sb.run(&["plugin", "list"]).json(), serde_json::json!([]));
    sb.run(&["tool"]).assert_code(2);
    sb.run(&["plugin", "uninstall", "tool"]).assert_code(2);
}

#[test]
fn plugin_install_refuses_builtin_names_bad_names_and_missing_files() {
    let sb = Sandbox::new();
    let build = sb.home().join("build");
    for builtin in ["api", "auth", "help", "plugin"] {
        let path = script(&build, &format!("lmi-{builtin}"), "exit 0\n");
        let out = sb.run(&["plugin", "install", path.to_str().unwrap()]);
        out.assert_code(2).assert_stderr_contains("built-in");
    }
    let dashed = script(&build, "lmi--x", "exit 0\n");
    sb.run(&["plugin", "install", dashed.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("not a valid plugin name");
    let missing = build.join("lmi-missing");
    sb.run(&["plugin", "install", missing.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains(missing.to_str().unwrap());
    let plain = script(&build, "lmi-plain", "exit 0\n");
    chmod(&plain, 0o644);
    sb.run(&["plugin", "install", plain.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("not executable");
    sb.run(&["plugin", "install", build.to_str().unwrap()])
        .assert_code(2);
    assert!(!sb.data_dir().join("plugins/bin/lmi-api").exists());
    assert!(!sb.data_dir().join("plugins/installed.json").exists());
}

#[test]
fn plugin_uninstall_of_a_path_plugin_or_an_unknown_one_is_exit_2() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    let mine = script(&dir, "lmi-mine", "exit 0\n");
    let out = sb.run(&["plugin", "uninstall", "mine"]);
    out.assert_code(2)
        .assert_stderr_contains(mine.to_str().unwrap())
        .assert_stderr_contains("yours to remove");
    assert!(mine.exists());
    let list = sb.run(&["plugin", "list"]).json();
    assert_eq!(list[0]["source"], "path");
    assert_eq!(list[0]["path"], mine.to_str().unwrap());

    sb.run(&["plugin", "uninstall", "nothing"])
        .assert_code(2)
        .assert_stderr_contains("no plugin named 'nothing'");
    sb.run(&["plugin", "uninstall", "../x"]).assert_code(2);
}

#[test]
fn plugin_install_crate_runs_cargo_install_into_lmis_folder() {
    let mut sb = Sandbox::new();
    let dir = path_dir(&mut sb, "bin");
    let args_file = sb.home().join("cargo-args");
    // A stand-in cargo: records its arguments and "builds" lmi-fromcrate.
    script(
        &dir,
        "cargo",
        &format!(
            r#"printf '%s\n' "$@" > '{}'
while [ $# -gt 0 ]; do [ "$1" = --root ] && root="$2"; shift; done
mkdir -p "$root/bin"
printf '#!/bin/sh\necho from-crate\n' > "$root/bin/lmi-fromcrate"
chmod 755 "$root/bin/lmi-fromcrate"
"#,
            args_file.display()
        ),
    );
    let out = sb.run(&[
        "plugin",
        "install",
        "--crate",
        "lmi-fromcrate",
        "--version",
        "1.2.3",
        "--registry",
        "corp",
    ]);
    out.assert_ok();
    assert_eq!(out.json()["installed"][0]["name"], "fromcrate");
    let args = std::fs::read_to_string(&args_file).unwrap();
    let root = sb.data_dir().join("plugins");
    let expected = format!(
        "install\n--root\n{}\n--force\n--version=1.2.3\n--registry=corp\n--\nlmi-fromcrate\n",
        root.display()
    );
    assert_eq!(args, expected);
    assert_eq!(sb.run(&["fromcrate"]).stdout, "from-crate\n");
    let list = sb.run(&["plugin", "list"]).json();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "fromcrate")
        .unwrap();
    assert_eq!(entry["source"], "crate");
    sb.run(&["plugin", "uninstall", "fromcrate"]).assert_ok();
    sb.run(&["fromcrate"]).assert_code(2);

    // cargo failing is a plugin error, with cargo's own messages left on stderr.
    script(
        &dir,
        "cargo",
        "echo 'error: could not find `nope`' >&2\nexit 101\n",
    );
    sb.run(&["plugin", "install", "--crate", "nope"])
        .assert_code(6)
        .assert_stderr_contains("could not find `nope`");
}

#[test]
fn plugin_install_crate_without_cargo_is_exit_6() {
    let mut sb = Sandbox::new();
    let empty = sb.home().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    sb.var("PATH", empty.to_str().unwrap());
    sb.run(&["plugin", "install", "--crate", "lmi-anything"])
        .assert_code(6)
        .assert_stderr_contains("cargo is not installed")
        .assert_stderr_contains("hint:");
}

// ------------------------------------------------- the example plugin

fn api_sandbox(srv: &lmi_testidp::TestServer) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL={}\n",
            srv.token_url(),
            srv.api_url()
        ),
    );
    let hello = workspace_bin("lmi-hello");
    sb.run(&["plugin", "install", hello.to_str().unwrap()])
        .assert_ok();
    sb
}

#[test]
fn plugin_example_hello_describes_itself_and_whoami_works_end_to_end() {
    let srv = lmi_testidp::TestServer::start_default().unwrap();
    let sb = api_sandbox(&srv);

    let list = sb.run(&["plugin", "list"]).json();
    assert_eq!(list[0]["name"], "hello");
    assert_eq!(list[0]["version"], "0.1.0");
    assert!(sb.run(&["--help"]).stdout.contains("Example plugin"));

    let out = sb.run(&["hello", "whoami"]);
    out.assert_ok();
    let me = out.json();
    assert_eq!(me["client_id"], "lmi-client");
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.api_requests(), 1);

    // -o before the name reaches the plugin as LMI_OUTPUT; after it, the
    // plugin's own -o. The cached token serves both.
    for args in [
        &["-o", "text", "hello", "whoami"][..],
        &["hello", "whoami", "-o", "text"][..],
    ] {
        let out = sb.run(args);
        out.assert_ok();
        assert!(
            out.stdout.lines().any(|l| l == "client_id: lmi-client"),
            "{}",
            out.stdout
        );
    }
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.api_requests(), 3);

    // --file - : the body comes from lmi's stdin, through the plugin.
    let out = sb.run_with_stdin(&["hello", "echo", "--file", "-"], br#"{"greeting":"hi"}"#);
    out.assert_ok();
    let echoed = out.json();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path"], "/echo");
    assert!(echoed["body"].to_string().contains("greeting"), "{echoed}");
}

#[test]
fn plugin_example_hello_exits_with_lmis_code_when_the_inner_call_fails() {
    let srv = lmi_testidp::TestServer::start_default().unwrap();
    let sb = api_sandbox(&srv);
    sb.run(&["-e", "dev", "hello", "whoami"]).assert_ok();
    srv.set(|b| b.api_always_401 = true);
    // The service keeps refusing the token: authentication error (4).
    let out = sb.run(&["hello", "whoami"]);
    out.assert_code(4);
    assert!(out.error_line().is_some(), "{}", out.stderr);
    // Wrong use of the plugin itself is its own usage error.
    sb.run(&["hello", "frobnicate"]).assert_code(2);
    // No environment at all: lmi's configuration error (3) becomes the plugin's.
    let bare = Sandbox::new();
    let hello = workspace_bin("lmi-hello");
    bare.run(&["plugin", "install", hello.to_str().unwrap()])
        .assert_ok();
    bare.run(&["hello", "whoami"]).assert_code(3);
}

#[test]
fn plugin_example_hello_in_a_require_sso_environment() {
    let srv = lmi_testidp::TestServer::start_default().unwrap();
    let mut sb = Sandbox::new();
    // The SSO session in the opt-in file store, so this test does not depend
    // on the keychain (the SSO tests cover that).
    sb.write_main(&format!(
        "DEFAULT_ENVIRONMENT=dev\nOAUTH_SSO_ISSUER={}\nOAUTH_SSO_CLIENT_ID=lmi-public\nOAUTH_SSO_TOKEN_STORE=file\n",
        srv.idp_url()
    ));
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL={}\nREQUIRE_SSO=true\n",
            srv.token_url(),
            srv.api_url()
        ),
    );
    sb.var(
        "BROWSER",
        format!("{} browser", workspace_bin("testidp").display()),
    );
    let hello = workspace_bin("lmi-hello");
    sb.run(&["plugin", "install", hello.to_str().unwrap()])
        .assert_ok();

    // No session: the plugin's nested call is refused, nothing is sent.
    let out = sb.run(&["hello", "whoami"]);
    out.assert_code(4).assert_stderr_contains("lmi login sso");
    assert_eq!(srv.token_requests_by_grant("client_credentials"), 0);
    assert_eq!(srv.api_requests(), 0);

    // After a login the same plugin call goes through.
    sb.run(&["login", "sso"]).assert_ok();
    let out = sb.run(&["hello", "whoami"]);
    out.assert_ok();
    assert_eq!(out.json()["client_id"], "lmi-client");
    assert_eq!(srv.api_requests(), 1);

    // After logout it is refused again.
    sb.run(&["logout", "sso"]).assert_ok();
    sb.run(&["hello", "whoami"]).assert_code(4);
    assert_eq!(srv.api_requests(), 1);
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "plugin never started");
        std::thread::sleep(Duration::from_millis(10));
    }
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
