//! `lmi config set` and `config unset` (SPEC §2.1): edits that keep the
//! file, quoting that reads back, private modes, and the refusals.

use crate::support::{mode, Sandbox};

fn dev() -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        "# the dev environment\n\nexport oauth_client_id=old # was\nOAUTH_SCOPES='read write'\n\n# end\n",
    );
    sb
}

#[test]
fn config_set_replaces_appends_and_keeps_every_other_line() {
    let sb = dev();
    let awkward = r#"it's "quoted" #not-a-comment $HOME \back"#;
    let out = sb.run(&[
        "config",
        "set",
        "OAUTH_CLIENT_ID=new id",
        &format!("PLUGIN_NOTE={awkward}"),
    ]);
    out.assert_ok();
    let json = out.json();
    assert_eq!(json["file"], sb.env_file("dev").display().to_string());
    assert_eq!(
        json["set"],
        serde_json::json!(["OAUTH_CLIENT_ID", "PLUGIN_NOTE"])
    );
    let text = std::fs::read_to_string(sb.env_file("dev")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "# the dev environment");
    assert_eq!(lines[1], "");
    assert_eq!(lines[2], "export OAUTH_CLIENT_ID='new id'");
    assert_eq!(lines[3..6], ["OAUTH_SCOPES='read write'", "", "# end"]);
    assert!(lines[6].starts_with("PLUGIN_NOTE="), "{text}");
    assert_eq!(mode(&sb.env_file("dev")), 0o600);

    // lmi reads back exactly what was written.
    let shown = sb.run(&["config", "show"]).json();
    assert_eq!(shown["values"]["OAUTH_CLIENT_ID"]["value"], "new id");
    assert_eq!(shown["values"]["PLUGIN_NOTE"]["value"], awkward);
    assert_eq!(shown["values"]["OAUTH_SCOPES"]["value"], "read write");
    // Unknown keys are written with a warning, a typo with the key it means.
    out.assert_stderr_contains("PLUGIN_NOTE is not a key lmi knows");
    let typo = sb.run(&["config", "set", "OAUTH_CLEINT_ID=x"]);
    typo.assert_ok()
        .assert_stderr_contains("did you mean OAUTH_CLIENT_ID?");
    assert!(std::fs::read_to_string(sb.env_file("dev"))
        .unwrap()
        .contains("OAUTH_CLEINT_ID=x"));
    sb.run(&["config", "unset", "OAUTH_CLEINT_ID"]).assert_ok();

    let out = sb.run(&["config", "unset", "oauth_scopes", "NOT_THERE", "-o", "text"]);
    out.assert_ok();
    assert!(
        out.stdout.contains("removed OAUTH_SCOPES"),
        "{}",
        out.stdout
    );
    let text = std::fs::read_to_string(sb.env_file("dev")).unwrap();
    assert!(
        !text.contains("OAUTH_SCOPES") && text.contains("# end"),
        "{text}"
    );
    let json = sb.run(&["config", "unset", "NOT_THERE"]).json();
    assert_eq!(json["removed"], serde_json::json!([]));
}

#[test]
fn config_set_bad_input_is_exit_2_naming_it() {
    let sb = dev();
    let before = std::fs::read(sb.env_file("dev")).unwrap();
    for (arg, named) in [
        ("NOEQUALS", "NOEQUALS"),
        ("=value", "empty configuration key"),
        ("BAD-KEY=1", "BAD-KEY"),
        ("1KEY=1", "1KEY"),
        ("OAUTH_SCOPES=a\nb", "OAUTH_SCOPES"),
        ("OAUTH_SCOPES=a\rb", "OAUTH_SCOPES"),
    ] {
        let out = sb.run(&["config", "set", "OAUTH_CLIENT_ID=fine", arg]);
        out.assert_code(2);
        let error = out.error_line().unwrap_or_default();
        assert!(error.contains(named), "{arg:?}: {}", out.stderr);
    }
    let out = sb.run(&["config", "unset", "BAD KEY"]);
    out.assert_code(2).assert_stderr_contains("BAD KEY");
    // Nothing was written, not even the valid key before the bad one.
    assert_eq!(std::fs::read(sb.env_file("dev")).unwrap(), before);
}

#[test]
fn config_set_refusals_without_environment_and_secrets_in_main() {
    let sb = Sandbox::new();
    sb.write_env("dev", "OAUTH_CLIENT_ID=x\n");
    let out = sb.run(&["config", "set", "OAUTH_SCOPES=read"]);
    out.assert_code(3)
        .assert_stderr_contains("no environment selected");

    let out = sb.run(&[
        "config",
        "set",
        "--main",
        "OAUTH_CLIENT_SECRET=hunter2-secret",
    ]);
    out.assert_code(2)
        .assert_stderr_contains("OAUTH_CLIENT_SECRET")
        .assert_stderr_contains("hint: set it in the environment's file");
    assert!(!out.stderr.contains("hunter2-secret"));
    assert!(!sb.config_dir().join(".env").exists());

    // --main works, and a default set there makes the environment active.
    sb.run(&["config", "set", "--main", "DEFAULT_ENVIRONMENT=dev"])
        .assert_ok();
    assert_eq!(mode(&sb.config_dir().join(".env")), 0o600);
    let out = sb.run(&["config", "set", "OAUTH_CLIENT_SECRET=hunter2-secret"]);
    out.assert_ok();
    assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"));
    assert_eq!(
        sb.run(&["config", "show"]).json()["values"]["OAUTH_CLIENT_SECRET"]["value"],
        "********"
    );
}

#[test]
fn config_set_tightens_a_readable_file_that_now_holds_a_secret() {
    use std::os::unix::fs::PermissionsExt;
    let sb = dev();
    let file = sb.env_file("dev");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    sb.run(&["config", "set", "OAUTH_SCOPES=read"]).assert_ok();
    assert_eq!(mode(&file), 0o644, "no secret: the mode is the user's");
    let out = sb.run(&["config", "set", "OAUTH_CLIENT_SECRET=s3cret-value"]);
    out.assert_ok()
        .assert_stderr_contains("its mode is now 0600");
    assert_eq!(mode(&file), 0o600);
}

#[test]
fn config_set_leaves_an_unparseable_file_alone() {
    let sb = dev();
    let broken = "OAUTH_CLIENT_ID=x\nOAUTH_SCOPES='open\n";
    sb.write_env("dev", broken);
    let out = sb.run(&["config", "set", "OAUTH_AUDIENCE=a"]);
    out.assert_code(3)
        .assert_stderr_contains(&format!("{} line 2", sb.env_file("dev").display()));
    assert_eq!(std::fs::read_to_string(sb.env_file("dev")).unwrap(), broken);
    // Also with --main.
    sb.write_main("A=1\nB=\"open\n");
    let out = sb.run(&["config", "set", "--main", "C=1", "-e", "dev"]);
    out.assert_code(3).assert_stderr_contains("line 2");
    assert_eq!(
        std::fs::read_to_string(sb.config_dir().join(".env")).unwrap(),
        "A=1\nB=\"open\n"
    );
}

#[test]
fn config_folder_that_is_a_file_or_unwritable_is_exit_3() {
    let mut sb = Sandbox::new();
    let blocker = sb.home().join("not-a-folder");
    std::fs::write(&blocker, "x").unwrap();
    sb.var("LMI_CONFIG_DIR", blocker.display().to_string());
    let out = sb.run(&["config", "set", "--main", "A=1"]);
    out.assert_code(3)
        .assert_stderr_contains(&blocker.display().to_string());
    let out = sb.run(&["env", "add", "dev", "A=1"]);
    out.assert_code(3)
        .assert_stderr_contains(&blocker.display().to_string());
    assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "x");

    // A folder nobody can create files in (tests may run as root, which
    // ignores modes; /proc refuses even root).
    sb.var("LMI_CONFIG_DIR", "/proc/lmi-config-test");
    let out = sb.run(&["config", "set", "--main", "A=1"]);
    out.assert_code(3)
        .assert_stderr_contains("/proc/lmi-config-test");
}

#[test]
fn concurrent_config_set_keeps_both_keys() {
    let sb = dev();
    let children: Vec<_> = (0..8)
        .map(|i| {
            sb.cmd(&["config", "set", &format!("KEY_{i}=value {i}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let shown = sb.run(&["config", "show"]).json();
    for i in 0..8 {
        assert_eq!(
            shown["values"][format!("KEY_{i}")]["value"],
            format!("value {i}"),
            "{shown}"
        );
    }
    assert_eq!(shown["values"]["OAUTH_CLIENT_ID"]["value"], "old");
}

/// Runs lmi with stdout and stderr in files, failing (after killing it) if it
/// has not ended within `limit`: a test of "never blocks" must not hang.
fn run_within(sb: &Sandbox, args: &[&str], limit: std::time::Duration) -> crate::support::Outcome {
    let out_file = sb.home().join("bounded.out");
    let err_file = sb.home().join("bounded.err");
    let mut child = sb
        .cmd(args)
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .unwrap();
    let status = crate::support::exit_within(&mut child, limit, &format!("lmi {args:?}"));
    std::process::Output {
        status,
        stdout: std::fs::read(&out_file).unwrap(),
        stderr: std::fs::read(&err_file).unwrap(),
    }
    .into()
}

fn mkfifo(path: &std::path::Path) {
    assert!(std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success());
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(path)
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn config_set_refuses_a_fifo_where_its_lock_goes_at_once() {
    let sb = dev();
    let lock = sb.config_dir().join("env").join(".dev.env.lock");
    mkfifo(&lock);
    let before = std::fs::read_to_string(sb.env_file("dev")).unwrap();
    let started = std::time::Instant::now();
    let out = run_within(
        &sb,
        &["config", "set", "OAUTH_SCOPES=x"],
        std::time::Duration::from_secs(8),
    );
    out.assert_code(3)
        .assert_stderr_contains(".dev.env.lock")
        .assert_stderr_contains("FIFO");
    assert!(out.stderr.contains("hint: remove it"), "{}", out.stderr);
    // Refused at once: well under the 10 s a busy lock is waited for.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(std::fs::read_to_string(sb.env_file("dev")).unwrap(), before);
}
