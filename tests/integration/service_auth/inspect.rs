//! `lmi auth inspect [--sso]` (SPEC §3.1): decoded claims, never a token or
//! a signature.

use lmi_testidp::{Options, TestServer};

use crate::support::{workspace_bin, Sandbox};

fn sandbox(srv: &TestServer) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nOAUTH_SCOPES=read\n",
            srv.token_url()
        ),
    );
    sb
}

/// The cached access token (to check it is never printed).
fn cached_token(sb: &Sandbox) -> String {
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.token_file("dev")).unwrap()).unwrap();
    file["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn auth_inspect_decodes_a_jwt_without_printing_it() {
    let srv = TestServer::start(Options {
        jwt_access_tokens: true,
        ..Options::default()
    })
    .unwrap();
    let sb = sandbox(&srv);
    let out = sb.run(&["auth", "inspect"]);
    out.assert_ok();
    let json = out.json();
    assert_eq!(json["environment"], "dev");
    assert_eq!(json["format"], "jwt");
    assert_eq!(json["header"]["alg"], "RS256");
    assert!(json["claims"]["exp"].is_i64(), "{json}");
    assert!(json["expires_at"].is_string());
    let token = cached_token(&sb);
    let signature = token.rsplit('.').next().unwrap();
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(&token) && !text.contains(signature));
    }
    // The cached token was used: one token request in all.
    let text = sb.run(&["auth", "inspect", "-o", "text"]);
    text.assert_ok();
    assert!(text.stdout.contains("not verified"), "{}", text.stdout);
    assert!(!text.stdout.contains(signature));
    assert_eq!(srv.token_requests(), 1);
}

#[test]
fn auth_inspect_opaque_token() {
    let srv = TestServer::start_default().unwrap();
    let sb = sandbox(&srv);
    let out = sb.run(&["auth", "inspect"]);
    out.assert_ok();
    let json = out.json();
    assert_eq!(json["format"], "opaque");
    assert!(json["header"].is_null() && json["claims"].is_null());
    assert!(!out.stdout.contains(&cached_token(&sb)));
    // The help says nothing is verified.
    let help = sb.run(&["auth", "inspect", "--help"]);
    help.assert_ok();
    assert!(
        help.stdout.contains("NOTHING IS VERIFIED"),
        "{}",
        help.stdout
    );
}

#[test]
fn auth_inspect_sso_shows_the_session_claims() {
    let srv = TestServer::start_default().unwrap();
    let mut sb = Sandbox::new();
    sb.write_main(&format!(
        "OAUTH_SSO_ISSUER={}\nOAUTH_SSO_CLIENT_ID=lmi-public\nOAUTH_SSO_TOKEN_STORE=file\n",
        srv.idp_url()
    ));
    sb.run(&["auth", "inspect", "--sso"])
        .assert_code(4)
        .assert_stderr_contains("lmi login sso");
    sb.var(
        "BROWSER",
        format!("{} browser", workspace_bin("testidp").display()),
    );
    sb.run(&["login", "sso"]).assert_ok();
    let out = sb.run(&["auth", "inspect", "--sso"]);
    out.assert_ok();
    let json = out.json();
    assert_eq!(json["id_token"]["claims"]["email"], "alice@example.test");
    assert_eq!(json["id_token"]["header"]["alg"], "RS256");
    assert!(json["access_token"]["format"].is_string());
    // No stored token, nor any signature, is printed.
    let dir = sb.data_dir().join("sso");
    let file = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let session: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    for key in ["access_token", "refresh_token", "id_token"] {
        let Some(token) = session[key].as_str() else {
            continue;
        };
        assert!(!out.stdout.contains(token), "{key} printed");
        let last = token.rsplit('.').next().unwrap();
        assert!(!out.stdout.contains(last), "{key}'s last segment printed");
    }
}

#[test]
fn auth_inspect_text_cleans_claim_names_values_and_scope() {
    use crate::support::hostile::{Hostile, Reply};
    use base64::Engine as _;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let jwt = format!(
        "{}.{}.c2ln",
        b64(serde_json::json!({"alg": "RS256", "k\u{1b}]0;title\u{7}": "h"})),
        b64(serde_json::json!({
            "sub": "svc",
            "\u{1b}[2J\u{1b}[H": 1,
            "name\nforged-line: yes": "\u{202e}moc.elpmaxe@ecila",
        }))
    );
    let body = serde_json::json!({
        "access_token": jwt,
        "token_type": "Bearer",
        "expires_in": 600,
        "scope": "read \u{202e}etirw\u{200b}",
    });
    let srv = Hostile::always(Reply::json(200, body.to_string()));
    let sb = Sandbox::new();
    sb.write_main("DEFAULT_ENVIRONMENT=dev\n");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\n",
            srv.url("/token")
        ),
    );
    let out = sb.run(&["auth", "inspect", "-o", "text"]);
    out.assert_ok();
    for c in ['\u{1b}', '\u{7}', '\u{202e}', '\u{200b}'] {
        assert!(!out.stdout.contains(c), "{c:?} in {:?}", out.stdout);
    }
    assert!(
        !out.stdout.lines().any(|l| l.starts_with("forged-line")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("scope: read \u{fffd}etirw\u{fffd}"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("sub"), "{}", out.stdout);
}
