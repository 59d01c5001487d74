//! Streamed responses and request bodies (issue 13): large bodies byte for
//! byte, JSON re-indented on the fly, JSON that breaks part-way, `-i` with a
//! stream, a 401 body never shown, a dropped or stalled connection, a closed
//! pipe, bounded memory measured from outside, and a large upload.

use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use lmi_testidp::{
    json_array_item, json_broken_tail, JsonArrayReader, PatternReader, DROP_MISSING_BYTES,
};
use serde_json::Value;

use super::{sandbox, sandbox_with, server};

const MIB: u64 = 1024 * 1024;

/// Reads `actual` to its end, comparing it piece by piece with `expected`
/// (neither held whole); the number of bytes read.
#[track_caller]
fn assert_same_stream(mut actual: impl Read, mut expected: impl Read) -> u64 {
    let mut a = vec![0u8; 256 * 1024];
    let mut e = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = read_full(&mut actual, &mut a);
        let m = read_full(&mut expected, &mut e);
        if let Some(at) = a[..n.min(m)].iter().zip(&e[..m]).position(|(x, y)| x != y) {
            panic!(
                "the output differs from the source at byte {}",
                total + at as u64
            );
        }
        assert_eq!(
            n,
            m,
            "the output ends at byte {} instead of {}",
            total + n as u64,
            total + m as u64
        );
        if n == 0 {
            return total;
        }
        total += n as u64;
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> usize {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    filled
}

/// `cmd` run under `/usr/bin/time -f %M -o <file>`, as a new command.
fn under_time(cmd: &Command, report: &Path) -> Command {
    let time = Path::new("/usr/bin/time");
    assert!(
        time.exists(),
        "/usr/bin/time is needed to measure peak memory (Debian package `time`)"
    );
    let mut timed = Command::new(time);
    timed
        .args(["-f", "%M", "-o"])
        .arg(report)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            timed.env(k, v);
        }
    }
    timed
}

#[test]
fn api_streams_a_300_mib_body_byte_for_byte_in_bounded_memory() {
    let srv = server();
    let sb = sandbox(&srv);
    sb.run(&["api", "/whoami"]).assert_ok();
    let len = 300 * MIB;
    let report = sb.home().join("rss");
    let path = format!("/bytes/{len}");
    let mut child = under_time(&sb.cmd(&["api", &path]), &report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let read = assert_same_stream(stdout, PatternReader::new(0, len));
    assert_eq!(read, len);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kib: u64 = std::fs::read_to_string(&report)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        kib <= 32 * 1024,
        "peak RSS {kib} KiB for a {len}-byte body; lmi must stream in bounded memory"
    );
}

#[test]
fn api_chunked_bodies_stream_too() {
    let srv = server();
    let sb = sandbox(&srv);
    let len = 5 * MIB + 3;
    let mut child = sb
        .cmd(&["api", &format!("/bytes/{len}?chunked")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let read = assert_same_stream(child.stdout.take().unwrap(), PatternReader::new(0, len));
    assert_eq!(read, len);
    assert!(child.wait().unwrap().success());
}

#[test]
fn api_reindents_a_large_json_array_to_the_same_document() {
    let srv = server();
    let sb = sandbox(&srv);
    let n = 40_000;
    let out = sb.run(&["api", &format!("/json-array/{n}")]);
    out.assert_ok();
    assert!(out.stderr.is_empty(), "no warning: {}", out.stderr);
    assert!(out.stdout.ends_with("\n]\n"));
    let want: Vec<Value> = (0..n).map(json_array_item).collect();
    assert_eq!(out.json(), Value::Array(want));
    // Re-indented as the server wrote it (member order and number text),
    // which for a compact serde_json document is serde_json's pretty form.
    let first = serde_json::to_string_pretty(&json_array_item(0))
        .unwrap()
        .replace('\n', "\n  ");
    assert!(
        out.stdout.starts_with(&format!("[\n  {first},\n  {{")),
        "{}",
        &out.stdout[..400]
    );
}

#[test]
fn api_json_that_breaks_keeps_the_reindented_prefix_and_the_rest_as_received() {
    let srv = server();
    let sb = sandbox(&srv);
    let n = 3_000;
    let out = sb.run(&["api", &format!("/json-broken/{n}")]);
    out.assert_ok();
    let tail = String::from_utf8(json_broken_tail()).unwrap();
    assert!(
        out.stdout.ends_with(&tail),
        "the rest is written as received"
    );
    let prefix = &out.stdout[..out.stdout.len() - tail.len()];
    assert!(prefix.starts_with("[\n  {\n"), "the prefix is re-indented");
    let closed = format!("{}]", prefix.trim_end().trim_end_matches(','));
    let parsed: Value = serde_json::from_str(&closed).unwrap();
    assert_eq!(parsed, Value::Array((0..n).map(json_array_item).collect()));
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("JSON")).collect();
    assert_eq!(warnings.len(), 1, "one warning: {}", out.stderr);
    assert!(warnings[0].starts_with("warning:"), "{}", out.stderr);
    assert!(warnings[0].contains("as received"), "{}", out.stderr);
}

#[test]
fn api_include_prints_the_head_before_a_streamed_body() {
    let srv = server();
    let sb = sandbox(&srv);
    let len = 2 * MIB;
    let mut child = sb
        .cmd(&["api", "-i", &format!("/bytes/{len}")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = io::BufReader::new(child.stdout.take().unwrap());
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        io::BufRead::read_until(&mut stdout, b'\n', &mut line).unwrap();
        if line == b"\n" || line.is_empty() {
            break;
        }
        head.push(String::from_utf8(line).unwrap());
    }
    assert_eq!(head[0], "HTTP/1.1 200 OK\n");
    assert!(
        head.iter()
            .any(|h| h.eq_ignore_ascii_case(&format!("content-length: {len}\n"))),
        "{head:?}"
    );
    assert_eq!(assert_same_stream(stdout, PatternReader::new(0, len)), len);
    assert!(child.wait().unwrap().success());
}

#[test]
fn api_a_401_body_is_never_printed_and_the_retry_answers() {
    let srv = server();
    let sb = sandbox(&srv);
    sb.run(&["api", "/whoami"]).assert_ok();
    srv.invalidate_all_tokens();
    srv.reset_counts();
    let out = sb.run(&["api", "/json-array/3"]);
    out.assert_ok();
    assert!(!out.stdout.contains("invalid_token"), "{}", out.stdout);
    assert_eq!(
        out.json(),
        Value::Array((0..3).map(json_array_item).collect())
    );
    assert_eq!(srv.api_requests(), 2, "the refused call and one retry");
}

#[test]
fn api_a_dropped_connection_exits_5_saying_how_much_arrived() {
    let srv = server();
    let sb = sandbox(&srv);
    let n = 3 * MIB + 17;
    let mut child = sb
        .cmd(&["api", &format!("/drop/{n}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let read = assert_same_stream(child.stdout.take().unwrap(), PatternReader::new(0, n));
    assert_eq!(read, n, "what arrived stays written");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("after {n} of {} bytes", n + DROP_MISSING_BYTES)),
        "{stderr}"
    );
}

#[test]
fn api_a_stall_beyond_http_timeout_exits_5_naming_it() {
    let srv = server();
    let sb = sandbox_with(&srv, "HTTP_TIMEOUT=1\n");
    let n = MIB;
    let mut child = sb
        .cmd(&["api", &format!("/stall/{n}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let read = assert_same_stream(child.stdout.take().unwrap(), PatternReader::new(0, n));
    assert_eq!(read, n, "what arrived stays written");
    let out = child.wait_with_output().unwrap();
    srv.release_stalled();
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HTTP_TIMEOUT"), "{stderr}");
    assert!(stderr.contains(&format!("after {n} bytes")), "{stderr}");
}

#[test]
fn api_a_closed_pipe_ends_quietly() {
    let srv = server();
    let sb = sandbox(&srv);
    sb.run(&["api", "/whoami"]).assert_ok();
    for path in [
        format!("/bytes/{}", 256 * MIB),
        "/json-array/200000".to_owned(),
    ] {
        let mut child = sb
            .cmd(&["api", &path])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 100];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn api_streams_a_large_file_upload() {
    let srv = server();
    let sb = sandbox(&srv);
    // About 12 MiB of JSON, checked and sent from the file.
    let file = sb.home().join("big.json");
    let mut body = Vec::new();
    JsonArrayReader::array(60_000)
        .read_to_end(&mut body)
        .unwrap();
    std::fs::write(&file, &body).unwrap();
    let out = sb.run(&["api", "/echo", "--file", file.to_str().unwrap()]);
    out.assert_ok();
    let echoed = out.json();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["content_type"], "application/json");
    assert!(
        echoed["body"].as_str().unwrap().as_bytes() == body.as_slice(),
        "the body arrives whole"
    );
    assert_eq!(
        srv.last_api_request().unwrap().header("content-length"),
        Some(body.len().to_string().as_str())
    );
}

#[test]
fn api_deeply_nested_json_is_written_as_received_past_the_depth_limit_in_bounded_memory() {
    use crate::support::hostile::{Hostile, Reply};
    // About 1 MB: 128 documents' worth of `[` 4096 deep, then as many `]`.
    let block = format!("{}{}", "[".repeat(4096), "]".repeat(4096));
    let body = format!("[{}]", vec![block; 128].join(","));
    let api = {
        let body = body.clone();
        Hostile::start(move |_| Reply::json(200, body.clone()))
    };
    let srv = server();
    let sb = super::sandbox_with(&srv, "");
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL={}\n",
            srv.token_url(),
            api.url("")
        ),
    );
    let report = sb.home().join("rss");
    let out: crate::support::Outcome = under_time(&sb.cmd(&["api", "/deep"]), &report)
        .output()
        .unwrap()
        .into();
    out.assert_ok();
    assert_eq!(api.hits(), 1);
    // Re-indented to the limit (64 levels), then every byte as received:
    // the output is the body plus the indentation of those 64 levels.
    let limit = 64;
    assert!(
        out.stdout.len() < body.len() + 2 * limit * limit + 4 * limit,
        "{} bytes written for a {}-byte body",
        out.stdout.len(),
        body.len()
    );
    assert!(
        out.stdout.ends_with(&body[body.len() - 1000..]),
        "the rest as received"
    );
    assert!(
        out.stdout.starts_with("[\n  [\n    [\n"),
        "re-indented up to the limit"
    );
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("JSON")).collect();
    assert_eq!(warnings.len(), 1, "one warning: {}", out.stderr);
    assert!(
        warnings[0].starts_with("warning:")
            && warnings[0].contains("deeper than 64 levels")
            && warnings[0].contains("as received"),
        "{}",
        out.stderr
    );
    let kib: u64 = std::fs::read_to_string(&report)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(kib <= 32 * 1024, "peak RSS {kib} KiB");

    // As deep as the limit: re-indented whole, with no warning.
    let fine = format!("{}{}", "[".repeat(limit), "]".repeat(limit));
    let api = Hostile::start(move |_| Reply::json(200, fine.clone()));
    sb.write_env(
        "dev",
        &format!(
            "OAUTH_TOKEN_URL={}\nOAUTH_CLIENT_ID=lmi-client\nOAUTH_CLIENT_SECRET=lmi-secret\nAPI_BASE_URL={}\n",
            srv.token_url(),
            api.url("")
        ),
    );
    let out = sb.run(&["api", "/fine"]);
    out.assert_ok();
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let parsed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(parsed.is_array());
    assert_eq!(out.stdout.lines().count(), 2 * limit - 1);
}
