//! `lmi credential kubectl [--sso]`: a real `kubectl` whose kubeconfig
//! `exec`s lmi, against the test API behind an https relay (client-go hands
//! exec credentials only to https servers) whose certificate the test CA
//! signed, given to kubectl as `certificate-authority`; the ExecCredential
//! for both API versions; the SSO session's ID token; each bad input; and
//! the cluster pinning (a kubeconfig whose cluster is not the
//! environment's, or that does not name its cluster, gets nothing).

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
/// `lmi -e dev credential kubectl ARGS...` with `provideClusterInfo: true`.
fn kubeconfig(sb: &Sandbox, server: &str, args: &[&str]) -> PathBuf {
    kubeconfig_with(sb, server, args, true)
}

/// [`kubeconfig`], with or without `provideClusterInfo: true`.
fn kubeconfig_with(sb: &Sandbox, server: &str, args: &[&str], cluster_info: bool) -> PathBuf {
    let path = sb.home().join(".kube/config");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut all = vec!["-e", "dev", "credential", "kubectl"];
    all.extend_from_slice(args);
    let args = serde_json::to_string(&all).unwrap();
    let user = |name: &str, version: &str| {
        format!(
            "- name: {name}\n  user:\n    exec:\n      apiVersion: {version}\n      command: {}\n      args: {args}\n      interactiveMode: Never\n{}",
            lmi_bin().display(),
            if cluster_info { "      provideClusterInfo: true\n" } else { "" }
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
    let sb = sandbox(&srv, &format!("API_ALLOWED_ORIGINS={}\n", relay.url()));
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
        &format!(
            "OAUTH_TOKEN_URL=http://127.0.0.1:{}/token\nAPI_ALLOWED_ORIGINS={}\n",
            down.port,
            relay.url()
        ),
    );
    let config = kubeconfig(&sb, &relay.url(), &[]);
    let out = kubectl(&sb, &config, &["get", "--raw", "/whoami"]);
    assert_ne!(out.code, 0, "{out:?}");
    // kubectl reports lmi's exit code and passes its error line through.
    out.assert_stderr_contains("error: ")
        .assert_stderr_contains("exit code 4");
    assert_eq!(srv.api_requests(), 0, "no request without a credential");
}

/// A `KUBERNETES_EXEC_INFO` as kubectl writes it with `provideClusterInfo:
/// true`: the version asked for and the cluster's server.
fn exec_info(version: &str, server: &str) -> String {
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": version,
        "spec": {"cluster": {"server": server, "insecure-skip-tls-verify": false}, "interactive": false},
    })
    .to_string()
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
    // v1, with the expiry.
    let v1 = exec_info(V1, srv.api_url());
    let out = credential(&sb, Some(&v1), &[]);
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
    let quiet = credential(&sb, Some(&v1), &["-vv"]);
    quiet.assert_ok().assert_stderr_contains("cache hit");
    assert!(
        !quiet
            .stderr
            .contains(cache["access_token"].as_str().unwrap()),
        "{}",
        quiet.stderr
    );
    let beta = exec_info(V1BETA1, srv.api_url());
    let out = credential(&sb, Some(&beta), &[]);
    out.assert_ok();
    assert_eq!(out.json()["apiVersion"], V1BETA1);
    assert_eq!(srv.token_requests(), 1);

    // Unknown expiry: no expirationTimestamp at all.
    srv.set(|b| b.token_lifetime = None);
    sb.run(&["auth", "clear"]).assert_ok();
    let out = credential(&sb, Some(&v1), &[]);
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
    let out = credential(&sb, Some(&exec_info(V1, srv.api_url())), &[]);
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
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nAPI_BASE_URL={}\n",
            srv.token_url(),
            srv.api_url()
        ),
    );
    let out = credential(&sb, Some(&exec_info(V1, srv.api_url())), &[]);
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
    let out = credential(&sb, Some(&exec_info(V1, srv.api_url())), &["--sso"]);
    out.assert_code(4)
        .assert_stderr_contains("not logged in")
        .assert_stderr_contains("hint: run: lmi login sso");
    assert!(out.stdout.is_empty());

    sb.run(&["login", "sso"]).assert_ok();
    srv.reset_counts();
    let out = credential(&sb, Some(&exec_info(V1, srv.api_url())), &["--sso"]);
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

    let out = credential(&sb, Some(&exec_info(V1, srv.api_url())), &["--sso"]);
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
    let out = credential(&sb, Some(&exec_info(V1, srv.api_url())), &["--sso"]);
    out.assert_code(4)
        .assert_stderr_contains("hint: run: lmi login sso");
    assert!(out.stdout.is_empty());
}

// ------------------------------------------------------- cluster pinning

#[test]
fn kubectl_gets_no_token_for_a_cluster_the_environment_does_not_know() {
    let srv = server();
    let allowed = TlsRelay::start(srv.api_url());
    // Someone else's cluster, as a kubeconfig from elsewhere may name it.
    let foreign = TlsRelay::start(srv.other_url());
    let sb = sandbox(&srv, &format!("API_ALLOWED_ORIGINS={}\n", allowed.url()));

    let config = kubeconfig(&sb, &foreign.url(), &[]);
    let out = kubectl(&sb, &config, &["get", "--raw", "/whoami"]);
    assert_ne!(out.code, 0, "{out:?}");
    out.assert_stderr_contains("exit code 3");
    assert_eq!(
        srv.token_requests(),
        0,
        "no token request for a foreign cluster"
    );
    assert!(
        srv.other_authorization_headers()
            .iter()
            .all(Option::is_none),
        "the foreign cluster saw a credential: {:?}",
        srv.other_authorization_headers()
    );

    // The environment's own cluster, but kubectl is not told to name it.
    let config = kubeconfig_with(&sb, &allowed.url(), &[], false);
    let out = kubectl(&sb, &config, &["get", "--raw", "/whoami"]);
    assert_ne!(out.code, 0, "{out:?}");
    out.assert_stderr_contains("exit code 3");
    assert_eq!(srv.token_requests(), 0);
    assert_eq!(srv.api_requests(), 0, "no request without a credential");

    // Named, and allowed: kubectl gets through.
    let config = kubeconfig(&sb, &allowed.url(), &[]);
    kubectl(&sb, &config, &["get", "--raw", "/whoami"]).assert_ok();
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(
        srv.last_api_request().unwrap().authorization(),
        Some(format!("Bearer {}", cached_token(&sb)).as_str())
    );
}

#[test]
fn credential_kubectl_names_the_refused_cluster_or_the_missing_line() {
    let srv = server();
    let sb = sandbox(&srv, "");
    // A foreign server: refused by name, nothing printed, nothing asked.
    let out = credential(&sb, Some(&exec_info(V1, srv.other_url())), &[]);
    out.assert_code(3)
        .assert_stderr_contains(srv.other_url())
        .assert_stderr_contains("API_ALLOWED_ORIGINS");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    // Plain http to a host that is not loopback, even if allowed by origin.
    let out = credential(&sb, Some(&exec_info(V1, "http://k8s.example.com")), &[]);
    out.assert_code(3)
        .assert_stderr_contains("http://k8s.example.com");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    // No cluster named (run by hand, or no provideClusterInfo).
    for info in [
        None,
        Some(format!(
            r#"{{"apiVersion":"{V1}","spec":{{"interactive":false}}}}"#
        )),
    ] {
        let out = credential(&sb, info.as_deref(), &[]);
        out.assert_code(3)
            .assert_stderr_contains("named no cluster")
            .assert_stderr_contains("provideClusterInfo: true");
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    assert_eq!(srv.token_requests(), 0);
    assert_eq!(srv.other_requests(), 0);
}

#[test]
fn credential_kubectl_sso_is_pinned_too() {
    let srv = server();
    let sb = sso_sandbox(&srv, "");
    sb.run(&["login", "sso"]).assert_ok();
    srv.reset_counts();
    let out = credential(&sb, Some(&exec_info(V1, srv.other_url())), &["--sso"]);
    out.assert_code(3).assert_stderr_contains(srv.other_url());
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let out = credential(&sb, None, &["--sso"]);
    out.assert_code(3)
        .assert_stderr_contains("provideClusterInfo: true");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(srv.token_requests(), 0);
}
