//! DPoP environments and the tools lmi hands tokens to (SPEC §4.3, §8):
//! `exec` says the token type; kubectl and git, which cannot send proofs,
//! are refused with exit 3 before anything is printed.

use lmi_testidp::{DpopBehaviour, Options, TestServer};

use super::sandbox;

fn dpop_server() -> TestServer {
    TestServer::start(Options {
        dpop: DpopBehaviour::for_client("lmi-client"),
        ..Options::default()
    })
    .unwrap()
}

#[test]
fn exec_gives_the_token_type() {
    let srv = dpop_server();
    let sb = sandbox(&srv, "OAUTH_DPOP=true\n");
    let out = sb.run(&["exec", "--", "sh", "-c", "echo \"$LMI_TOKEN_TYPE\""]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "DPoP");

    let bearer = super::server();
    let sb = sandbox(&bearer, "");
    let out = sb.run(&["exec", "--", "sh", "-c", "echo \"$LMI_TOKEN_TYPE\""]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "Bearer");
}

#[test]
fn kubectl_and_git_are_refused_on_a_dpop_environment() {
    let srv = dpop_server();
    let sb = sandbox(
        &srv,
        &format!("OAUTH_DPOP=true\nAPI_BASE_URL={}\n", srv.api_url()),
    );
    let kubectl = sb.run(&["credential", "kubectl"]);
    kubectl.assert_code(3);
    kubectl.assert_stderr_contains("kubectl cannot send DPoP proofs");
    assert_eq!(kubectl.stdout, "");

    let host = srv.api_url().strip_prefix("http://").unwrap();
    let input = format!("protocol=http\nhost={host}\n\n");
    let git = sb.run_with_stdin(&["credential", "git", "get"], input.as_bytes());
    git.assert_code(3);
    git.assert_stderr_contains("git cannot send DPoP proofs");
    assert_eq!(git.stdout, "", "nothing printed");
    assert_eq!(srv.token_requests(), 0, "no token asked for");
}
