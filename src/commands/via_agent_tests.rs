//! Commands with an lmi agent that answers (a fake that records what it
//! was asked): the SSO needs go to the agent, shared environments get the
//! agent's tokens, and nothing of the agent's lands on this machine.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::agent::client::AgentLink;
use crate::agent::protocol::{
    answer_line, DiscardAnswer, EnvironmentsAnswer, ErrorCode, Request, SharedEnvironment, Source,
    SsoAnswer, SsoSession, TokenAnswer, WireError,
};
use crate::commands::auth::tests::{with_dev, with_sso, SVC_TOKEN_URL};
use crate::commands::testing::{error_of, Harness, NOW};
use crate::error::{Kind, Result};
use crate::secret::Secret;

const SOCK: &str = "/tmp/forwarded/agent.sock";
/// The issuer id of [`with_sso`]'s settings (no issuer: the token URL).
const ISSUER_ID: &str = "https://idp.test/token";

type Answer = Box<dyn Fn(&Request, usize) -> String + Send + Sync>;

/// An agent that answers with `answer(request, how many asked before)`.
struct FakeAgent {
    socket: PathBuf,
    asked: Mutex<Vec<Request>>,
    answer: Answer,
}

impl AgentLink for FakeAgent {
    fn socket(&self) -> &Path {
        &self.socket
    }

    fn ask(&self, request: &Request) -> Result<Vec<u8>> {
        let mut asked = self.asked.lock().unwrap();
        let n = asked.len();
        asked.push(request.clone());
        Ok((self.answer)(request, n).into_bytes())
    }
}

fn with_agent(
    mut h: Harness,
    answer: impl Fn(&Request, usize) -> String + Send + Sync + 'static,
) -> (Harness, Arc<FakeAgent>) {
    let agent = Arc::new(FakeAgent {
        socket: PathBuf::from(SOCK),
        asked: Mutex::default(),
        answer: Box::new(answer),
    });
    h.agent = Some(agent.clone());
    (h, agent)
}

fn asked(agent: &FakeAgent) -> Vec<Request> {
    agent.asked.lock().unwrap().clone()
}

fn session_line(issuer: &str) -> String {
    answer_line(&SsoAnswer {
        session: SsoSession {
            access_token: Secret::new("agent-access"),
            id_token: None,
            token_type: "Bearer".into(),
            expires_at: Some(NOW + 600),
            user: Some("alice@example.test".into()),
            issuer: issuer.into(),
            client_id: "lmi-public".into(),
        },
    })
}

fn shared_line(name: &str, token: &str) -> String {
    answer_line(&TokenAnswer {
        environment: SharedEnvironment {
            name: name.into(),
            access_token: Secret::new(token),
            token_type: "Bearer".into(),
            expires_at: Some(NOW + 300),
            source: Source::Acquired,
            api_base_url: Some("https://api.shared.test".into()),
            api_allowed_origins: vec!["https://git.shared.test".into()],
            api_graphql_url: None,
            credential_username: Some("robot".into()),
        },
    })
}

fn error_line(code: ErrorCode, message: &str) -> String {
    WireError::new(code, message)
        .with_hint("run: lmi login sso")
        .to_line()
}

/// `prod`: client credentials behind `REQUIRE_SSO`.
fn with_prod(h: Harness) -> Harness {
    h.env_file(
        "prod",
        &[
            ("OAUTH_CLIENT_ID", "cli"),
            ("OAUTH_CLIENT_SECRET", "s3cret"),
            ("OAUTH_TOKEN_URL", SVC_TOKEN_URL),
            ("REQUIRE_SSO", "true"),
        ],
    )
    .environment("prod")
}

#[test]
fn the_require_sso_gate_asks_the_agent_with_this_machines_issuer_and_client() {
    let (h, agent) = with_agent(with_prod(with_sso(Harness::new())), |_, _| {
        session_line(ISSUER_ID)
    });
    h.http.answer(
        SVC_TOKEN_URL,
        200,
        json!({"access_token": "svc-1", "token_type": "Bearer", "expires_in": 3600}),
    );
    assert_eq!(h.run(&["auth", "token"]).unwrap(), 0);
    assert_eq!(h.json()["access_token"], "svc-1");
    assert_eq!(
        asked(&agent),
        vec![Request::Sso {
            issuer: Some(ISSUER_ID.into()),
            client_id: Some("lmi-public".into()),
        }]
    );
    // This machine's store was not read into, and no refresh went out.
    assert_eq!(h.stored(), None);
    assert_eq!(h.http.requests().len(), 1);
}

#[test]
fn an_agent_without_a_session_fails_the_gate_naming_the_agent() {
    let (h, _) = with_agent(with_prod(Harness::new()), |_, _| {
        error_line(ErrorCode::NoSession, "not logged in")
    });
    let e = error_of(h.run(&["auth", "token"]));
    assert_eq!(e.kind(), Kind::Auth);
    assert!(e.message().contains(SOCK), "{}", e.message());
    assert!(e.hint().unwrap().contains("where the agent runs"));
    assert!(h.http.requests().is_empty(), "no token was asked for");
}

#[test]
fn a_keychain_problem_on_the_agents_machine_is_an_auth_error_naming_the_agent() {
    let (h, _) = with_agent(with_prod(Harness::new()), |_, _| {
        error_line(ErrorCode::Keychain, "the keychain is locked")
    });
    let e = error_of(h.run(&["auth", "token"]));
    assert_eq!(e.kind(), Kind::Auth);
    assert!(
        e.message().contains(SOCK) && e.message().contains("keychain is locked"),
        "{}",
        e.message()
    );
}

#[test]
fn status_login_and_inspect_report_the_agents_session_without_local_sso_settings() {
    let (h, agent) = with_agent(Harness::new(), |_, _| session_line("https://idp.example"));
    assert_eq!(h.run(&["auth", "status"]).unwrap(), 0);
    let sso = h.json()["sso"].clone();
    assert_eq!(sso["store"], "agent");
    assert_eq!(sso["configured"], true);
    assert_eq!(sso["logged_in"], true);
    assert_eq!(sso["refreshable"], true);
    assert_eq!(sso["user"], "alice@example.test");
    assert_eq!(sso["issuer"], "https://idp.example");
    assert_eq!(
        asked(&agent)[0],
        Request::Sso {
            issuer: None,
            client_id: None
        }
    );

    let (h, _) = with_agent(Harness::new(), |_, _| session_line("https://idp.example"));
    assert_eq!(h.run(&["login", "sso"]).unwrap(), 0);
    let out = h.json();
    assert_eq!(out["flow"], "agent");
    assert_eq!(out["logged_in"], true);
    assert_eq!(out["user"], "alice@example.test");
    assert!(h.browser.opened.lock().unwrap().is_empty(), "no flow");
    assert!(h.http.requests().is_empty());

    let (h, _) = with_agent(Harness::new(), |_, _| session_line("https://idp.example"));
    assert_eq!(h.run(&["auth", "inspect", "--sso"]).unwrap(), 0);
    assert_eq!(h.json()["access_token"]["format"], "opaque");
    assert!(!h.out().contains("agent-access"));
}

#[test]
fn logout_with_an_agent_is_a_usage_error_saying_where_to_log_out() {
    let (h, agent) = with_agent(
        with_sso(Harness::new()).var("LMI_AGENT_SOCK", SOCK),
        |_, _| session_line(ISSUER_ID),
    );
    let e = error_of(h.run(&["logout", "sso"]));
    assert_eq!(e.kind(), Kind::Usage);
    assert!(e.message().contains(SOCK), "{}", e.message());
    assert!(e.hint().unwrap().contains("LMI_AGENT_SOCK"));
    assert!(asked(&agent).is_empty());
}

#[test]
fn logout_with_the_agent_of_the_default_socket_logs_out_of_this_machines_store() {
    // The default socket is this machine's: its agent reads this store.
    let (h, agent) = with_agent(
        with_sso(Harness::new()).session(crate::auth::sso::testing::session(NOW + 600, None)),
        |_, _| session_line(ISSUER_ID),
    );
    assert!(h.stored().is_some());
    assert_eq!(h.run(&["logout", "sso"]).unwrap(), 0);
    assert_eq!(h.json()["logged_out"], true);
    assert_eq!(h.stored(), None);
    assert!(asked(&agent).is_empty());
}

#[test]
fn a_shared_environment_gets_the_agents_token_and_nothing_is_cached_here() {
    let (h, agent) = with_agent(Harness::new().environment("shared"), |_, _| {
        shared_line("shared", "shared-1")
    });
    assert_eq!(h.run(&["auth", "token"]).unwrap(), 0);
    let out = h.json();
    assert_eq!(out["access_token"], "shared-1");
    assert_eq!(out["environment"], "shared");
    assert_eq!(out["source"], "acquired");
    assert_eq!(
        asked(&agent),
        vec![Request::Token {
            environment: "shared".into()
        }],
        "one request: configuration and token from the same answer"
    );
    assert!(h.http.requests().is_empty());
    assert!(!h.paths().tokens_dir().exists(), "no token file here");
}

#[test]
fn a_401_asks_the_agent_to_discard_the_token_then_retries_once() {
    let (h, agent) = with_agent(
        Harness::new().environment("shared"),
        |request, n| match request {
            Request::Discard { .. } => answer_line(&DiscardAnswer { discarded: true }),
            _ => shared_line("shared", if n == 0 { "stale" } else { "fresh" }),
        },
    );
    h.http
        .answer("https://api.shared.test/items", 401, json!({}))
        .answer("https://api.shared.test/items", 200, json!({"ok": true}));
    assert_eq!(h.run(&["api", "/items"]).unwrap(), 0);
    assert_eq!(h.json(), json!({"ok": true}));
    let sent = h.http.requests_to("https://api.shared.test/items");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].header("authorization"), Some("Bearer stale"));
    assert_eq!(sent[1].header("authorization"), Some("Bearer fresh"));
    let asked = asked(&agent);
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert_eq!(
        asked[1],
        Request::Discard {
            environment: "shared".into(),
            access_token: Secret::new("stale")
        }
    );
}

#[test]
fn a_shared_environment_pins_the_token_to_the_agents_origins() {
    let (h, _) = with_agent(Harness::new().environment("shared"), |_, _| {
        shared_line("shared", "shared-1")
    });
    let e = error_of(h.run(&["api", "https://elsewhere.test/items"]));
    assert_eq!(e.kind(), Kind::Usage);
    assert!(h.http.requests().is_empty());
}

#[test]
fn an_environment_the_agent_does_not_share_is_the_usual_unknown_environment() {
    let (h, _) = with_agent(Harness::new().environment("secret"), |_, _| {
        error_line(ErrorCode::NotShared, "not shared")
    });
    let e = error_of(h.run(&["auth", "token"]));
    assert_eq!(e.kind(), Kind::Config);
    assert!(e.message().contains("does not exist"), "{}", e.message());
}

#[test]
fn a_local_file_wins_over_a_shared_environment() {
    let (h, agent) = with_agent(with_dev(Harness::new()), |_, _| {
        shared_line("dev", "shared-1")
    });
    h.http.answer(
        SVC_TOKEN_URL,
        200,
        json!({"access_token": "local-1", "token_type": "Bearer", "expires_in": 3600}),
    );
    assert_eq!(h.run(&["auth", "token"]).unwrap(), 0);
    assert_eq!(h.json()["access_token"], "local-1");
    assert!(asked(&agent).is_empty());
}

#[test]
fn env_list_adds_the_shared_environments_without_a_file_here() {
    let (h, _) = with_agent(with_dev(Harness::new()), |_, _| {
        answer_line(&EnvironmentsAnswer {
            environments: vec!["dev".into(), "shared".into()],
        })
    });
    assert_eq!(h.run(&["env", "list"]).unwrap(), 0);
    let rows = h.json();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    assert_eq!(rows[0]["name"], "dev");
    assert_eq!(rows[0]["source"], "file");
    assert!(rows[0]["path"].is_string());
    assert_eq!(
        rows[1],
        json!({"name": "shared", "default": false, "path": null, "source": "agent"})
    );
}

fn exec_info(server: &str) -> String {
    json!({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
           "spec": {"interactive": false, "cluster": {"server": server}}})
    .to_string()
}

#[test]
fn kubectl_answers_for_the_agents_clusters_only() {
    let answer = |_: &Request, _: usize| shared_line("shared", "shared-1");
    let (h, _) = with_agent(
        Harness::new().environment("shared").var(
            "KUBERNETES_EXEC_INFO",
            &exec_info("https://git.shared.test"),
        ),
        answer,
    );
    assert_eq!(h.run(&["credential", "kubectl"]).unwrap(), 0);
    assert_eq!(h.json()["status"]["token"], "shared-1");

    let (h, agent) = with_agent(
        Harness::new()
            .environment("shared")
            .var("KUBERNETES_EXEC_INFO", &exec_info("https://evil.test")),
        answer,
    );
    let e = error_of(h.run(&["credential", "kubectl"]));
    assert_eq!(e.kind(), Kind::Config);
    assert_eq!(h.out(), "", "no credential printed");
    // Only the configuration's answer: the token was not handed on.
    assert_eq!(asked(&agent).len(), 1);
}

#[test]
fn kubectl_sso_gets_the_agents_id_token() {
    let id_token = crate::auth::sso::testing::id_token("alice", "alice@example.test", NOW + 60);
    let line = answer_line(&SsoAnswer {
        session: SsoSession {
            access_token: Secret::new("agent-access"),
            id_token: Some(Secret::new(id_token.clone())),
            token_type: "Bearer".into(),
            expires_at: Some(NOW + 600),
            user: Some("alice@example.test".into()),
            issuer: "https://idp.example".into(),
            client_id: "lmi-public".into(),
        },
    });
    let (h, agent) = with_agent(
        Harness::new()
            .env_file("k8s", &[("API_BASE_URL", "https://k8s.test")])
            .environment("k8s")
            .var("KUBERNETES_EXEC_INFO", &exec_info("https://k8s.test")),
        move |_, _| line.clone(),
    );
    assert_eq!(h.run(&["credential", "kubectl", "--sso"]).unwrap(), 0);
    assert_eq!(h.json()["status"]["token"], id_token.as_str());
    assert!(matches!(asked(&agent)[0], Request::Sso { .. }));
    assert!(h.http.requests().is_empty());
}

#[test]
fn a_token_exchange_sends_the_agents_session_token_as_the_subject() {
    let (h, agent) = with_agent(
        with_sso(Harness::new())
            .env_file(
                "xchg",
                &[
                    ("OAUTH_GRANT_TYPE", "token_exchange"),
                    ("OAUTH_CLIENT_ID", "cli"),
                    ("OAUTH_TOKEN_URL", ISSUER_ID),
                ],
            )
            .environment("xchg"),
        |_, _| session_line(ISSUER_ID),
    );
    h.http.answer(
        ISSUER_ID,
        200,
        json!({"access_token": "exchanged-1", "token_type": "Bearer", "expires_in": 3600}),
    );
    assert_eq!(h.run(&["auth", "token"]).unwrap(), 0);
    assert_eq!(h.json()["access_token"], "exchanged-1");
    let sent = h.http.requests_to(ISSUER_ID);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].field("subject_token").as_deref(),
        Some("agent-access")
    );
    assert_eq!(asked(&agent).len(), 1, "one session answer serves both");
}
