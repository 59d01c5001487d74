//! Unit tests of the service-token logic: a fake transport, a moved clock
//! and a token cache in a temporary folder; no sockets.

use std::path::PathBuf;

use super::*;
use crate::auth::testing::env_name;
use crate::auth::testing::FakeTransport;
use crate::clock::FixedClock;

const T0: i64 = 1_800_000_000;

fn config(skew: i64) -> ServiceConfig {
    ServiceConfig {
        scopes: Some("read".into()),
        ..crate::auth::testing::service_config(skew)
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    cache: TokenCache,
    clock: FixedClock,
    transport: FakeTransport,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::new(PathBuf::from(dir.path()).join("tokens"));
    Fixture {
        _dir: dir,
        cache,
        clock: FixedClock::at(T0),
        transport: FakeTransport::default(),
    }
}

fn token_body(access: &str, expires_in: u64, refresh: Option<&str>) -> String {
    let mut body = serde_json::json!({
        "access_token": access, "token_type": "Bearer", "expires_in": expires_in
    });
    if let Some(r) = refresh {
        body["refresh_token"] = r.into();
    }
    body.to_string()
}

#[test]
fn a_miss_acquires_and_a_hit_costs_no_request() {
    let f = fixture();
    let cfg = config(60);
    f.transport.reply(200, &token_body("tok-1", 3600, None));
    let auth = ServiceAuth::new(&cfg, &f.cache, &f.transport, &f.clock);
    let (tok, source) = auth.token().unwrap();
    assert_eq!(
        (tok.access_token.expose(), source),
        ("tok-1", TokenSource::Acquired)
    );
    assert_eq!(tok.expires_at, Some(T0 + 3600));
    let (tok, source) = auth.token().unwrap();
    assert_eq!(
        (tok.access_token.expose(), source),
        ("tok-1", TokenSource::Cache)
    );
    assert_eq!(f.transport.requests().len(), 1);
    let form = &f.transport.requests()[0].body;
    assert!(form.contains("grant_type=client_credentials") && form.contains("scope=read"));
}

#[test]
fn the_skew_makes_a_token_expire_early() {
    let f = fixture();
    let cfg = config(60);
    f.transport.reply(200, &token_body("tok-1", 3600, None));
    f.transport.reply(200, &token_body("tok-2", 3600, None));
    let auth = ServiceAuth::new(&cfg, &f.cache, &f.transport, &f.clock);
    auth.token().unwrap();
    // 61 s before expiry: still valid; 60 s before: counts as expired.
    f.clock.advance(3600 - 61);
    assert_eq!(auth.token().unwrap().1, TokenSource::Cache);
    f.clock.advance(1);
    let (tok, source) = auth.token().unwrap();
    assert_eq!(
        (tok.access_token.expose(), source),
        ("tok-2", TokenSource::Acquired)
    );
    assert_eq!(f.transport.requests().len(), 2);
}

#[test]
fn a_refresh_token_is_tried_first_and_kept_when_not_rotated() {
    let f = fixture();
    let cfg = config(0);
    f.transport
        .reply(200, &token_body("tok-1", 100, Some("r-1")));
    f.transport.reply(200, &token_body("tok-2", 100, None));
    let auth = ServiceAuth::new(&cfg, &f.cache, &f.transport, &f.clock);
    auth.token().unwrap();
    f.clock.advance(100);
    let (tok, _) = auth.token().unwrap();
    assert_eq!(tok.access_token.expose(), "tok-2");
    assert_eq!(tok.refresh_token.as_ref().map(Secret::expose), Some("r-1"));
    let second = &f.transport.requests()[1].body;
    assert!(second.contains("grant_type=refresh_token") && second.contains("refresh_token=r-1"));
}

#[test]
fn a_failed_refresh_falls_back_to_the_grant() {
    let f = fixture();
    let cfg = config(0);
    f.transport
        .reply(200, &token_body("tok-1", 100, Some("r-1")));
    f.transport.reply(400, r#"{"error":"invalid_grant"}"#);
    f.transport.reply(200, &token_body("tok-2", 100, None));
    let auth = ServiceAuth::new(&cfg, &f.cache, &f.transport, &f.clock);
    auth.token().unwrap();
    f.clock.advance(100);
    assert_eq!(auth.token().unwrap().0.access_token.expose(), "tok-2");
    let grants: Vec<bool> = f
        .transport
        .requests()
        .iter()
        .map(|r| r.body.contains("grant_type=client_credentials"))
        .collect();
    assert_eq!(grants, [true, false, true]);
}

#[test]
fn a_failed_exchange_leaves_the_cache_alone() {
    let f = fixture();
    let cfg = config(0);
    f.transport.reply(200, &token_body("tok-1", 100, None));
    f.transport.reply(
        401,
        r#"{"error":"invalid_client","error_description":"bad s3cret"}"#,
    );
    let auth = ServiceAuth::new(&cfg, &f.cache, &f.transport, &f.clock);
    auth.token().unwrap();
    f.clock.advance(100);
    let err = auth.token().unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(
        err.message().contains("invalid_client"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("s3cret"), "the secret is scrubbed");
    match f.cache.read(&env_name("dev")) {
        Lookup::Found(t) => assert_eq!(t.access_token.expose(), "tok-1"),
        other => panic!("cache lost its token: {other:?}"),
    }
}

#[test]
fn a_corrupt_cache_is_a_miss_and_heals() {
    let f = fixture();
    let cfg = config(0);
    std::fs::create_dir_all(f.cache.dir()).unwrap();
    std::fs::write(f.cache.path(&env_name("dev")), "{not json").unwrap();
    f.transport.reply(200, &token_body("tok-1", 100, None));
    let auth = ServiceAuth::new(&cfg, &f.cache, &f.transport, &f.clock);
    assert_eq!(auth.token().unwrap().1, TokenSource::Acquired);
    assert!(matches!(f.cache.read(&env_name("dev")), Lookup::Found(_)));
}

#[test]
fn a_token_for_other_settings_is_a_miss() {
    let f = fixture();
    f.transport.reply(200, &token_body("tok-1", 100, None));
    f.transport.reply(200, &token_body("tok-2", 100, None));
    let first = config(0);
    ServiceAuth::new(&first, &f.cache, &f.transport, &f.clock)
        .token()
        .unwrap();
    let mut other = config(0);
    other.scopes = Some("write".into());
    let (tok, source) = ServiceAuth::new(&other, &f.cache, &f.transport, &f.clock)
        .token()
        .unwrap();
    assert_eq!(
        (tok.access_token.expose(), source),
        ("tok-2", TokenSource::Acquired)
    );
}

#[test]
fn discard_removes_only_the_rejected_token() {
    let f = fixture();
    let cfg = config(0);
    f.transport.reply(200, &token_body("tok-1", 100, None));
    let auth = ServiceAuth::new(&cfg, &f.cache, &f.transport, &f.clock);
    auth.token().unwrap();
    // Another process's newer token stays.
    auth.discard(&Secret::new("tok-old")).unwrap();
    assert!(matches!(f.cache.read(&env_name("dev")), Lookup::Found(_)));
    auth.discard(&Secret::new("tok-1")).unwrap();
    assert!(matches!(f.cache.read(&env_name("dev")), Lookup::Missing));
}

#[test]
fn discard_keeps_the_refresh_token_and_the_next_token_refreshes() {
    let f = fixture();
    let cfg = config(0);
    f.transport
        .reply(200, &token_body("tok-1", 100, Some("rt-1")));
    let auth = ServiceAuth::new(&cfg, &f.cache, &f.transport, &f.clock);
    auth.token().unwrap();
    auth.discard(&Secret::new("tok-1")).unwrap();
    match f.cache.read(&env_name("dev")) {
        Lookup::Found(t) => {
            assert!(t.access_token.is_empty());
            assert_eq!(t.refresh_token, Some(Secret::new("rt-1")));
        }
        other => panic!("{other:?}"),
    }
    f.transport.reply(200, &token_body("tok-2", 100, None));
    let (token, source) = auth.token().unwrap();
    assert_eq!(token.access_token, Secret::new("tok-2"));
    assert_eq!(source, TokenSource::Acquired);
    let sent = f.transport.requests();
    assert!(
        sent.last()
            .unwrap()
            .body
            .contains("grant_type=refresh_token"),
        "the refresh token is tried first"
    );
}

#[test]
fn the_gate_runs_once_and_can_refuse() {
    let f = fixture();
    let cfg = config(0);
    f.transport.reply(200, &token_body("tok-1", 100, None));
    let calls = Cell::new(0);
    let gate = || {
        calls.set(calls.get() + 1);
        Ok(())
    };
    let auth = ServiceAuth::new(&cfg, &f.cache, &f.transport, &f.clock).with_gate(&gate);
    auth.token().unwrap();
    auth.token().unwrap();
    assert_eq!(calls.get(), 1);
    let refuse = || Err(Error::auth("no session"));
    let auth = ServiceAuth::new(&cfg, &f.cache, &f.transport, &f.clock).with_gate(&refuse);
    assert_eq!(auth.token().unwrap_err().message(), "no session");
}
