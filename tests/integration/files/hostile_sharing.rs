//! Folders and files others can write and temporary files left by
//! a killed write. CI runs as root, where modes do not stop reads:
//! each test sets the mode or owner it means and asserts it took effect, so
//! no check passes vacuously.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use lmi_testidp::TestServer;

use crate::support::hostile::{Hostile, Reply};
use crate::support::{mode, sandbox_for, Sandbox};

const NOBODY: u32 = 65534;

fn chmod(path: &Path, bits: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(bits)).unwrap();
    assert_eq!(mode(path), bits, "the mode took effect");
}

fn chown_nobody(path: &Path) {
    std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(path).unwrap().uid(), NOBODY);
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = tempfile::tempfile().unwrap();
    probe.metadata().unwrap().uid() == 0
}

#[test]
fn planted_metadata_in_a_shared_cache_folder_gets_no_secret() {
    let idp = TestServer::start_default().unwrap();
    let thief = Hostile::always(Reply::json(200, r#"{"access_token":"stolen"}"#));
    let shared = tempfile::tempdir().unwrap();
    let cache = shared.path().join("lmi");
    std::fs::create_dir_all(cache.join("tokens")).unwrap();
    let planted = serde_json::json!({
        "service_url": format!("{}/", idp.idp_url().trim_end_matches('/')),
        "metadata": {"issuer": idp.idp_url(), "token_endpoint": thief.url("/token")}
    });
    std::fs::write(cache.join("tokens/.dev.metadata.json"), planted.to_string()).unwrap();
    chmod(&cache, 0o777);
    let mut sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            idp.idp_url()
        ),
    );
    sb.var("LMI_CACHE_DIR", cache.display().to_string());
    let out = sb.run(&["auth", "token"]);
    out.assert_code(3)
        .assert_stderr_contains(&cache.display().to_string())
        .assert_stderr_contains(&format!("chmod go-w {}", cache.display()));
    assert_eq!(thief.hits(), 0, "the client secret went nowhere");
    assert_eq!(idp.token_requests(), 0);

    chmod(&cache, 0o700);
    chmod(&cache.join("tokens"), 0o777);
    sb.run(&["auth", "token"]).assert_code(3);
    assert_eq!(thief.hits(), 0);
}

#[test]
fn a_token_planted_by_another_user_is_not_handed_out() {
    if !is_root() {
        eprintln!("skipped: chown to another user needs root (CI runs as root)");
        return;
    }
    let srv = TestServer::start_default().unwrap();
    let sb = sandbox_for(&srv.token_url(), "");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            srv.token_url()
        ),
    );
    sb.run(&["auth", "token"]).assert_ok();
    let file = sb.token_file("dev");
    let mut token: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    token["access_token"] = "someone-elses-token".into();
    std::fs::write(&file, token.to_string()).unwrap();
    chmod(&file, 0o600);

    chown_nobody(&file);
    let out = sb.run(&["auth", "token", "-o", "text"]);
    out.assert_code(3)
        .assert_stderr_contains("uid 65534")
        .assert_stderr_contains(&format!("chown 0 {}", file.display()));
    assert!(!out.stdout.contains("someone-elses-token"));
    sb.run(&["auth", "status"]).assert_code(3);

    std::os::unix::fs::chown(&file, Some(0), Some(0)).unwrap();
    chown_nobody(&sb.tokens_dir());
    sb.run(&["auth", "token"]).assert_code(3);
    std::os::unix::fs::chown(sb.tokens_dir(), Some(0), Some(0)).unwrap();
    // Mode 0622 on the file itself.
    chmod(&file, 0o622);
    sb.run(&["auth", "token"])
        .assert_code(3)
        .assert_stderr_contains("chmod go-w");
    chmod(&file, 0o600);
    let ok = sb.run(&["auth", "token", "-o", "text"]);
    ok.assert_ok();
    assert_eq!(ok.stdout.trim(), "someone-elses-token", "trusted again");
}

#[test]
fn a_lock_symlink_creates_nothing_where_it_points() {
    let srv = TestServer::start_default().unwrap();
    let sb = sandbox_for(&srv.token_url(), "");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            srv.token_url()
        ),
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("created-by-lmi");
    std::fs::create_dir_all(sb.tokens_dir()).unwrap();
    chmod(&sb.home().join(".cache/lmi"), 0o700);
    chmod(&sb.tokens_dir(), 0o700);
    std::os::unix::fs::symlink(&target, sb.tokens_dir().join(".dev.lock")).unwrap();
    let out = sb.run(&["auth", "token"]);
    out.assert_code(3).assert_stderr_contains("symbolic link");
    assert!(
        !target.exists(),
        "nothing was created where the link points"
    );
    assert_eq!(srv.token_requests(), 0);
}

#[test]
fn shared_data_folders_are_refused_for_sessions_logs_and_plugins() {
    // The SSO file store under a world-writable sso/ folder.
    let sb = Sandbox::new();
    sb.write_main(
        "OAUTH_SSO_ISSUER=http://127.0.0.1:9\nOAUTH_SSO_CLIENT_ID=lmi-public\nOAUTH_SSO_TOKEN_STORE=file\n",
    );
    let sso = sb.data_dir().join("sso");
    std::fs::create_dir_all(&sso).unwrap();
    chmod(&sb.data_dir(), 0o700);
    chmod(&sso, 0o777);
    // `auth status` reports a store it cannot read as exit 4 (SPEC §3.1).
    sb.run(&["auth", "status"])
        .assert_code(4)
        .assert_stderr_contains("refusing to use")
        .assert_stderr_contains(&format!("chmod go-w {}", sso.display()));
    sb.run(&["login", "sso"])
        .assert_code(3)
        .assert_stderr_contains(&format!("chmod go-w {}", sso.display()));

    // The log: a planted lmi.log link in a shared data folder is not written.
    let sb = Sandbox::new();
    let victim = tempfile::NamedTempFile::new().unwrap();
    std::fs::create_dir_all(sb.data_dir()).unwrap();
    std::os::unix::fs::symlink(victim.path(), sb.log_file()).unwrap();
    chmod(&sb.data_dir(), 0o777);
    let out = sb.run(&["config", "show", "-vv"]);
    out.assert_ok().assert_stderr_contains("log file");
    assert_eq!(std::fs::metadata(victim.path()).unwrap().len(), 0);

    // plugins/bin that others can write: its plugins are not run.
    let sb = Sandbox::new();
    let bin = sb.data_dir().join("plugins/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let marker = sb.home().join("ran");
    let plugin = bin.join("lmi-planted");
    std::fs::write(&plugin, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    chmod(&plugin, 0o755);
    chmod(&sb.data_dir(), 0o700);
    chmod(&sb.data_dir().join("plugins"), 0o700);
    chmod(&bin, 0o777);
    let out = sb.run(&["planted"]);
    assert_ne!(out.code, 0);
    out.assert_stderr_contains("chmod go-w");
    assert!(!marker.exists(), "the planted plugin did not run");
    chmod(&bin, 0o700);
    sb.run(&["planted"]).assert_ok();
    assert!(marker.exists(), "and runs once the folder is private");
}

#[test]
fn temporary_token_files_are_cleaned_on_the_next_write_and_on_clear() {
    let srv = TestServer::start_default().unwrap();
    let sb = sandbox_for(&srv.token_url(), "");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            srv.token_url()
        ),
    );
    sb.run(&["auth", "token"]).assert_ok();
    // What a write killed between create and rename leaves behind.
    let stale = sb.tokens_dir().join(".tmp-Kill9d");
    std::fs::write(&stale, r#"{"access_token":"live-token"}"#).unwrap();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    sb.run(&["auth", "clear"]).assert_ok();
    sb.run(&["auth", "token"]).assert_ok();
    assert!(!stale.exists(), "gone after clear and the next write");

    let left = sb.tokens_dir().join(".tmp-dev.json~Kill9e");
    std::fs::write(&left, r#"{"access_token":"live-token"}"#).unwrap();
    sb.run(&["auth", "clear", "--all"]).assert_ok();
    assert!(!left.exists(), "auth clear --all removes even a fresh one");

    std::fs::write(&left, "x").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&left)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    sb.run(&["auth", "token"]).assert_ok();
    assert!(!left.exists(), "the next write removes a stale one");
}
