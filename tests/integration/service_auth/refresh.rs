//! After a 401 from the API, a refresh token is tried before the full grant
//! runs again (the password grant here), and the full grant runs only when
//! the refresh fails too.

use lmi_testidp::TestServer;

use crate::support::Sandbox;

#[test]
fn after_a_401_the_refresh_token_is_tried_before_the_password() {
    let srv = TestServer::start_default().unwrap();
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nOAUTH_GRANT_TYPE=password\nOAUTH_USERNAME=alice\nOAUTH_PASSWORD=wonderland\nAPI_BASE_URL={}\n",
            srv.token_url(),
            srv.api_url()
        ),
    );
    sb.run(&["api", "/whoami"]).assert_ok();
    assert_eq!(srv.token_requests_by_grant("password"), 1);
    srv.invalidate_all_tokens();
    sb.run(&["api", "/whoami"]).assert_ok();
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_eq!(
        srv.token_requests_by_grant("password"),
        1,
        "no second password grant"
    );
    // When the refresh also fails, the full grant runs.
    srv.invalidate_all_tokens();
    srv.invalidate_refresh_tokens();
    sb.run(&["api", "/whoami"]).assert_ok();
    assert_eq!(srv.token_requests_by_grant("password"), 2);
}
