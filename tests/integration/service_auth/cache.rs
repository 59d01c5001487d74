//! The token cache: cold and warm, what makes a cached token stale or a
//! miss (expiry, skew, other settings, another service URL), healing a
//! corrupt cache, an unwritable one, its folder, `auth clear` and
//! `auth status`.

use lmi_testidp::{Client, Options, TestServer, User};

use super::{sandbox, server, token_json};
use crate::support::{mode, Sandbox};

#[test]
fn service_cold_then_warm_cache() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let first = token_json(&sb, &[]);
    assert_eq!(first["source"], "acquired");
    assert_eq!(first["environment"], "dev");
    assert_eq!(first["token_type"], "Bearer");
    assert!(first["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(srv.token_requests(), 1);

    let second = token_json(&sb, &[]);
    assert_eq!(second["source"], "cache");
    assert_eq!(second["access_token"], first["access_token"]);
    assert_eq!(
        srv.token_requests(),
        1,
        "a warm cache makes no token request"
    );

    let text = sb.run(&["auth", "token", "-o", "text"]);
    assert_eq!(
        text.stdout.trim_end(),
        first["access_token"].as_str().unwrap()
    );

    // The file: 0600 in 0700 folders, with the documented fields.
    let file = sb.token_file("dev");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&sb.tokens_dir()), 0o700);
    assert_eq!(mode(&sb.home().join(".cache/lmi")), 0o700);
    let cached: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for field in [
        "access_token",
        "token_type",
        "expires_at",
        "obtained_at",
        "token_url",
        "client_id",
        "grant_type",
    ] {
        assert!(cached.get(field).is_some(), "missing {field}: {cached}");
    }
    assert_eq!(cached["client_id"], "lmi-client");
    assert_eq!(cached["grant_type"], "client_credentials");
    assert!(cached["expires_at"].as_i64().unwrap() > cached["obtained_at"].as_i64().unwrap());
}

#[test]
fn service_jwt_exp_is_used_when_expires_in_is_absent() {
    let srv = server();
    srv.set(|b| {
        b.jwt_access_tokens = true;
        b.token_lifetime = None;
    });
    let sb = sandbox(&srv, "");
    let out = token_json(&sb, &[]);
    assert!(out["expires_at"].is_string(), "{out}");
    let cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
    let exp = cached["expires_at"].as_i64().unwrap();
    let obtained = cached["obtained_at"].as_i64().unwrap();
    assert!((3500..=3700).contains(&(exp - obtained)), "{cached}");

    // Opaque token without a lifetime: expires_at null, and it stays valid.
    let srv = server();
    srv.set(|b| b.token_lifetime = None);
    let sb = sandbox(&srv, "");
    assert!(token_json(&sb, &[])["expires_at"].is_null());
    assert_eq!(token_json(&sb, &[])["source"], "cache");
}

#[test]
fn service_token_for_other_settings_is_a_miss() {
    let srv = TestServer::start(Options {
        clients: vec![
            Client::confidential("lmi-client", "lmi-secret"),
            Client::confidential("second-client", "second-secret"),
        ],
        users: vec![
            User::new("alice", "wonderland", "alice@example.test"),
            User::new("bob", "builder", "bob@example.test"),
        ],
        ..Options::default()
    })
    .unwrap();
    let port = srv.idp_url().rsplit(':').next().unwrap().to_owned();
    let base = format!(
        "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
        srv.token_url()
    );
    let password = |user: &str, pass: &str| {
        format!("{base}OAUTH_GRANT_TYPE=password\nOAUTH_USERNAME={user}\nOAUTH_PASSWORD={pass}\n")
    };
    // Each variant differs from the one before in one setting the token was
    // issued for; (field in the cache file, value it must then hold).
    let variants: Vec<(&str, String, &str, String)> = vec![
        ("base", format!("{base}OAUTH_SCOPES=read\n"), "scopes", "read".into()),
        ("scopes", format!("{base}OAUTH_SCOPES=write\n"), "scopes", "write".into()),
        (
            "audience",
            format!("{base}OAUTH_SCOPES=write\nOAUTH_AUDIENCE=other\n"),
            "audience",
            "other".into(),
        ),
        (
            "client_id",
            format!(
                "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=second-client\nOAUTH_CLIENT_SECRET=second-secret\n",
                srv.token_url()
            ),
            "client_id",
            "second-client".into(),
        ),
        // The same endpoint by another name; plain http is allowed because
        // localhost is a loopback host.
        (
            "token_url",
            format!(
                "OAUTH_TOKEN_URL=http://localhost:{port}/token\nOAUTH_CLIENT_ID=second-client\nOAUTH_CLIENT_SECRET=second-secret\n"
            ),
            "token_url",
            format!("http://localhost:{port}/token"),
        ),
        ("grant_type", password("alice", "wonderland"), "grant_type", "password".into()),
        ("username", password("bob", "builder"), "username", "bob".into()),
    ];
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    for (n, (what, env, field, expected)) in variants.into_iter().enumerate() {
        sb.write_env("dev", &env);
        assert_eq!(token_json(&sb, &[])["source"], "acquired", "{what}");
        assert_eq!(srv.token_requests(), n + 1, "{what}");
        let cached: serde_json::Value =
            serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
        assert_eq!(cached[field], expected.as_str(), "{what}: {cached}");
        // The new token is then a hit for these settings.
        assert_eq!(token_json(&sb, &[])["source"], "cache", "{what}");
        assert_eq!(srv.token_requests(), n + 1, "{what}");
    }
}

#[test]
fn service_expiry_skew_decides_when_a_token_is_stale() {
    let srv = server();
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = sandbox(&srv, "TOKEN_EXPIRY_SKEW=10\n");
    assert_eq!(token_json(&sb, &[])["source"], "acquired");
    // Obtained long ago, so the cap at half the lifetime does not apply.
    crate::support::backdate(&sb.token_file("dev"));
    // 30 s left, 10 s skew: still valid.
    assert_eq!(token_json(&sb, &[])["source"], "cache");
    assert_eq!(srv.token_requests(), 1);
    // 30 s left, 60 s skew: stale.
    assert_eq!(
        token_json(&sb, &["--set", "TOKEN_EXPIRY_SKEW=60"])["source"],
        "acquired"
    );
    assert_eq!(srv.token_requests(), 2);
}

#[test]
fn service_changed_service_url_is_a_miss() {
    let first = server();
    let second = server();
    let sb = Sandbox::new();
    let env = |srv: &TestServer| {
        format!(
            "OAUTH_SERVICE_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            srv.idp_url()
        )
    };
    sb.write_env("dev", &env(&first));
    sb.run(&["-e", "dev", "auth", "token"]).assert_ok();
    assert_eq!(token_json(&sb, &["-e", "dev"])["source"], "cache");
    // Another OAuth service: its token must not be the first one's.
    sb.write_env("dev", &env(&second));
    assert_eq!(token_json(&sb, &["-e", "dev"])["source"], "acquired");
    assert_eq!((first.token_requests(), second.token_requests()), (1, 1));
}

#[test]
fn service_corrupt_cache_heals() {
    let srv = server();
    let contents: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        (
            "truncated",
            b"{\"access_token\":\"abc\",\"token_ty".to_vec(),
        ),
        ("binary", vec![0, 159, 146, 150, 255, 1, 2]),
        ("wrong shape", b"{\"hello\":[1,2,3]}".to_vec()),
        ("array", b"[]".to_vec()),
    ];
    for (what, bytes) in contents {
        let sb = sandbox(&srv, "");
        std::fs::create_dir_all(sb.tokens_dir()).unwrap();
        std::fs::write(sb.token_file("dev"), &bytes).unwrap();
        let out = sb.run(&["auth", "token"]);
        out.assert_ok()
            .assert_stderr_contains("warning: ignoring the token cache");
        assert_eq!(out.json()["source"], "acquired", "{what}");
        // Healed: the next run is a clean hit.
        let again = sb.run(&["auth", "token"]);
        again.assert_ok();
        assert_eq!(again.json()["source"], "cache", "{what}");
        assert!(again.stderr.is_empty(), "{what}: {}", again.stderr);
    }
    // A directory where the file belongs.
    let sb = sandbox(&srv, "");
    std::fs::create_dir_all(sb.token_file("dev").join("junk")).unwrap();
    sb.run(&["auth", "token"])
        .assert_ok()
        .assert_stderr_contains("warning:");
    assert!(sb.token_file("dev").is_file());
}

#[test]
fn service_unwritable_cache_still_prints_the_token() {
    let srv = server();
    let mut sb = sandbox(&srv, "");
    // A regular file where the cache folder should be: nothing can be created
    // below it, even as root.
    let blocker = sb.home().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    sb.var("LMI_CACHE_DIR", blocker.display().to_string());
    let out = sb.run(&["auth", "token"]);
    out.assert_ok()
        .assert_stderr_contains("could not cache the token");
    assert_eq!(out.json()["source"], "acquired");
}

#[test]
fn service_cache_folder_overrides() {
    let srv = server();
    let mut sb = sandbox(&srv, "");
    let xdg = sb.home().join("xdg-cache");
    sb.var("XDG_CACHE_HOME", xdg.display().to_string());
    assert_eq!(token_json(&sb, &[])["source"], "acquired");
    let file = xdg.join("lmi/tokens/dev.json");
    assert_eq!(mode(&file), 0o600);
    assert!(!sb.token_file("dev").exists());
    assert_eq!(token_json(&sb, &[])["source"], "cache");

    // LMI_CACHE_DIR names the folder holding tokens/ and wins over XDG.
    let custom = sb.home().join("custom-cache");
    sb.var("LMI_CACHE_DIR", custom.display().to_string());
    assert_eq!(token_json(&sb, &[])["source"], "acquired");
    let file = custom.join("tokens/dev.json");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&custom.join("tokens")), 0o700);
    assert_eq!(token_json(&sb, &[])["source"], "cache");
    assert_eq!(srv.token_requests(), 2);
}

#[test]
fn service_clear_and_status() {
    let srv = server();
    let sb = sandbox(&srv, "");
    sb.write_env(
        "qa",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            srv.token_url()
        ),
    );
    sb.run(&["auth", "token"]).assert_ok();
    sb.run(&["-e", "qa", "auth", "token"]).assert_ok();
    assert_eq!(srv.token_requests(), 2);
    srv.reset_counts();

    let status = sb.run(&["auth", "status"]);
    status.assert_ok();
    let status = status.json();
    assert_eq!(status["environment"]["name"], "dev");
    assert_eq!(status["environment"]["token_cached"], true);
    assert_eq!(status["environment"]["grant_type"], "client_credentials");
    assert_eq!(status["sso"]["configured"], false);

    let cleared = sb.run(&["auth", "clear"]);
    cleared.assert_ok();
    assert_eq!(cleared.json()["cleared"], serde_json::json!(["dev"]));
    assert!(!sb.token_file("dev").exists() && sb.token_file("qa").exists());
    assert_eq!(
        sb.run(&["auth", "status"]).json()["environment"]["token_cached"],
        false
    );
    // `auth status` (and `auth clear`) work without the network: no server
    // saw a request.
    assert_eq!(
        (
            srv.token_requests(),
            srv.discovery_requests(),
            srv.api_requests(),
            srv.other_requests()
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(
        sb.run(&["auth", "clear", "--all"]).json()["cleared"],
        serde_json::json!(["qa"])
    );
    assert_eq!(
        sb.run(&["auth", "clear", "--all"]).json()["cleared"],
        serde_json::json!([])
    );
}

#[test]
fn service_status_counts_only_a_usable_token() {
    let srv = server();
    let sb = sandbox(&srv, "");
    sb.run(&["auth", "token", "--oauth-scopes", "read"])
        .assert_ok();
    // Cached, but for other scopes than the configuration's: not usable.
    assert_eq!(
        sb.run(&["auth", "status"]).json()["environment"]["token_cached"],
        false
    );
    assert_eq!(
        sb.run(&["auth", "status", "--oauth-scopes", "read"]).json()["environment"]["token_cached"],
        true
    );
    assert_eq!(srv.token_requests(), 1);
}

#[test]
fn auth_clear_removes_only_its_own_environments_temporary_files() {
    use std::io::{BufRead, BufReader, Write};
    let srv = server();
    let sb = sandbox(&srv, "");
    for env in ["a", "b"] {
        sb.write_env(
            env,
            &format!(
                "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
                srv.token_url()
            ),
        );
        sb.run(&["-e", env, "auth", "token"]).assert_ok();
    }
    let dir = sb.tokens_dir();
    // Writes of environment a in progress (fresh temporary files)...
    let a_token = dir.join(".tmp-a.json~Live01");
    let a_meta = dir.join(".tmp-.a.metadata.json~Live02");
    // ...and one a killed write of b left behind.
    let b_left = dir.join(".tmp-b.json~Dead01");
    for file in [&a_token, &a_meta, &b_left] {
        std::fs::write(file, r#"{"access_token":"live-token"}"#).unwrap();
    }
    let out = sb.run(&["-e", "b", "auth", "clear"]);
    out.assert_ok();
    assert_eq!(out.json()["cleared"], serde_json::json!(["b"]));
    assert!(
        a_token.exists() && a_meta.exists(),
        "a's writes in progress survive"
    );
    assert!(!b_left.exists(), "b's own leftover is removed");
    assert!(sb.token_file("a").exists());

    // While another run holds b's lock (it is writing b's token), even b's
    // fresh temporary file is left alone.
    let lock = dir.join(".b.lock");
    let mut holder = std::process::Command::new("flock")
        .args(["-x", lock.to_str().unwrap(), "sh", "-c", "echo locked; cat"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), "locked", "flock holds b's lock");
    let b_writing = dir.join(".tmp-b.json~Live03");
    std::fs::write(&b_writing, "{}").unwrap();
    let out = sb.run(&["-e", "b", "auth", "clear"]);
    out.assert_ok();
    assert!(
        b_writing.exists(),
        "a write in progress under the lock survives"
    );
    // Closing its stdin ends `cat`, and the lock with it.
    holder.stdin.take().unwrap().write_all(b"").unwrap();
    assert!(holder.wait().unwrap().success());
    sb.run(&["-e", "b", "auth", "clear"]).assert_ok();
    assert!(!b_writing.exists(), "removed once no run holds the lock");
    assert!(a_token.exists());
}

#[test]
fn a_fifo_where_the_token_cache_lock_goes_is_refused_at_once() {
    use std::time::{Duration, Instant};
    let srv = server();
    let sb = sandbox(&srv, "");
    std::fs::create_dir_all(sb.tokens_dir()).unwrap();
    let lock = sb.tokens_dir().join(".dev.lock");
    assert!(std::process::Command::new("mkfifo")
        .arg(&lock)
        .status()
        .unwrap()
        .success());
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&lock)
        .unwrap()
        .file_type()
        .is_fifo());
    let out_file = sb.home().join("out");
    let err_file = sb.home().join("err");
    let mut child = sb
        .cmd(&["auth", "token"])
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = crate::support::exit_within(
        &mut child,
        Duration::from_secs(8),
        "lmi auth token blocked on the FIFO",
    );
    let stderr = std::fs::read_to_string(&err_file).unwrap();
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(".dev.lock") && stderr.contains("FIFO"),
        "{stderr}"
    );
    assert!(std::fs::read(&out_file).unwrap().is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once"
    );
    assert_eq!(srv.token_requests(), 0, "no token request without the lock");
}
