//! `lmi credential kubectl [--sso]`: a real `kubectl` whose kubeconfig
//! `exec`s lmi, against the test API behind an https relay (client-go hands
//! exec credentials only to https servers) whose certificate the test CA
//! signed, given to kubectl as `certificate-authority`; the ExecCredential
//! for both API versions; the SSO session's ID token; and each bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lmi_testidp::TestServer;

use super::{cached, cached_token, rfc3339, sandbox, server};
use crate::support::kubectl::{kubectl_bin, kubectl_version, TlsRelay};
use crate::support::tls_server::TlsServer;
use crate::support::{dead_port, lmi_bin, workspace_bin, Outcome, Sandbox};

const V1: &str = "client.authentication.k8s.io/v1";
const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// Writes a kubeconfig whose cluster is `server` (trusting the test CA)
/// and whose users `lmi` (v1) and `lmi-beta` (v1beta1) exec
/// `lmi -e dev credential kubectl ARGS...`.
fn kubeconfig(sb: &Sandbox, server: &str, args: &[&str]) -> PathBuf {
    let path = sb.home().join(".kube/config");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut all = vec!["-e", "dev", "credential", "kubectl"];
    all.extend_from_slice(args);
    let args = serde_json::to_string(&all).unwrap();
    let user = |name: &str, version: &str| {
        format!(
            "- name: {name}\n  user:\n    exec:\n      apiVersion: {version}\n      command: {}\n      args: {args}\n      interactiveMode: Never\n",
            lmi_bin().display()
        )
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n    certificate-authority: {}\nusers:\n{}{}contexts:\n- name: test\n  context:\n    cluster: test\n    user: lmi\ncurrent-context: test\n",
        TlsServer::ca_file().display(),
        user("lmi", V1),
        user("lmi-beta", V1BETA1),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs kubectl with the sandbox as HOME (lmi, run by kubectl, inherits it).
fn kubectl(sb: &Sandbox, config: &Path, args: &[&str]) -> Outcome {
    Command::new(kubectl_bin())
        .args(args)
        .env_clear()
        .env("HOME", sb.home())
        .env("PATH", std::env::var("PATH").unwrap())
        .env("KUBECONFIG", config)
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl")
        .into()
}

#[test]
fn kubectl_authenticates_with_lmis_token_and_two_calls_make_one_token_request() {
    let srv = server();
    let relay = TlsRelay::start(srv.api_url());
    let sb = sandbox(&srv, "");
    let config = kubeconfig(&sb, &relay.url(), &[]);
    eprintln!("kubectl {}", kubectl_version());

    let first = kubectl(&sb, &config, &["get", "--raw", "/whoami"]);
    first.assert_ok();
    let answer: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(answer["client_id"], "lmi-client");
    let token = cached_token(&sb);
    let seen = srv.last_api_request().unwrap();
    assert_eq!(
        seen.authorization(),
        Some(format!("Bearer {token}").as_str())
    );

    // A second kubectl process runs lmi again: the cached token answers.
    kubectl(&sb, &config, &["get", "--raw", "/whoami"]).assert_ok();
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.api_requests(), 2);

    // The v1beta1 user: kubectl refuses an answer in another version.
    let beta = kubectl(
        &sb,
        &config,
        &["--user", "lmi-beta", "get", "--raw", "/whoami"],
    );
    beta.assert_ok();
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(
        srv.last_api_request().unwrap().authorization(),
        Some(format!("Bearer {token}").as_str())
    );
}

#[test]
fn kubectl_with_a_broken_environment_sends_nothing() {
    let srv = server();
    let relay = TlsRelay::start(srv.api_url());
    let down = dead_port();
    let sb = sandbox(
        &srv,
        &format!("OAUTH_TOKEN_URL=http://127.0.0.1:{}/token\n", down.port),
    );
    let config = kubeconfig(&sb, &relay.url(), &[]);
    let out = kubectl(&sb, &config, &["get", "--raw", "/whoami"]);
    assert_ne!(out.code, 0, "{out:?}");
    // kubectl reports lmi's exit code and passes its error line through.
    out.assert_stderr_contains("error: ")
        .assert_stderr_contains("exit code 4");
    assert_eq!(srv.api_requests(), 0, "no request without a credential");
}

/// `lmi credential kubectl ARGS...` run by hand, `KUBERNETES_EXEC_INFO` as given.
fn credential(sb: &Sandbox, exec_info: Option<&str>, args: &[&str]) -> Outcome {
    let mut all = vec!["credential", "kubectl"];
    all.extend_from_slice(args);
    let mut cmd = sb.cmd(&all);
    if let Some(info) = exec_info {
        cmd.env("KUBERNETES_EXEC_INFO", info);
    }
    cmd.output().expect("run lmi").into()
}

#[test]
fn credential_kubectl_answers_in_the_version_asked_for() {
    let srv = server();
    let sb = sandbox(&srv, "");
    // By hand: v1, with the expiry.
    let out = credential(&sb, None, &[]);
    out.assert_ok();
    let cache = cached(&sb);
    assert_eq!(
        out.json(),
        serde_json::json!({
            "apiVersion": V1,
            "kind": "ExecCredential",
            "status": {
                "token": cache["access_token"],
                "expirationTimestamp": rfc3339(cache["expires_at"].as_i64().unwrap()),
            }
        })
    );
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "one JSON line: {}",
        out.stdout
    );
    let quiet = credential(&sb, None, &["-vv"]);
    quiet.assert_ok().assert_stderr_contains("cache hit");
    assert!(
        !quiet
            .stderr
            .contains(cache["access_token"].as_str().unwrap()),
        "{}",
        quiet.stderr
    );
    let beta = format!(
        r#"{{"kind":"ExecCredential","apiVersion":"{V1BETA1}","spec":{{"interactive":false}}}}"#
    );
    let out = credential(&sb, Some(&beta), &[]);
    out.assert_ok();
    assert_eq!(out.json()["apiVersion"], V1BETA1);
    assert_eq!(srv.token_requests(), 1);

    // Unknown expiry: no expirationTimestamp at all.
    srv.set(|b| b.token_lifetime = None);
    sb.run(&["auth", "clear"]).assert_ok();
    let out = credential(&sb, Some(&format!(r#"{{"apiVersion":"{V1}"}}"#)), &[]);
    out.assert_ok();
    let json = out.json();
    assert_eq!(json["status"]["token"], cached_token(&sb).as_str());
    assert!(
        json["status"].get("expirationTimestamp").is_none(),
        "{json}"
    );
}

#[test]
fn credential_kubectl_refuses_exec_info_it_cannot_answer() {
    let srv = server();
    let sb = sandbox(&srv, "");
    for info in [
        "not json",
        r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1","kind":"ExecCredential"}"#,
        r#"{"kind":"ExecCredential"}"#,
    ] {
        let out = credential(&sb, Some(info), &[]);
        out.assert_code(2)
            .assert_stderr_contains("KUBERNETES_EXEC_INFO");
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    assert_eq!(
        srv.token_requests(),
        0,
        "nothing is asked for a request lmi cannot answer"
    );
}

#[test]
fn credential_kubectl_with_a_broken_environment_prints_nothing() {
    let down = dead_port();
    let srv = server();
    let sb = sandbox(
        &srv,
        &format!("OAUTH_TOKEN_URL=http://127.0.0.1:{}/token\n", down.port),
    );
    let out = credential(&sb, None, &[]);
    out.assert_code(4);
    assert!(
        out.stdout.is_empty() && out.error_line().is_some(),
        "{out:?}"
    );

    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\n",
            srv.token_url()
        ),
    );
    let out = credential(&sb, None, &[]);
    out.assert_code(3)
        .assert_stderr_contains("OAUTH_CLIENT_SECRET");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(srv.token_requests(), 0);
}

// ------------------------------------------------------------------ --sso

/// A sandbox with SSO against the test IdP (file store, scripted browser).
fn sso_sandbox(srv: &TestServer, extra: &str) -> Sandbox {
    let mut sb = sandbox(srv, "");
    sb.write_main(&format!(
        "DEFAULT_ENVIRONMENT=dev\nOAUTH_SSO_ISSUER={}\nOAUTH_SSO_CLIENT_ID=lmi-public\nOAUTH_SSO_TOKEN_STORE=file\n{extra}",
        srv.idp_url()
    ));
    sb.var(
        "BROWSER",
        format!("{} browser", workspace_bin("testidp").display()),
    );
    sb
}

/// The stored session's ID token.
fn stored_id_token(sb: &Sandbox) -> String {
    let dir = sb.data_dir().join("sso");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .expect("a session file");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    json["id_token"].as_str().expect("an ID token").to_owned()
}

/// The `exp` claim of a JWT, decoded by python3 rather than by lmi.
fn jwt_exp(jwt: &str) -> i64 {
    let out = Command::new("python3")
        .args([
            "-c",
            "import base64, json, sys\np = sys.argv[1].split('.')[1]\nprint(json.loads(base64.urlsafe_b64decode(p + '=' * (-len(p) % 4)))['exp'])",
            jwt,
        ])
        .output()
        .expect("python3");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .expect("exp")
}

#[test]
fn credential_kubectl_sso_gives_the_session_id_token() {
    let srv = server();
    let sb = sso_sandbox(&srv, "");
    // No session yet: authentication error with the login hint.
    let out = credential(&sb, None, &["--sso"]);
    out.assert_code(4)
        .assert_stderr_contains("not logged in")
        .assert_stderr_contains("hint: run: lmi login sso");
    assert!(out.stdout.is_empty());

    sb.run(&["login", "sso"]).assert_ok();
    srv.reset_counts();
    let out = credential(&sb, None, &["--sso"]);
    out.assert_ok();
    let id_token = stored_id_token(&sb);
    let json = out.json();
    assert_eq!(json["status"]["token"], id_token.as_str());
    assert_eq!(
        json["status"]["expirationTimestamp"],
        rfc3339(jwt_exp(&id_token))
    );
    assert_eq!(srv.token_requests(), 0, "a valid session costs no request");
}

#[test]
fn credential_kubectl_sso_refreshes_an_expired_session_silently() {
    let srv = server();
    // Tokens shorter than the skew: stale as soon as they are stored.
    srv.set(|b| b.token_lifetime = Some(30));
    let sb = sso_sandbox(&srv, "TOKEN_EXPIRY_SKEW=60\n");
    sb.run(&["login", "sso"]).assert_ok();
    let before = stored_id_token(&sb);
    srv.set(|b| b.token_lifetime = Some(3600));
    srv.reset_counts();

    let out = credential(&sb, None, &["--sso"]);
    out.assert_ok();
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(srv.authorize_requests(), 0, "no browser");
    let after = stored_id_token(&sb);
    assert_ne!(after, before);
    assert_eq!(out.json()["status"]["token"], after.as_str());

    // A refresh that fails: the login hint, nothing on stdout.
    srv.set(|b| b.token_lifetime = Some(30));
    sb.run(&["login", "sso", "--force"]).assert_ok();
    srv.set(|b| b.refresh_failure = true);
    let out = credential(&sb, None, &["--sso"]);
    out.assert_code(4)
        .assert_stderr_contains("hint: run: lmi login sso");
    assert!(out.stdout.is_empty());
}
