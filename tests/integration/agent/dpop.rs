//! A DPoP-bound shared environment used from a client (SPEC §4.3, §9): the
//! key stays where the agent runs, and the agent signs each proof. `lmi
//! api` and `lmi auth proof` through the agent are verified by the test
//! API as a resource server (signature, `htm`, `htu`, `ath`, the key's
//! thumbprint against `cnf.jkt`, its nonce); the agent refuses a proof for
//! a foreign origin and for a token it does not hold.

use serde_json::json;

use lmi_testidp::{DpopBehaviour, Options, TestServer};

use super::{ask, socket, start};
use crate::support::Sandbox;

fn dpop_server() -> TestServer {
    let mut dpop = DpopBehaviour::for_client("lmi-client");
    dpop.api_nonce = true;
    TestServer::start(Options {
        jwt_access_tokens: true,
        dpop,
        ..Options::default()
    })
    .expect("test IdP")
}

/// The agent's machine: a DPoP environment `shared`, shared.
fn laptop(srv: &TestServer) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_env(
        "shared",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n\
             OAUTH_DPOP=true\nAPI_BASE_URL={}\nAPI_ALLOWED_ORIGINS=https://other.example.test\n\
             AGENT_SHARE=true\n",
            srv.token_url(),
            srv.api_url()
        ),
    );
    sb
}

/// A client with no file for `shared`, using the laptop's agent.
fn client(laptop: &Sandbox) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.var("LMI_AGENT_SOCK", socket(laptop).display().to_string());
    sb
}

/// GET `url` with these headers, outside lmi (as curl would).
fn get(url: &str, headers: &[(&str, &str)]) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let mut req = agent.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.call().unwrap().status().as_u16()
}

#[test]
fn agent_dpop_api_and_auth_proof_from_a_client_verify_at_the_api() {
    let srv = dpop_server();
    let home = laptop(&srv);
    let (_agent, _) = start(&home, &[]);
    let remote = client(&home);

    // lmi api: the service's nonce challenge, one retry with a proof the
    // agent signed with the nonce the client learned.
    let out = remote.run(&["-e", "shared", "api", "/whoami"]);
    out.assert_ok();
    assert_eq!(out.json()["client_id"], "lmi-client");
    let sent = srv.last_api_request().unwrap();
    assert!(sent.authorization().unwrap().starts_with("DPoP "));
    assert_eq!(srv.dpop_api_nonce_challenges(), 1);
    assert_eq!(srv.dpop_api_proofs(), 1);
    assert!(
        srv.dpop_rejections().iter().all(|r| r.contains("nonce")),
        "{:?}",
        srv.dpop_rejections()
    );
    assert_eq!(srv.token_requests(), 1);
    // Neither the key nor a token nor a nonce was written on the client.
    let written = std::fs::read_dir(remote.tokens_dir()).map_or(0, |d| d.count());
    assert_eq!(written, 0);
    assert!(home.tokens_dir().join(".shared.dpop.jwk").is_file());

    // auth status and auth token say DPoP.
    let token = remote.run(&["-e", "shared", "auth", "token"]);
    token.assert_ok();
    assert_eq!(token.json()["token_type"], "DPoP");
    // The key is the agent's: inspect shows the binding, and does not
    // judge a key it cannot see.
    let inspected = remote.run(&["-e", "shared", "auth", "inspect"]);
    inspected.assert_ok();
    let inspected = inspected.json();
    assert!(inspected["claims"]["cnf"]["jkt"].is_string(), "{inspected}");
    assert!(inspected.get("dpop_key_matches").is_none(), "{inspected}");

    // auth proof: this run learned no nonce, so the agent's goes in (kept
    // from the api call's proof); curl-style use of it is accepted.
    let out = remote.run(&["-e", "shared", "auth", "proof", "/whoami?page=2"]);
    out.assert_ok();
    let json = out.json();
    assert_eq!(json["htm"], "GET");
    assert_eq!(json["htu"], format!("{}/whoami", srv.api_url()));
    let proof = json["dpop"].as_str().unwrap();
    let text = remote.run(&["-e", "shared", "auth", "token", "-o", "text"]);
    let authorization = format!("DPoP {}", text.stdout.trim());
    let url = format!("{}/whoami?page=2", srv.api_url());
    assert_eq!(
        get(&url, &[("Authorization", &authorization), ("DPoP", proof)]),
        200,
        "{:?}",
        srv.dpop_rejections()
    );
    assert_eq!(srv.token_requests(), 1, "one token for every client call");
}

#[test]
fn agent_dpop_refuses_a_foreign_origin_and_a_token_it_does_not_hold() {
    let srv = dpop_server();
    let home = laptop(&srv);
    let (_agent, _) = start(&home, &[]);
    let sock = socket(&home);
    let remote = client(&home);

    // The client refuses a foreign origin itself, before asking.
    let out = remote.run(&[
        "-e",
        "shared",
        "auth",
        "proof",
        "https://elsewhere.example/x",
    ]);
    out.assert_code(2);
    out.assert_stderr_contains("is not the service's origin");
    assert_eq!(out.stdout, "");

    let held = ask(
        &sock,
        json!({"v": 1, "op": "token", "environment": "shared"}),
    );
    assert_eq!(held["environment"]["token_type"], "DPoP", "{held}");
    let token = held["environment"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let proof = |htu: &str, token: &str| {
        ask(
            &sock,
            json!({"v": 1, "op": "proof", "environment": "shared", "htm": "GET",
                   "htu": htu, "access_token": token}),
        )
    };
    let api = format!("{}/whoami", srv.api_url());

    // A client that speaks the protocol itself gets no proof for another
    // origin, whatever token it sends.
    let foreign = proof("https://elsewhere.example/x", &token);
    assert_eq!(foreign["ok"], false, "{foreign}");
    assert_eq!(foreign["error"]["code"], "config", "{foreign}");
    assert!(foreign.get("dpop").is_none());
    // Nor for a token it does not hold.
    let other = proof(&api, "not-the-token");
    assert_eq!(other["ok"], false, "{other}");
    assert_eq!(other["error"]["code"], "auth", "{other}");
    assert!(other.get("dpop").is_none());
    // An allowed origin and the service's own: signed.
    assert_eq!(proof("https://other.example.test/x", &token)["ok"], true);
    let good = proof(&api, &token);
    assert_eq!(good["ok"], true, "{good}");
    let authorization = format!("DPoP {token}");
    // No nonce yet at the agent: the API challenges this one.
    let status = get(
        &api,
        &[
            ("Authorization", &authorization),
            ("DPoP", good["dpop"].as_str().unwrap()),
        ],
    );
    assert_eq!(status, 401);
    assert_eq!(srv.dpop_api_nonce_challenges(), 1);
    // With the nonce the client learned: accepted.
    let with_nonce = ask(
        &sock,
        json!({"v": 1, "op": "proof", "environment": "shared", "htm": "GET",
               "htu": api, "access_token": token, "nonce": srv.dpop_api_nonce()}),
    );
    let status = get(
        &api,
        &[
            ("Authorization", &authorization),
            ("DPoP", with_nonce["dpop"].as_str().unwrap()),
        ],
    );
    assert_eq!(status, 200, "{:?}", srv.dpop_rejections());
}
