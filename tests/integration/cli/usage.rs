//! The command line itself: usage errors, `--help` and `--version`, shell
//! completions, and a closed stdout.

use crate::config::configured;
use crate::support::Sandbox;

/// Whether some line of `text` starts with `prefix` (a whole entry of a
/// help listing, not a word somewhere in a description).
fn has_line(text: &str, prefix: &str) -> bool {
    text.lines().any(|l| l.starts_with(prefix))
}

#[test]
fn unknown_command_or_flag_is_a_usage_error() {
    let sb = configured();
    sb.run(&["auth", "tokn"])
        .assert_code(2)
        .assert_stderr_contains("token");
    sb.run(&["config", "show", "--bogus"])
        .assert_code(2)
        .assert_stderr_contains("--bogus");
    sb.run(&["-o", "yaml", "config", "show"]).assert_code(2);
}

#[test]
fn completions_for_every_shell() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = sb.run(&["completions", shell]);
        out.assert_ok();
        // The dynamic scripts name the binary by its full path, so their
        // length depends on where the tree is checked out: check content.
        assert!(
            out.stdout.contains("LMI_COMPLETE") && out.stdout.contains("lmi"),
            "{shell}: {}",
            out.stdout
        );
    }
    sb.run(&["completions", "tcsh"]).assert_code(2);
}

#[test]
fn help_lists_commands_and_subcommands() {
    let sb = Sandbox::new();
    let help = |args: &[&str]| {
        let out = sb.run(args);
        out.assert_ok();
        assert!(out.stderr.is_empty(), "{args:?}: {}", out.stderr);
        out.stdout
    };
    let top = help(&["--help"]);
    for command in [
        "auth",
        "login",
        "logout",
        "api",
        "env",
        "config",
        "completions",
        "plugin",
    ] {
        assert!(
            has_line(&top, &format!("  {command} ")),
            "{command}:\n{top}"
        );
    }
    assert!(has_line(&top, "  -e, --environment <NAME>"), "{top}");

    // Key flags are listed once, in `lmi --help`, not in every command's help
    // (they still work everywhere).
    assert!(
        top.lines().any(|l| l.starts_with("  --oauth-service-url ")),
        "{top}"
    );
    let long = help(&["auth", "token", "--help"]);
    assert!(has_line(&long, "Usage: lmi auth token"), "{long}");
    assert!(!long.contains("--oauth-service-url"), "{long}");
    let short = help(&["-h"]);
    assert!(!short.contains("--oauth-service-url"), "{short}");

    let login = help(&["login", "sso", "--help"]);
    assert!(has_line(&login, "Usage: lmi login sso"), "{login}");
    assert!(has_line(&login, "      --no-browser"), "{login}");
    assert!(has_line(&login, "      --force"), "{login}");

    let api = help(&["api", "--help"]);
    assert!(has_line(&api, "Usage: lmi api [OPTIONS] <PATH>"), "{api}");
    for option in [
        "  -X, --method <METHOD>",
        "  -H, --header <NAME: VALUE>",
        "      --file <PATH>",
        "  -i, --include",
    ] {
        assert!(has_line(&api, option), "{option}:\n{api}");
    }

    let plugin = help(&["plugin", "--help"]);
    assert!(has_line(&plugin, "Usage: lmi plugin"), "{plugin}");
    for command in ["list", "install", "uninstall"] {
        assert!(
            has_line(&plugin, &format!("  {command} ")),
            "{command}:\n{plugin}"
        );
    }
}

#[test]
fn version_names_the_commit_its_date_and_the_target() {
    let sb = Sandbox::new();
    let out = sb.run(&["--version"]);
    out.assert_ok();
    let first = out.stdout.lines().next().unwrap_or_default();
    let inner = first
        .strip_prefix(&format!("lmi {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not `lmi <version> (...)`: {first}"));
    let parts: Vec<&str> = inner.split(' ').collect();
    let [commit, date, target] = parts[..] else {
        panic!("not `(<commit> <date> <target>)`: {first}");
    };
    // The target is the one this build is for.
    let os = if cfg!(target_os = "macos") {
        "darwin"
    } else {
        std::env::consts::OS
    };
    assert!(
        target.starts_with(std::env::consts::ARCH) && target.contains(os),
        "{first}"
    );
    // Commit and date are what git says of this checkout, or unknown
    // where there is no git.
    let git = std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "log",
            "-1",
            "--format=%h %cs",
        ])
        .output();
    match git {
        Ok(git) if git.status.success() => {
            let expected = String::from_utf8_lossy(&git.stdout).trim().to_owned();
            assert_eq!(format!("{commit} {date}"), expected, "{first}");
            assert_eq!(date.len(), "2026-01-31".len(), "{first}");
        }
        _ => assert_eq!((commit, date), ("unknown", "unknown"), "{first}"),
    }
}

#[test]
fn closed_stdout_exits_quietly() {
    use std::process::Stdio;
    let sb = Sandbox::new();
    let mut child = sb
        .cmd(&["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
