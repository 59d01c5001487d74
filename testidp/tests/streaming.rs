//! The API's streaming endpoints over real sockets: byte-exact pattern and
//! JSON bodies (with and without `Content-Length`), a body cut short by a
//! closed connection, a body that stalls until released, and the 401 they
//! share with the other API paths.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{basic, get, post_form};
use lmi_testidp::{
    json_array_item, json_broken_tail, pattern_bytes, JsonArrayReader, PatternReader, TestServer,
    DROP_MISSING_BYTES,
};
use serde_json::Value;

fn token(srv: &TestServer) -> String {
    let r = post_form(
        &srv.token_url(),
        Some(&basic("lmi-client", "lmi-secret")),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_string()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A raw HTTP/1.1 GET on a fresh connection; returns the reader positioned
/// at the body, the status line and the lowercased headers.
fn raw_get(
    url: &str,
    path: &str,
    token: &str,
) -> (BufReader<TcpStream>, String, Vec<(String, String)>) {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    (r, status.trim_end().to_string(), headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn streaming_paths_need_a_token() {
    let srv = TestServer::start_default().unwrap();
    for path in [
        "/bytes/10",
        "/json-array/2",
        "/json-broken/2",
        "/drop/10",
        "/stall/10",
    ] {
        let r = get(&format!("{}{path}", srv.api_url()), None);
        assert_eq!(r.status, 401, "{path}");
        assert!(r.header("www-authenticate").is_some(), "{path}");
    }
    let t = token(&srv);
    let r = get(&format!("{}/bytes/lots", srv.api_url()), Some(&t));
    assert_eq!(r.status, 400);
    assert_eq!(srv.stalled_requests(), 0);
}

#[test]
fn bytes_are_the_pattern_with_and_without_length() {
    let srv = TestServer::start_default().unwrap();
    let t = token(&srv);
    for n in [0usize, 1, 7, 100_003] {
        let resp = agent()
            .get(&format!("{}/bytes/{n}", srv.api_url()))
            .header("Authorization", &format!("Bearer {t}"))
            .call()
            .unwrap();
        assert_eq!(resp.status(), 200);
        let len = resp
            .headers()
            .get("content-length")
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(len, n.to_string());
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "application/octet-stream"
        );
        let body = resp
            .into_body()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .unwrap();
        assert_eq!(body, pattern_bytes(0, n));
    }

    // ?chunked: no Content-Length.
    let (_, status, headers) = raw_get(srv.api_url(), "/bytes/70000?chunked=1", &t);
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(header(&headers, "content-length"), None);
    assert_eq!(header(&headers, "transfer-encoding"), Some("chunked"));
    let body = agent()
        .get(&format!("{}/bytes/70000?chunked=1", srv.api_url()))
        .header("Authorization", &format!("Bearer {t}"))
        .call()
        .unwrap()
        .into_body()
        .read_to_vec()
        .unwrap();
    assert_eq!(body, pattern_bytes(0, 70000));
}

#[test]
fn a_large_body_streams_byte_exact() {
    let srv = TestServer::start_default().unwrap();
    let t = token(&srv);
    let n: u64 = 48 * 1024 * 1024;
    let resp = agent()
        .get(&format!("{}/bytes/{n}", srv.api_url()))
        .header("Authorization", &format!("Bearer {t}"))
        .call()
        .unwrap();
    let mut body = resp.into_body();
    let mut reader = body.with_config().limit(u64::MAX).reader();
    let mut expected = PatternReader::new(0, n);
    let (mut got, mut want) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let mut total = 0u64;
    loop {
        let k = reader.read(&mut got).unwrap();
        if k == 0 {
            break;
        }
        expected.read_exact(&mut want[..k]).unwrap();
        assert!(got[..k] == want[..k], "differs near offset {total}");
        total += k as u64;
    }
    assert_eq!(total, n);
    assert_eq!(expected.remaining(), 0);
}

#[test]
fn json_array_and_broken_json() {
    let srv = TestServer::start_default().unwrap();
    let t = token(&srv);
    let r = get(&format!("{}/json-array/250", srv.api_url()), Some(&t));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let want: Vec<Value> = (0..250).map(json_array_item).collect();
    assert_eq!(r.json(), Value::Array(want));
    let mut exact = Vec::new();
    JsonArrayReader::array(250).read_to_end(&mut exact).unwrap();
    assert_eq!(r.body.as_bytes(), &exact[..]);

    let r = get(&format!("{}/json-broken/40", srv.api_url()), Some(&t));
    assert_eq!(r.status, 200);
    let mut exact = Vec::new();
    JsonArrayReader::broken(40).read_to_end(&mut exact).unwrap();
    assert_eq!(r.body.as_bytes(), &exact[..]);
    assert!(r.body.as_bytes().ends_with(&json_broken_tail()));
    assert!(serde_json::from_str::<Value>(&r.body).is_err());
}

#[test]
fn drop_closes_the_connection_mid_body() {
    let srv = TestServer::start_default().unwrap();
    let t = token(&srv);
    let n = 50_000u64;
    let (mut r, status, headers) = raw_get(srv.api_url(), &format!("/drop/{n}"), &t);
    assert!(status.contains(" 200 "), "{status}");
    let announced: u64 = header(&headers, "content-length").unwrap().parse().unwrap();
    assert_eq!(announced, n + DROP_MISSING_BYTES);
    let mut body = Vec::new();
    // EOF (not a timeout) after exactly N bytes: the server hung up.
    r.read_to_end(&mut body).unwrap();
    assert_eq!(body, pattern_bytes(0, n as usize));

    // A client reading the announced length gets an error.
    let resp = agent()
        .get(&format!("{}/drop/{n}", srv.api_url()))
        .header("Authorization", &format!("Bearer {t}"))
        .call()
        .unwrap();
    assert!(resp.into_body().read_to_vec().is_err());
}

#[test]
fn drop_after_a_keep_alive_request() {
    let srv = TestServer::start_default().unwrap();
    let t = token(&srv);
    let addr = srv.api_url().strip_prefix("http://").unwrap().to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /text HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {t}\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut seen = String::new();
    while !seen.ends_with("hello\n") {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0);
        seen.push_str(&line);
    }
    write!(
        s,
        "GET /drop/3 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {t}\r\n\r\n"
    )
    .unwrap();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(rest.ends_with(&pattern_bytes(0, 3)));
}

fn wait_stalled(srv: &TestServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while srv.stalled_requests() != n {
        assert!(Instant::now() < deadline, "never {n} stalled responses");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn stall_holds_the_body_until_released() {
    let srv = TestServer::start_default().unwrap();
    let t = token(&srv);
    let n = 1000usize;
    let (mut r, status, headers) = raw_get(srv.api_url(), &format!("/stall/{n}"), &t);
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(header(&headers, "transfer-encoding"), Some("chunked"));
    let mut size = String::new();
    r.read_line(&mut size).unwrap();
    assert_eq!(usize::from_str_radix(size.trim(), 16).unwrap(), n);
    let mut chunk = vec![0u8; n + 2];
    r.read_exact(&mut chunk).unwrap();
    assert_eq!(&chunk[..n], &pattern_bytes(0, n)[..]);
    wait_stalled(&srv, 1);

    // Nothing more arrives while stalled: a client timeout fires.
    r.get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut one = [0u8; 1];
    let err = r.read(&mut one).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );

    assert_eq!(srv.release_stalled(), 1);
    r.get_ref()
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"0\r\n\r\n");
    assert_eq!(srv.stalled_requests(), 0);

    // A ureq client with a short timeout gives up on a stalled body.
    let short: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .timeout_recv_body(Some(Duration::from_millis(300)))
        .build()
        .into();
    let resp = short
        .get(&format!("{}/stall/10", srv.api_url()))
        .header("Authorization", &format!("Bearer {t}"))
        .call()
        .unwrap();
    assert!(resp.into_body().read_to_vec().is_err());
    drop(srv);
}
