//! Finding plugins: PATH against lmi's `plugins/bin/` and the built-in
//! commands, unknown commands, and `--lmi-describe` feeding `--help` and
//! `--version` within a time limit.

use std::time::{Duration, Instant};

use super::{chmod, describing, path_dir, script};
use crate::support::workspace_bin;
use crate::support::Sandbox;

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
    assert!(
        lines[0].starts_with(&format!("lmi {} (", env!("CARGO_PKG_VERSION"))),
        "{}",
        out.stdout
    );
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
