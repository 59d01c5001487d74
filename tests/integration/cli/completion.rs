//! Shell completion through the script `lmi completions bash` prints, in a
//! real bash: the script is sourced and its function called with
//! `COMP_WORDS`/`COMP_CWORD` set, as bash does at a Tab.

use std::process::{Command, Stdio};

use crate::support::Sandbox;

/// The candidates bash would offer for `words` (the last one is being
/// completed).
fn complete(sb: &Sandbox, script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let program = format!(
        r#"source '{}'
COMP_WORDS=({})
COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
COMP_TYPE=9
_clap_complete_lmi lmi "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script.display(),
        quoted.join(" ")
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "--noprofile", "-c", &program])
        .env_clear()
        .env("HOME", sb.home())
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", sb.home().join("bin").display()),
        )
        .stdin(Stdio::null());
    let out = cmd.output().expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_environments_plugins_and_values() {
    let sb = Sandbox::new();
    sb.write_env("dev", "OAUTH_CLIENT_ID=c\n");
    sb.write_env("prod", "OAUTH_CLIENT_ID=c\n");
    // A plugin on PATH.
    let bin = sb.home().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let plugin = bin.join("lmi-hello");
    std::fs::write(&plugin, "#!/bin/sh\necho hi\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = sb.run(&["completions", "bash"]);
    out.assert_ok();
    let script = sb.home().join("lmi.bash");
    std::fs::write(&script, &out.stdout).unwrap();

    assert_eq!(complete(&sb, &script, &["lmi", "-e", ""]), ["dev", "prod"]);
    assert_eq!(
        complete(&sb, &script, &["lmi", "--environment", "p"]),
        ["prod"]
    );
    assert_eq!(
        complete(&sb, &script, &["lmi", "auth", "token", "-e", "d"]),
        ["dev"]
    );
    assert_eq!(complete(&sb, &script, &["lmi", "hel"]), ["hello", "help"]);
    let commands = complete(&sb, &script, &["lmi", ""]);
    for name in ["auth", "config", "doctor", "env", "hello"] {
        assert!(commands.iter().any(|c| c == name), "{name}: {commands:?}");
    }
    assert_eq!(complete(&sb, &script, &["lmi", "-o", ""]), ["json", "text"]);
    assert_eq!(
        complete(&sb, &script, &["lmi", "--oauth-sso-token-store", ""]),
        ["keychain", "file"]
    );
    assert_eq!(
        complete(&sb, &script, &["lmi", "config", "set", "OAUTH_SC"]),
        ["OAUTH_SCOPES="]
    );
    let shells = complete(&sb, &script, &["lmi", "completions", "z"]);
    assert_eq!(shells, ["zsh"]);
    let remove = complete(&sb, &script, &["lmi", "env", "remove", "p"]);
    assert_eq!(remove, ["prod"]);
}

#[test]
fn zsh_and_fish_scripts_call_back_into_lmi() {
    let sb = Sandbox::new();
    let exe = crate::support::lmi_bin().display().to_string();
    for shell in ["zsh", "fish"] {
        let out = sb.run(&["completions", shell]);
        out.assert_ok();
        assert!(
            out.stdout.contains("LMI_COMPLETE"),
            "{shell}: {}",
            out.stdout
        );
        assert!(out.stdout.contains(&exe), "{shell}: {}", out.stdout);
    }
    // The script's callback answers with candidates, one per line for fish.
    sb.write_env("dev", "");
    let out = sb
        .cmd(&["--", "lmi", "-e", ""])
        .env("LMI_COMPLETE", "fish")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().next(), Some("dev"), "{text}");
}
