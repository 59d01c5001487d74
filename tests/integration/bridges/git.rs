//! `lmi credential git get|store|erase`: a real `git` cloning from a
//! loopback git server that accepts only tokens the test API accepts, the
//! helper's silence for origins it does not serve, erase then get, and the
//! helper protocol driven by hand for each bad input.

use std::path::Path;
use std::process::{Command, Stdio};

use super::{cached, cached_token, sandbox, server};
use crate::support::git_server::GitServer;
use crate::support::{dead_port, lmi_bin, Outcome, Sandbox};

/// Runs `git` with the sandbox as HOME, no system configuration and no
/// terminal prompts, in `dir`.
fn git(sb: &Sandbox, dir: &Path, args: &[&str]) -> Outcome {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", sb.home())
        .env("PATH", std::env::var("PATH").unwrap())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .expect("run git")
        .into()
}

/// `git config --global KEY VALUE` in the sandbox.
fn git_config(sb: &Sandbox, key: &str, value: &str) {
    git(sb, sb.home(), &["config", "--global", "--add", key, value]).assert_ok();
}

/// lmi as the credential helper, for every origin (lmi chooses).
fn use_lmi_helper(sb: &Sandbox, flags: &str) {
    git_config(
        sb,
        "credential.helper",
        &format!("!{} -e dev{flags} credential git", lmi_bin().display()),
    );
}

/// A git server whose repository `repo` is readable with a test API token,
/// and a sandbox that allows its `127.0.0.1` origin (not `localhost`).
fn setup() -> (lmi_testidp::TestServer, GitServer, Sandbox) {
    let srv = server();
    let git_srv = GitServer::start(&format!("{}/whoami", srv.api_url()));
    git_srv.create_repo("repo", "hello from the repo\n");
    let sb = sandbox(
        &srv,
        &format!("API_ALLOWED_ORIGINS=http://127.0.0.1:{}\n", git_srv.port),
    );
    (srv, git_srv, sb)
}

#[test]
fn git_clones_with_lmis_token_and_reuses_the_cached_one() {
    let (srv, git_srv, sb) = setup();
    use_lmi_helper(&sb, "");
    let out = git(
        &sb,
        sb.home(),
        &["clone", "-q", &git_srv.url("127.0.0.1", "repo"), "clone"],
    );
    out.assert_ok();
    assert_eq!(
        std::fs::read_to_string(sb.home().join("clone/README")).unwrap(),
        "hello from the repo\n"
    );
    let token = cached_token(&sb);
    let seen = git_srv.seen();
    assert!(!seen.is_empty());
    for s in &seen {
        assert_eq!(
            (s.username.as_str(), s.password.as_str(), s.accepted),
            ("oauth2", token.as_str(), true),
            "{s:?}"
        );
    }
    assert_eq!(srv.token_requests(), 1);

    // Another git command: the helper answers from lmi's cache.
    git(&sb, &sb.home().join("clone"), &["fetch", "-q"]).assert_ok();
    assert_eq!(srv.token_requests(), 1, "a cached token costs no request");
    assert!(git_srv.seen().len() > seen.len());
}

#[test]
fn git_origin_not_allowed_gets_nothing_and_git_asks_its_next_helper() {
    let (srv, git_srv, sb) = setup();
    use_lmi_helper(&sb, " -vv");
    git_config(
        &sb,
        "credential.helper",
        "!f() { echo username=next; echo password=from-next-helper; }; f",
    );
    // Same server, other origin: `localhost` is not in API_ALLOWED_ORIGINS.
    let out = git(
        &sb,
        sb.home(),
        &["clone", "-q", &git_srv.url("localhost", "repo"), "clone"],
    );
    assert_ne!(out.code, 0, "the next helper's password is refused");
    out.assert_stderr_contains("neither API_BASE_URL's origin nor in API_ALLOWED_ORIGINS");
    let seen = git_srv.seen();
    assert!(!seen.is_empty());
    for s in &seen {
        assert_eq!(
            (s.username.as_str(), s.password.as_str()),
            ("next", "from-next-helper")
        );
    }
    assert_eq!(
        srv.token_requests(),
        0,
        "no token for an origin lmi does not serve"
    );
    assert!(!sb.token_file("dev").exists());
}

#[test]
fn git_erase_discards_the_rejected_token_and_the_next_get_acquires_one() {
    let (srv, git_srv, sb) = setup();
    use_lmi_helper(&sb, "");
    git(
        &sb,
        sb.home(),
        &["clone", "-q", &git_srv.url("127.0.0.1", "repo"), "clone"],
    )
    .assert_ok();
    let first = cached_token(&sb);
    let clone = sb.home().join("clone");

    // The server stops accepting it: git says `erase` with that password.
    srv.invalidate_all_tokens();
    let out = git(&sb, &clone, &["fetch", "-q"]);
    assert_ne!(out.code, 0);
    assert!(
        !sb.token_file("dev").exists(),
        "the rejected token is discarded"
    );
    assert_eq!(srv.token_requests(), 1);

    git(&sb, &clone, &["fetch", "-q"]).assert_ok();
    assert_eq!(srv.token_requests(), 2, "the next get acquires a new token");
    let second = cached_token(&sb);
    assert_ne!(first, second);
    let last = git_srv.seen().pop().unwrap();
    assert_eq!(
        (last.password.as_str(), last.accepted),
        (second.as_str(), true)
    );
}

/// `lmi credential git ACTION` with `input` on stdin.
fn helper(sb: &Sandbox, action: &str, input: &str, flags: &[&str]) -> Outcome {
    let mut args = flags.to_vec();
    args.extend(["credential", "git", action]);
    sb.run_with_stdin(&args, input.as_bytes())
}

fn host_of(url: &str) -> &str {
    url.strip_prefix("http://").unwrap()
}

#[test]
fn credential_git_get_answers_name_token_and_expiry() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let input = format!(
        "capability[]=authtype\nprotocol=http\nhost={}\npath=some/repo.git\nunknown=x\n\n",
        host_of(srv.api_url())
    );
    let out = helper(&sb, "get", &input, &[]);
    out.assert_ok();
    let cache = cached(&sb);
    assert_eq!(
        out.stdout,
        format!(
            "username=oauth2\npassword={}\npassword_expiry_utc={}\n",
            cache["access_token"].as_str().unwrap(),
            cache["expires_at"].as_i64().unwrap()
        )
    );
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    // At DEBUG, stderr says what happened, never the token.
    let out = helper(&sb, "get", &input, &["-vv"]);
    out.assert_ok().assert_stderr_contains("cache hit");
    assert!(
        !out.stderr.contains(cache["access_token"].as_str().unwrap()),
        "{}",
        out.stderr
    );

    // CREDENTIAL_USERNAME, and a request ended by EOF instead of a blank line.
    let input = format!("protocol=http\nhost={}", host_of(srv.api_url()));
    let out = helper(
        &sb,
        "get",
        &input,
        &["--set", "CREDENTIAL_USERNAME=x-access-token"],
    );
    out.assert_ok();
    assert!(
        out.stdout.starts_with("username=x-access-token\npassword="),
        "{}",
        out.stdout
    );
    assert_eq!(srv.token_requests(), 1);

    // `store` does nothing: no output, no request, the cache unchanged.
    let before = cached(&sb);
    let out = helper(
        &sb,
        "store",
        &format!(
            "protocol=http\nhost={}\nusername=u\npassword=other\n\n",
            host_of(srv.api_url())
        ),
        &[],
    );
    out.assert_ok();
    assert!(out.stdout.is_empty());
    assert_eq!(cached(&sb), before);
    assert_eq!(srv.token_requests(), 1);
}

#[test]
fn credential_git_erase_compares_before_it_discards() {
    let srv = server();
    let sb = sandbox(&srv, "");
    let host = host_of(srv.api_url()).to_owned();
    helper(&sb, "get", &format!("protocol=http\nhost={host}\n\n"), &[]).assert_ok();
    let token = cached_token(&sb);

    // Another token (one git got elsewhere, or an older one): kept.
    let out = helper(
        &sb,
        "erase",
        &format!("protocol=http\nhost={host}\npassword=not-it\n\n"),
        &[],
    );
    out.assert_ok();
    assert_eq!(cached_token(&sb), token);
    // No password at all: kept.
    helper(
        &sb,
        "erase",
        &format!("protocol=http\nhost={host}\n\n"),
        &[],
    )
    .assert_ok();
    assert_eq!(cached_token(&sb), token);
    // The cached token: discarded, and the next get acquires a new one.
    let out = helper(
        &sb,
        "erase",
        &format!("protocol=http\nhost={host}\nusername=oauth2\npassword={token}\n\n"),
        &[],
    );
    out.assert_ok();
    assert!(out.stdout.is_empty());
    assert!(!sb.token_file("dev").exists());
    assert_eq!(srv.token_requests(), 1);
    helper(&sb, "get", &format!("protocol=http\nhost={host}\n\n"), &[]).assert_ok();
    assert_eq!(srv.token_requests(), 2);
    assert_ne!(cached_token(&sb), token);
}

#[test]
fn credential_git_answers_nothing_for_incomplete_or_insecure_requests() {
    let srv = server();
    let sb = sandbox(&srv, "API_ALLOWED_ORIGINS=https://git.example.test\n");
    let host = host_of(srv.api_url()).to_owned();
    for (input, why) in [
        (format!("host={host}\n\n"), "no protocol"),
        ("protocol=http\n\n".to_owned(), "no host"),
        (
            "protocol=http\nhost=git.example.test\n\n".to_owned(),
            "plain http on a non-loopback host",
        ),
        (
            "protocol=https\nhost=elsewhere.example.test\n\n".to_owned(),
            "neither API_BASE_URL's origin nor in API_ALLOWED_ORIGINS",
        ),
        (
            format!(
                "protocol=http\nhost=localhost:{}\n\n",
                srv.api_url().rsplit(':').next().unwrap()
            ),
            "neither API_BASE_URL's origin nor in API_ALLOWED_ORIGINS",
        ),
    ] {
        for action in ["get", "erase"] {
            let out = helper(&sb, action, &input, &["-vv"]);
            out.assert_ok().assert_stderr_contains(why);
            assert!(out.stdout.is_empty(), "{input:?}: {}", out.stdout);
            assert!(out.error_line().is_none(), "{}", out.stderr);
        }
    }
    assert_eq!(srv.token_requests(), 0);
}

#[test]
fn credential_git_with_a_broken_environment_prints_no_credential() {
    let input = "protocol=https\nhost=api.example.test\n\n";
    // IdP down: authentication error.
    let down = dead_port();
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL=http://127.0.0.1:{}/token\nOAUTH_CLIENT_ID=c\nOAUTH_CLIENT_SECRET=s\nAPI_BASE_URL=https://api.example.test\n",
            down.port
        ),
    );
    let out = helper(&sb, "get", input, &[]);
    out.assert_code(4);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.error_line().is_some(), "{}", out.stderr);

    // Missing secret: configuration error naming it.
    let srv = server();
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nAPI_BASE_URL=https://api.example.test\n",
            srv.token_url()
        ),
    );
    let out = helper(&sb, "get", input, &[]);
    out.assert_code(3)
        .assert_stderr_contains("OAUTH_CLIENT_SECRET");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(srv.token_requests(), 0);
}
