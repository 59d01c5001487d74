//! The OAuth core fed canned answers: no sockets.
use super::*;
use crate::auth::grants::request_token;
use crate::config::AuthMethod;
use crate::secret::Secret;
use url::Url;

use crate::auth::testing::FakeTransport;

fn request<'a>(url: &'a Url, secret: &'a Secret) -> TokenRequest<'a> {
    TokenRequest {
        token_url: url,
        client_id: "cli",
        client_secret: Some(secret),
        auth_method: AuthMethod::Post,
        client_assertion: None,
        grant: Grant::ClientCredentials,
        scopes: None,
        audience: None,
        dpop: None,
    }
}

#[test]
fn failures_are_typed_and_scrubbed() {
    let url = Url::parse("http://127.0.0.1:9/token").unwrap();
    let secret = Secret::new("hunter2-secret");
    let t = FakeTransport::default();
    t.reply(
        401,
        r#"{"error":"invalid_client","error_description":"bad hunter2-secret","error_uri":"https://e/x"}"#,
    );
    let e = request_token(&t, &request(&url, &secret)).unwrap_err();
    assert_eq!(e.oauth_code(), Some("invalid_client"));
    match e.failure.as_ref() {
        GrantFailure::Refused(o) => {
            assert_eq!(o.status, 401);
            assert_eq!(o.uri.as_deref(), Some("https://e/x"));
            assert!(!o.description.as_deref().unwrap().contains("hunter2"));
            assert!(!o.body.contains("hunter2"));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.reached());
    let error = e.into_error(|_| Some("check the client".into()));
    assert_eq!(error.hint(), Some("check the client"));
    assert!(
        error.message().contains("invalid_client: bad [redacted]")
            || !error.message().contains("hunter2")
    );

    t.reply(404, "nope");
    let e = request_token(&t, &request(&url, &secret)).unwrap_err();
    assert!(!e.reached(), "a 404 is worth rediscovering");
    assert!(e.oauth_code().is_none());

    // No canned answer left: the endpoint is unreachable.
    let e = request_token(&t, &request(&url, &secret)).unwrap_err();
    assert!(matches!(*e.failure, GrantFailure::Unreachable { .. }));
    assert!(
        e.into_error(|_| None).hint().is_none(),
        "hints are the caller's"
    );

    t.reply(200, r#"{"token_type":"Bearer"}"#);
    let e = request_token(&t, &request(&url, &secret)).unwrap_err();
    assert!(
        e.message().ends_with("returned no access_token"),
        "{}",
        e.message()
    );
}

#[test]
fn assertions_and_exchanges_are_sent_and_scrubbed() {
    let url = Url::parse("http://127.0.0.1:9/token").unwrap();
    let secret = Secret::new("never-sent-secret");
    let assertion = Secret::new("eyJ.assertion-value.sig");
    let subject = Secret::new("subject-token-value");
    let t = FakeTransport::default();
    t.reply(
        400,
        r#"{"error":"invalid_grant","error_description":"bad subject-token-value from eyJ.assertion-value.sig"}"#,
    );
    let req = TokenRequest {
        auth_method: AuthMethod::PrivateKeyJwt,
        client_assertion: Some(&assertion),
        grant: Grant::TokenExchange {
            subject_token: subject.clone(),
            subject_token_type: "urn:ietf:params:oauth:token-type:jwt".into(),
        },
        scopes: Some("read"),
        ..request(&url, &secret)
    };
    let e = request_token(&t, &req).unwrap_err();
    let sent = t.requests().pop().unwrap();
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(sent.body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["grant_type"], TOKEN_EXCHANGE_GRANT);
    assert_eq!(form["subject_token"], "subject-token-value");
    assert_eq!(form["requested_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(form["client_assertion_type"], JWT_BEARER_ASSERTION);
    assert_eq!(form["client_assertion"], "eyJ.assertion-value.sig");
    assert_eq!(form["client_id"], "cli");
    assert_eq!(form["scope"], "read");
    assert!(!form.contains_key("client_secret") && sent.header("Authorization").is_none());
    let message = e.message();
    assert!(
        message.contains("invalid_grant: bad [redacted] from [redacted]"),
        "{message}"
    );
}

#[test]
fn control_characters_and_unknown_token_types_are_refused() {
    let url = Url::parse("http://127.0.0.1:9/token").unwrap();
    let secret = Secret::new("hunter2-secret");
    let t = FakeTransport::default();
    for body in [
        r#"{"access_token":"tok\u001b[2J","token_type":"Bearer"}"#,
        r#"{"access_token":"tok\r\nX: y","token_type":"Bearer"}"#,
        r#"{"access_token":"tok","token_type":"mac"}"#,
        r#"{"access_token":"tok","token_type":"Bearer extra"}"#,
        r#"{"access_token":"tok","token_type":"DPoP"}"#,
    ] {
        t.reply(200, body);
        let e = request_token(&t, &request(&url, &secret)).unwrap_err();
        assert!(matches!(*e.failure, GrantFailure::Malformed(_)), "{body}");
        assert!(!e.message().contains('\u{1b}'), "{}", e.message());
    }
    for (body, kind) in [
        (r#"{"access_token":"tok","token_type":"bEaReR"}"#, "Bearer"),
        (r#"{"access_token":"tok"}"#, "Bearer"),
    ] {
        t.reply(200, body);
        let ok = request_token(&t, &request(&url, &secret)).unwrap();
        assert_eq!(ok.token_type, kind);
    }
}

#[test]
fn basic_credentials_are_form_encoded() {
    assert_eq!(client_auth::form_encode("a b:c/ä"), "a+b%3Ac%2F%C3%A4");
}

fn form_of(request: &FormRequest<'_>) -> std::collections::HashMap<&'static str, String> {
    request
        .form
        .iter()
        .map(|(k, v)| (*k, (*v).to_owned()))
        .collect()
}

#[test]
fn a_token_response_is_read_with_its_optional_parts() {
    let ok = parse_token_response(
        br#"{"access_token":"at-1","token_type":"Bearer","expires_in":300,
            "refresh_token":"rt-1","scope":"read write","id_token":"idt"}"#,
    )
    .unwrap();
    assert_eq!(ok.access_token.expose(), "at-1");
    assert_eq!(ok.expires_in, Some(300));
    assert_eq!(ok.refresh_token.unwrap().expose(), "rt-1");
    assert_eq!(ok.scope.as_deref(), Some("read write"));
    assert_eq!(ok.id_token.unwrap().expose(), "idt");
    let bare = parse_token_response(br#"{"access_token":"at","refresh_token":""}"#).unwrap();
    assert!(bare.refresh_token.is_none() && bare.id_token.is_none() && bare.scope.is_none());
}

#[test]
fn lifetimes_are_whole_seconds_and_clamped() {
    let read = |body: &str| parse_token_response(body.as_bytes());
    assert_eq!(
        read(r#"{"access_token":"a","expires_in":1.9}"#)
            .unwrap()
            .expires_in,
        Some(1)
    );
    for body in [
        r#"{"access_token":"a","expires_in":-5}"#,
        r#"{"access_token":"a","expires_in":-0.5}"#,
        r#"{"access_token":"a","expires_in":"3600"}"#,
    ] {
        let err = read(body).unwrap_err();
        assert!(
            matches!(&err, GrantFailure::Malformed(w) if w.contains("expires_in")),
            "{body}: {err:?}"
        );
    }
    let huge = read(r#"{"access_token":"a","expires_in":1e308}"#).unwrap();
    assert_eq!(
        huge.expires_at(1_000),
        Some(1_000 + crate::auth::MAX_LIFETIME),
        "a year at most"
    );
    assert_eq!(
        read(r#"{"access_token":"a","expires_in":60}"#)
            .unwrap()
            .expires_at(1_000),
        Some(1_060)
    );
}

#[test]
fn unusable_access_tokens_are_named_not_quoted() {
    for (body, words) in [
        (r#"{"token_type":"Bearer"}"#, "no access_token"),
        (r#"{"access_token":""}"#, "not a non-empty string"),
        (r#"{"access_token":42}"#, "not a non-empty string"),
        (r#"{"access_token":"a\u00e9b"}"#, "printable ASCII"),
        ("[1,2]", "not a JSON object"),
        ("<html>", "not a JSON object"),
        (r#"{"access_token":"a","token_type":7}"#, "not a string"),
    ] {
        match parse_token_response(body.as_bytes()) {
            Err(GrantFailure::Malformed(what)) => assert!(what.contains(words), "{body}: {what}"),
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn oauth_errors_come_only_with_400_and_401() {
    for status in [400, 401] {
        match parse_error(status, br#"{"error":"invalid_grant"}"#, &[]) {
            ErrorBody::OAuth(e) => {
                assert_eq!(e.code, "invalid_grant");
                assert_eq!(e.status, status);
                assert_eq!(e.summary(), "invalid_grant");
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    for status in [403, 404, 500, 503] {
        assert_eq!(
            parse_error(status, br#"{"error":"invalid_grant"}"#, &[]),
            ErrorBody::Other(r#"{"error":"invalid_grant"}"#.into()),
            "{status}"
        );
    }
}

#[test]
fn error_fields_are_cleaned_and_scrubbed() {
    let sent = Secret::new("sent-secret-1");
    let body = br#"{"error":"invalid_client\u001b[2J","error_description":"bad sent-secret-1\r\nX","error_uri":"https://e.test/x"}"#;
    let ErrorBody::OAuth(e) = parse_error(401, body, &[&sent]) else {
        panic!("not an OAuth error")
    };
    assert!(!e.code.contains('\u{1b}'), "{:?}", e.code);
    let description = e.description.as_deref().unwrap();
    assert!(!description.contains("sent-secret-1"), "{description}");
    assert!(!description.contains('\r') && !description.contains('\n'));
    assert_eq!(e.uri.as_deref(), Some("https://e.test/x"));
    assert!(!e.body.contains("sent-secret-1"));
}

#[test]
fn error_bodies_without_an_error_code_are_quoted_briefly() {
    let long = "x".repeat(1_000);
    match parse_error(400, long.as_bytes(), &[]) {
        ErrorBody::Other(snippet) => assert_eq!(snippet.chars().count(), 200),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parse_error(400, br#"{"error":5}"#, &[]),
        ErrorBody::Other(r#"{"error":5}"#.into()),
        "an error code that is not a string is no OAuth error"
    );
    assert_eq!(
        parse_error(400, b"\xff\xfe", &[]),
        ErrorBody::Other("\u{fffd}\u{fffd}".into())
    );
}

#[test]
fn answers_over_the_bound_are_refused() {
    let big = vec![b' '; crate::http::SMALL_BODY_LIMIT as usize + 1];
    assert!(check_size(&big).is_err());
    assert!(check_size(&big[1..]).is_ok());
    let failure = read_token_answer(200, "OK", &big, &[]).unwrap_err();
    assert!(matches!(failure, GrantFailure::Malformed(w) if w.contains("1 MiB")));
}

#[test]
fn read_token_answer_sorts_statuses() {
    let ok = read_token_answer(200, "OK", br#"{"access_token":"a"}"#, &[]);
    assert_eq!(ok.unwrap().access_token.expose(), "a");
    let refused = read_token_answer(400, "Bad Request", br#"{"error":"invalid_scope"}"#, &[]);
    assert!(matches!(refused, Err(GrantFailure::Refused(e)) if e.code == "invalid_scope"));
    match read_token_answer(502, "Bad Gateway", b"upstream down", &[]) {
        Err(GrantFailure::Status {
            status,
            reason,
            body,
        }) => {
            assert_eq!(
                (status, reason.as_str(), body.as_str()),
                (502, "Bad Gateway", "upstream down")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_grant_sends_its_own_parameters() {
    let secret = |s: &str| Secret::new(s);
    let cases = [
        (
            Grant::ClientCredentials,
            vec![("grant_type", "client_credentials")],
        ),
        (
            Grant::Password {
                username: "u".into(),
                password: secret("p"),
            },
            vec![
                ("grant_type", "password"),
                ("username", "u"),
                ("password", "p"),
            ],
        ),
        (
            Grant::RefreshToken(secret("rt")),
            vec![("grant_type", "refresh_token"), ("refresh_token", "rt")],
        ),
        (
            Grant::AuthorizationCode {
                code: secret("c"),
                verifier: secret("v"),
                redirect_uri: "http://127.0.0.1:1/cb".into(),
            },
            vec![
                ("grant_type", "authorization_code"),
                ("code", "c"),
                ("code_verifier", "v"),
                ("redirect_uri", "http://127.0.0.1:1/cb"),
            ],
        ),
        (
            Grant::DeviceCode(secret("dc")),
            vec![
                ("grant_type", grant::DEVICE_CODE_GRANT),
                ("device_code", "dc"),
            ],
        ),
    ];
    for (grant, expected) in cases {
        assert_eq!(grant.params(), expected, "{}", grant.name());
        let sent: Vec<&str> = grant.secrets().iter().map(|s| s.expose()).collect();
        for (name, value) in expected {
            let secret_param = !matches!(name, "grant_type" | "username" | "redirect_uri");
            assert_eq!(sent.contains(&value), secret_param, "{name}");
        }
    }
}

#[test]
fn client_authentication_methods_shape_the_request() {
    let url = Url::parse("https://idp.test/token").unwrap();
    let secret = Secret::new("s3cret");
    let basic = TokenRequest {
        auth_method: AuthMethod::Basic,
        scopes: Some("read"),
        audience: Some(" "),
        ..request(&url, &secret)
    };
    let built = basic.build();
    let form = form_of(&built);
    assert!(!form.contains_key("client_id") && !form.contains_key("client_secret"));
    assert_eq!(form["scope"], "read");
    assert!(
        !form.contains_key("audience"),
        "a blank audience is not sent"
    );
    assert_eq!(
        built.headers,
        [(
            "Authorization".to_owned(),
            "Basic Y2xpOnMzY3JldA==".to_owned()
        )]
    );
    let echoed: Vec<&str> = built.echo.iter().map(|s| s.expose()).collect();
    for form in ["s3cret", "cli:s3cret", "Y2xpOnMzY3JldA=="] {
        assert!(echoed.contains(&form), "{form}");
    }

    let post = request(&url, &secret);
    let built = post.build();
    let form = form_of(&built);
    assert_eq!(
        (form["client_id"].as_str(), form["client_secret"].as_str()),
        ("cli", "s3cret")
    );
    assert!(built.headers.is_empty());

    let public = TokenRequest {
        client_secret: None,
        auth_method: AuthMethod::Basic,
        ..request(&url, &secret)
    };
    let built = public.build();
    assert_eq!(form_of(&built)["client_id"], "cli");
    assert!(built.headers.is_empty() && built.echo.is_empty());
}

#[test]
fn a_private_key_jwt_client_sends_no_secret_but_scrubs_it() {
    let url = Url::parse("https://idp.test/token").unwrap();
    let secret = Secret::new("configured-but-unused");
    let req = TokenRequest {
        auth_method: AuthMethod::PrivateKeyJwt,
        client_assertion: None,
        ..request(&url, &secret)
    };
    let built = req.build();
    let form = form_of(&built);
    assert_eq!(form["client_id"], "cli");
    assert!(!form.contains_key("client_assertion") && !form.contains_key("client_secret"));
    assert_eq!(built.echoed(), [&secret]);
}

#[test]
fn a_device_authorization_is_read() {
    let auth = device::parse_authorization(
        "https://idp.test/device",
        200,
        br#"{"device_code":"dc","user_code":"AB-CD","verification_uri":"https://idp.test/d",
            "expires_in":600,"interval":5}"#,
    )
    .unwrap();
    assert_eq!(auth.device_code.expose(), "dc");
    assert_eq!(auth.user_code.expose(), "AB-CD");
    assert_eq!(auth.verification_uri, "https://idp.test/d");
    assert_eq!((auth.expires_in, auth.interval), (Some(600), Some(5)));
    assert!(auth.verification_uri_complete.is_none());
}

#[test]
fn device_authorization_errors_use_the_one_error_parser() {
    let err = device::parse_authorization(
        "https://idp.test/device",
        400,
        br#"{"error":"invalid_scope","error_description":"no such scope"}"#,
    )
    .unwrap_err();
    assert!(
        err.message()
            .ends_with("refused the request (HTTP 400): invalid_scope: no such scope"),
        "{}",
        err.message()
    );
    assert!(err.hint().unwrap().contains("OAUTH_SSO_SCOPES"));
    let err = device::parse_authorization("https://idp.test/device", 500, b"  \n").unwrap_err();
    assert!(
        err.message().ends_with("answered HTTP 500"),
        "{}",
        err.message()
    );
    let big = vec![b' '; crate::http::SMALL_BODY_LIMIT as usize + 1];
    let err = device::parse_authorization("https://idp.test/device", 200, &big).unwrap_err();
    assert!(
        err.message().contains("larger than 1 MiB"),
        "{}",
        err.message()
    );
}

#[test]
fn revocation_sends_the_token_and_reports_the_outcome() {
    let url = Url::parse("https://idp.test/revoke").unwrap();
    let token = Secret::new("rt-9");
    let t = FakeTransport::default();
    t.reply(200, "");
    t.reply(400, r#"{"error":"unsupported_token_type"}"#);
    let kind = revoke::TokenKind::RefreshToken;
    assert!(matches!(
        revoke::revoke(&t, &url, &token, kind, "cli"),
        revoke::Revocation::Revoked
    ));
    assert!(matches!(
        revoke::revoke(&t, &url, &token, revoke::TokenKind::AccessToken, "cli"),
        revoke::Revocation::Refused(400)
    ));
    assert!(matches!(
        revoke::revoke(&t, &url, &token, kind, "cli"),
        revoke::Revocation::Failed(_)
    ));
    let sent = t.requests();
    assert_eq!(sent[0].field("token").as_deref(), Some("rt-9"));
    assert_eq!(
        sent[0].field("token_type_hint").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        sent[1].field("token_type_hint").as_deref(),
        Some("access_token")
    );
    assert_eq!(sent[0].field("client_id").as_deref(), Some("cli"));
}
