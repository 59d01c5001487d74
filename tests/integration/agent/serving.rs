//! What the agent serves: the SSO session from the real keychain (never
//! its refresh token; N clients after expiry cost one refresh, written
//! back), shared environments (N clients, one token request), `not_shared`
//! for every other name, compare-and-discard, a keychain that is not
//! there, and the request log (peer pid, no token).

use std::path::Path;
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use super::{ask, serves, socket, start, Agent};
use crate::sso::{
    account, backdate_keychain, idp, keychain_entry, login, require_secret_service, sandbox,
    unique_client, Store,
};
use crate::support::bare_dbus::BareDbus;
use crate::support::{wait_until, Sandbox};

/// `n` requests at once; their answers.
fn at_once(sock: &Path, n: usize, request: &Value) -> Vec<Value> {
    thread::scope(|s| {
        let asks: Vec<_> = (0..n)
            .map(|_| s.spawn(|| ask(sock, request.clone())))
            .collect();
        asks.into_iter().map(|a| a.join().unwrap()).collect()
    })
}

#[test]
fn agent_serves_the_keychain_session_and_refreshes_it_once_for_many_clients() {
    require_secret_service();
    let client = unique_client("agent");
    let srv = idp(&client);
    let sb = sandbox(
        srv.idp_url(),
        &client,
        Store::Keychain,
        "TOKEN_EXPIRY_SKEW=60\n",
    );
    // Tokens that live 30 s count as expired under a 60 s skew once the
    // session is backdated.
    srv.set(|b| b.token_lifetime = Some(30));
    login(&sb, &[]).assert_ok();
    let account = account(&client, srv.idp_url());
    let entry = keychain_entry(&account).expect("a keychain session");
    let refresh_token = entry["refresh_token"].as_str().unwrap().to_owned();
    let (_agent, _) = start(&sb, &[]);
    let sock = socket(&sb);

    let status = sb.run(&["agent", "status"]);
    assert_eq!(status.json()["sessions"][0]["client_id"], client.as_str());
    assert_eq!(status.json()["sessions"][0]["user"], "alice@example.test");

    srv.reset_counts();
    let request = json!({"v": 1, "op": "sso"});
    let answer = ask(&sock, request.clone());
    assert_eq!(answer["ok"], true, "{answer}");
    let session = &answer["session"];
    assert_eq!(session["access_token"], entry["access_token"]);
    assert_eq!(session["id_token"], entry["id_token"]);
    assert!(session["id_token"].is_string());
    assert_eq!(session["user"], "alice@example.test");
    assert_eq!(session["issuer"], srv.idp_url());
    assert_eq!(session["client_id"], client.as_str());
    assert!(session["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(!answer.to_string().contains(&refresh_token));
    assert_eq!(
        srv.token_requests(),
        0,
        "a valid session is served as it is"
    );

    // Another client id is refused.
    let other = ask(
        &sock,
        json!({"v": 1, "op": "sso", "client_id": "someone-else"}),
    );
    assert_eq!(other["error"]["code"], "session_mismatch", "{other}");

    // Expired: eight clients at once, one refresh, written back.
    backdate_keychain(&account);
    super::stamp_sso_folder(&sb);
    srv.reset_counts();
    let answers = at_once(&sock, 8, &request);
    for a in &answers {
        assert_eq!(a["ok"], true, "{a}");
        assert_eq!(
            a["session"]["access_token"],
            answers[0]["session"]["access_token"]
        );
        let line = a.to_string();
        assert!(!line.contains(&refresh_token) && !line.contains("refresh_token"));
    }
    assert_eq!(srv.token_requests_by_grant("refresh_token"), 1);
    assert_ne!(answers[0]["session"]["access_token"], entry["access_token"]);
    let written = keychain_entry(&account).unwrap();
    assert_eq!(
        written["access_token"],
        answers[0]["session"]["access_token"]
    );
    let rotated = written["refresh_token"].as_str().unwrap();
    assert!(answers.iter().all(|a| !a.to_string().contains(rotated)));
}

#[test]
fn agent_keychain_that_is_not_there_is_named_in_the_error() {
    let bus = BareDbus::start();
    let srv = idp("unused");
    let mut sb = sandbox(srv.idp_url(), "lmi-public", Store::Keychain, "");
    sb.var("DBUS_SESSION_BUS_ADDRESS", bus.address.clone());
    let (_agent, _) = start(&sb, &[]);
    let answer = ask(&socket(&sb), json!({"v": 1, "op": "sso"}));
    assert_eq!(answer["ok"], false);
    assert_eq!(answer["error"]["code"], "keychain", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("keychain where the agent runs"),
        "{message}"
    );
    assert_eq!(srv.token_requests(), 0);
}

#[test]
fn agent_a_logout_or_login_on_its_machine_is_served_at_once() {
    require_secret_service();
    let client = unique_client("agent-logout");
    let srv = idp(&client);
    let sb = sandbox(srv.idp_url(), &client, Store::Keychain, "");
    login(&sb, &[]).assert_ok();
    let (_agent, _) = start(&sb, &[]);
    let sock = socket(&sb);
    let request = json!({"v": 1, "op": "sso"});
    let first = ask(&sock, request.clone());
    assert_eq!(first["ok"], true, "{first}");
    // Served again from the agent's memory: the same session.
    assert_eq!(ask(&sock, request.clone())["session"], first["session"]);

    sb.run(&["logout", "sso"]).assert_ok();
    let gone = ask(&sock, request.clone());
    assert_eq!(gone["ok"], false, "{gone}");
    assert_eq!(gone["error"]["code"], "no_session", "{gone}");
    let status = sb.run(&["agent", "status"]);
    status.assert_ok();
    assert_eq!(status.json()["sessions"], json!([]));

    // On the agent's own machine, a login says --force.
    login(&sb, &["--force"]).assert_ok();
    let again = ask(&sock, request);
    assert_eq!(again["ok"], true, "{again}");
    assert_ne!(
        again["session"]["access_token"],
        first["session"]["access_token"]
    );
    assert_eq!(
        again["session"]["access_token"],
        keychain_entry(&account(&client, srv.idp_url())).unwrap()["access_token"]
    );
}

/// A sandbox with a shared environment `shared` and an unshared `private`,
/// both getting client-credentials tokens from `srv`.
fn shared_sandbox(srv: &lmi_testidp::TestServer) -> Sandbox {
    let sb = Sandbox::new();
    let env = |extra: &str| {
        format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n\
             API_BASE_URL={}\nAPI_ALLOWED_ORIGINS=https://other.example.test\n{extra}",
            srv.token_url(),
            srv.api_url()
        )
    };
    sb.write_env("shared", &env("AGENT_SHARE=true\n"));
    sb.write_env("private", &env(""));
    sb
}

#[test]
fn agent_serves_only_shared_environments_with_one_token_for_many_clients() {
    let srv = idp("unused");
    let sb = shared_sandbox(&srv);
    // AGENT_SHARE on the agent's command line shares nothing: only the
    // environment's own file counts.
    let (_agent, _) = start(&sb, &["--set", "AGENT_SHARE=true"]);
    let sock = socket(&sb);
    let envs = ask(&sock, json!({"v": 1, "op": "environments"}));
    assert_eq!(envs["environments"], json!(["shared"]));
    assert_eq!(
        sb.run(&["agent", "status"]).json()["shared_environments"],
        json!(["shared"])
    );

    let answers = at_once(
        &sock,
        8,
        &json!({"v": 1, "op": "token", "environment": "shared"}),
    );
    assert_eq!(srv.token_requests_by_grant("client_credentials"), 1);
    let token = answers[0]["environment"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for a in &answers {
        assert_eq!(a["ok"], true, "{a}");
        let e = &a["environment"];
        assert_eq!(e["access_token"], token.as_str());
        assert_eq!(e["name"], "shared");
        assert_eq!(e["token_type"], "Bearer");
        assert_eq!(
            e["api_base_url"].as_str().unwrap().trim_end_matches('/'),
            srv.api_url().trim_end_matches('/')
        );
        assert_eq!(
            e["api_allowed_origins"],
            json!(["https://other.example.test"])
        );
        assert!(!a.to_string().contains("lmi-secret"), "{a}");
    }
    let sources: Vec<&str> = answers
        .iter()
        .map(|a| a["environment"]["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources.iter().filter(|s| **s == "acquired").count(),
        1,
        "{sources:?}"
    );

    // Not shared, and not there: the same answer, no token request.
    srv.reset_counts();
    let mut messages = Vec::new();
    for name in ["private", "nope", "../shared"] {
        let a = ask(&sock, json!({"v": 1, "op": "token", "environment": name}));
        assert_eq!(a["ok"], false);
        assert_eq!(a["error"]["code"], "not_shared", "{a}");
        messages.push(
            a["error"]["message"]
                .as_str()
                .unwrap()
                .replace(name, "NAME"),
        );
        let d = ask(
            &sock,
            json!({"v": 1, "op": "discard", "environment": name, "access_token": token}),
        );
        assert_eq!(d["error"]["code"], "not_shared", "{d}");
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    assert_eq!(srv.token_requests(), 0);

    // Compare-and-discard: another token is kept, this one dropped.
    let discard = |t: &str| {
        ask(
            &sock,
            json!({"v": 1, "op": "discard", "environment": "shared", "access_token": t}),
        )
    };
    assert_eq!(discard("not-the-token")["discarded"], false);
    assert_eq!(discard(&token)["discarded"], true);
    let next = ask(
        &sock,
        json!({"v": 1, "op": "token", "environment": "shared"}),
    );
    assert_eq!(next["environment"]["source"], "acquired");
    assert_ne!(next["environment"]["access_token"], token.as_str());
}

#[test]
fn agent_log_names_each_request_and_its_peer_and_no_token() {
    let srv = idp("unused");
    let sb = shared_sandbox(&srv);
    let sock = socket(&sb);
    let stderr_path = sb.home().join("agent.stderr");
    let child = sb
        .cmd(&["agent", "run", "-vv"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let _agent = Agent { pid: child.id() };
    wait_until("the agent answers", Duration::from_secs(10), || {
        sock.exists() && std::os::unix::net::UnixStream::connect(&sock).is_ok()
    });
    assert!(serves(&sock));
    let token = ask(
        &sock,
        json!({"v": 1, "op": "token", "environment": "shared"}),
    );
    let token = token["environment"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = ask(
        &sock,
        json!({"v": 1, "op": "discard", "environment": "shared", "access_token": token}),
    );
    assert_eq!(d["discarded"], true);
    let stop = ask(&sock, json!({"v": 1, "op": "stop"}));
    assert_eq!(stop["ok"], true);
    let mut child = child;
    crate::support::exit_within(&mut child, Duration::from_secs(10), "lmi agent run");
    assert!(!sock.exists());

    let pid = std::process::id();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let log = std::fs::read_to_string(sb.log_file()).unwrap();
    for (what, text) in [("stderr", &stderr), ("log file", &log)] {
        for request in [
            "request status".to_owned(),
            "request token (environment shared)".to_owned(),
            "request discard (environment shared)".to_owned(),
            "request stop".to_owned(),
        ] {
            assert!(
                text.contains(&format!("{request} from pid {pid} uid")),
                "{what} lacks {request:?} from pid {pid}:\n{text}"
            );
        }
        assert!(!text.contains(&token), "{what} holds the token");
        assert!(
            !text.contains("lmi-secret"),
            "{what} holds the client secret"
        );
    }
}
