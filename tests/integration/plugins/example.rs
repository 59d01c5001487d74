//! The example plugin `lmi-hello` end to end, installed and run against
//! the test IdP and API.

use crate::support::{workspace_bin, Sandbox};

fn api_sandbox(srv: &lmi_testidp::TestServer) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL={}\n",
            srv.token_url(),
            srv.api_url()
        ),
    );
    let hello = workspace_bin("lmi-hello");
    sb.run(&["plugin", "install", hello.to_str().unwrap()])
        .assert_ok();
    sb
}

#[test]
fn plugin_example_hello_describes_itself_and_whoami_works_end_to_end() {
    let srv = lmi_testidp::TestServer::start_default().unwrap();
    let sb = api_sandbox(&srv);

    let list = sb.run(&["plugin", "list"]).json();
    assert_eq!(list[0]["name"], "hello");
    assert_eq!(list[0]["version"], "0.1.0");
    assert!(sb.run(&["--help"]).stdout.contains("Example plugin"));

    let out = sb.run(&["hello", "whoami"]);
    out.assert_ok();
    let me = out.json();
    assert_eq!(me["client_id"], "lmi-client");
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.api_requests(), 1);

    // -o before the name reaches the plugin as LMI_OUTPUT; after it, the
    // plugin's own -o. The cached token serves both.
    for args in [
        &["-o", "text", "hello", "whoami"][..],
        &["hello", "whoami", "-o", "text"][..],
    ] {
        let out = sb.run(args);
        out.assert_ok();
        assert!(
            out.stdout.lines().any(|l| l == "client_id: lmi-client"),
            "{}",
            out.stdout
        );
    }
    assert_eq!(srv.token_requests(), 1);
    assert_eq!(srv.api_requests(), 3);

    // --file - : the body comes from lmi's stdin, through the plugin.
    let out = sb.run_with_stdin(&["hello", "echo", "--file", "-"], br#"{"greeting":"hi"}"#);
    out.assert_ok();
    let echoed = out.json();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path"], "/echo");
    assert!(echoed["body"].to_string().contains("greeting"), "{echoed}");
}

#[test]
fn plugin_example_hello_exits_with_lmis_code_when_the_inner_call_fails() {
    let srv = lmi_testidp::TestServer::start_default().unwrap();
    let sb = api_sandbox(&srv);
    sb.run(&["-e", "dev", "hello", "whoami"]).assert_ok();
    srv.set(|b| b.api_always_401 = true);
    // The service keeps refusing the token: authentication error (4).
    let out = sb.run(&["hello", "whoami"]);
    out.assert_code(4);
    assert!(out.error_line().is_some(), "{}", out.stderr);
    // Wrong use of the plugin itself is its own usage error.
    sb.run(&["hello", "frobnicate"]).assert_code(2);
    // No environment at all: lmi's configuration error (3) becomes the plugin's.
    let bare = Sandbox::new();
    let hello = workspace_bin("lmi-hello");
    bare.run(&["plugin", "install", hello.to_str().unwrap()])
        .assert_ok();
    bare.run(&["hello", "whoami"]).assert_code(3);
}

#[test]
fn plugin_example_hello_in_a_require_sso_environment() {
    let srv = lmi_testidp::TestServer::start_default().unwrap();
    let mut sb = Sandbox::new();
    // The SSO session in the opt-in file store, so this test does not depend
    // on the keychain (the SSO tests cover that).
    sb.write_main(&format!(
        "DEFAULT_ENVIRONMENT=dev\nOAUTH_SSO_ISSUER={}\nOAUTH_SSO_CLIENT_ID=lmi-public\nOAUTH_SSO_TOKEN_STORE=file\n",
        srv.idp_url()
    ));
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL={}\nREQUIRE_SSO=true\n",
            srv.token_url(),
            srv.api_url()
        ),
    );
    sb.var(
        "BROWSER",
        format!("{} browser", workspace_bin("testidp").display()),
    );
    let hello = workspace_bin("lmi-hello");
    sb.run(&["plugin", "install", hello.to_str().unwrap()])
        .assert_ok();

    // No session: the plugin's nested call is refused, nothing is sent.
    let out = sb.run(&["hello", "whoami"]);
    out.assert_code(4).assert_stderr_contains("lmi login sso");
    assert_eq!(srv.token_requests_by_grant("client_credentials"), 0);
    assert_eq!(srv.api_requests(), 0);

    // After a login the same plugin call goes through.
    sb.run(&["login", "sso"]).assert_ok();
    let out = sb.run(&["hello", "whoami"]);
    out.assert_ok();
    assert_eq!(out.json()["client_id"], "lmi-client");
    assert_eq!(srv.api_requests(), 1);

    // After logout it is refused again.
    sb.run(&["logout", "sso"]).assert_ok();
    sb.run(&["hello", "whoami"]).assert_code(4);
    assert_eq!(srv.api_requests(), 1);
}
