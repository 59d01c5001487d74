//! `lmi env add` and `env remove` (SPEC §2.1, §3).

use crate::support::files_below;
use crate::support::{mode, Sandbox};

#[test]
fn env_add_creates_a_private_file_once() {
    let sb = Sandbox::new();
    let out = sb.run(&[
        "env",
        "add",
        "dev",
        "OAUTH_CLIENT_ID=c",
        "OAUTH_SCOPES=read write",
    ]);
    out.assert_ok();
    let json = out.json();
    assert_eq!(json["name"], "dev");
    assert_eq!(json["path"], sb.env_file("dev").display().to_string());
    assert_eq!(mode(&sb.env_file("dev")), 0o600);
    assert_eq!(mode(&sb.config_dir().join("env")), 0o700);
    assert_eq!(mode(&sb.config_dir()), 0o700);
    let shown = sb.run(&["-e", "dev", "config", "show"]).json();
    assert_eq!(shown["values"]["OAUTH_SCOPES"]["value"], "read write");
    assert_eq!(sb.run(&["env", "list"]).json()[0]["name"], "dev");

    let before = std::fs::read(sb.env_file("dev")).unwrap();
    let out = sb.run(&["env", "add", "dev", "OAUTH_CLIENT_ID=other"]);
    out.assert_code(2).assert_stderr_contains("already exists");
    assert_eq!(std::fs::read(sb.env_file("dev")).unwrap(), before);
}

#[test]
fn env_add_bad_name_is_exit_3_and_creates_nothing() {
    let sb = Sandbox::new();
    for name in [
        "../escape",
        "/tmp/lmi-abs",
        ".hidden",
        "",
        "a b",
        &"x".repeat(65),
    ] {
        let out = sb.run(&["env", "add", name, "OAUTH_CLIENT_ID=c"]);
        out.assert_code(3)
            .assert_stderr_contains("invalid environment name");
    }
    let out = sb.run(&["env", "add", "ok", "BROKEN"]);
    out.assert_code(2);
    let written: Vec<_> = files_below(sb.home())
        .into_iter()
        .filter(|p| p.file_name().is_none_or(|n| n != "lmi.log"))
        .collect();
    assert!(written.is_empty(), "{written:?}");
    assert!(!std::path::Path::new("/tmp/lmi-abs.env").exists());
}

#[test]
fn env_remove_deletes_the_file_token_and_metadata() {
    let srv = lmi_testidp::TestServer::start_default().unwrap();
    let sb = Sandbox::new();
    sb.run(&[
        "env",
        "add",
        "dev",
        &format!("OAUTH_SERVICE_URL={}", srv.idp_url()),
        "OAUTH_CLIENT_ID=lmi-client",
        "OAUTH_CLIENT_SECRET=lmi-secret",
    ])
    .assert_ok();
    sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
    let tokens = files_below(&sb.tokens_dir());
    assert!(tokens.iter().any(|p| p.ends_with("dev.json")), "{tokens:?}");
    assert!(
        tokens.iter().any(|p| p.ends_with(".dev.metadata.json")),
        "{tokens:?}"
    );

    let out = sb.run(&["env", "remove", "dev"]);
    out.assert_ok();
    assert_eq!(out.json()["removed"], "dev");
    assert!(!sb.env_file("dev").exists());
    let left: Vec<_> = files_below(&sb.tokens_dir())
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(files_below(&sb.config_dir().join("env")).is_empty());

    sb.run(&["env", "remove", "dev"])
        .assert_code(3)
        .assert_stderr_contains("does not exist");
}
