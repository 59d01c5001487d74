//! What `lmi api` prints: the `-i` head, then the body streamed to stdout
//! as it arrives (SPEC §4, issue 13). JSON is re-indented on the fly in
//! JSON mode; anything else is copied byte for byte. Memory stays bounded
//! whatever the size, and what was written stays written when the body
//! breaks off.

use std::io;
use std::time::Duration;

use crate::auth::client::Request;
use crate::error::{Error, Result};
use crate::http::StreamingResponse;
use crate::output::{JsonEnd, Output, ReadFailure};
use crate::redact;

/// Streams the response to stdout; an error when the body could not be
/// read to its end (a dropped connection, a stall beyond `timeout`).
pub fn print(
    out: &Output,
    request: &Request,
    response: &mut StreamingResponse,
    include: bool,
    timeout: Duration,
) -> Result<()> {
    let head = if include { head(response) } else { Vec::new() };
    let reindent = out.is_json() && reindents(response);
    let streamed = out.stream(&head, &mut response.body, reindent)?;
    let streamed = match streamed {
        Ok(s) => s,
        Err(failure) => return Err(read_failure(request, response, failure, timeout)),
    };
    let kind = response.header("content-type").unwrap_or_default();
    match streamed.json {
        JsonEnd::Copied | JsonEnd::Complete => {}
        JsonEnd::Broken { at: 0 } => tracing::warn!(
            target: "api",
            "the response claims to be JSON ({kind}) but is not; written as received"
        ),
        JsonEnd::Broken { at } => tracing::warn!(
            target: "api",
            "the response claims to be JSON ({kind}) but stops being JSON at byte {at}; re-indented up to there, the rest written as received"
        ),
        JsonEnd::TooDeep { at } => tracing::warn!(
            target: "api",
            "the JSON response nests deeper than {} levels at byte {at}; re-indented up to there, the rest written as received",
            crate::output::json_stream::MAX_DEPTH
        ),
        JsonEnd::Incomplete => tracing::warn!(
            target: "api",
            "the JSON response ended after {} bytes, before the document was complete",
            streamed.bytes
        ),
    }
    Ok(())
}

/// The error for a body that broke off after `failure.bytes` bytes: a
/// dropped connection, or a stall beyond `timeout`.
pub fn read_failure(
    request: &Request,
    response: &StreamingResponse,
    failure: ReadFailure,
    timeout: Duration,
) -> Error {
    let what = format!("{} {}", request.method, redact::url(&request.url));
    let received = match response.header("content-length") {
        Some(len) => format!("{} of {len} bytes", failure.bytes),
        None => format!("{} bytes", failure.bytes),
    };
    let err = if failure.error.kind() == io::ErrorKind::TimedOut {
        Error::service(format!(
            "{what}: the response stalled for more than {} s (HTTP_TIMEOUT) after {received} of the body",
            timeout.as_secs()
        ))
        .with_hint("HTTP_TIMEOUT sets how long lmi waits between pieces of the body")
    } else {
        Error::service(format!(
            "{what}: the connection broke after {received} of the body: {}",
            failure.error
        ))
    };
    err.with_cause(failure.error)
}

/// The status line and headers, then a blank line.
pub fn head(response: &StreamingResponse) -> Vec<u8> {
    let mut out = format!(
        "{} {} {}",
        response.version, response.status, response.reason
    )
    .trim_end()
    .to_owned();
    out.push('\n');
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}\n"));
    }
    out.push('\n');
    out.into_bytes()
}

/// Whether the body is re-indented: it says it is JSON (`application/json`
/// or a `+json` type), and it is not content-encoded. lmi's HTTP client
/// asks for no encoding and decodes none, so an encoded body (one a `-H
/// 'Accept-Encoding: …'` asked for) is written as received, never decoded.
fn reindents(response: &StreamingResponse) -> bool {
    let encoded = response
        .header("content-encoding")
        .is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"));
    !encoded && response.header("content-type").is_some_and(claims_json)
}

/// `application/json`, `application/problem+json`, `…; charset=utf-8`.
fn claims_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(headers: &[(&str, &str)]) -> StreamingResponse {
        StreamingResponse {
            status: 200,
            reason: "OK".into(),
            version: "HTTP/1.1".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: Box::new(io::empty()),
        }
    }

    #[test]
    fn only_unencoded_json_is_reindented() {
        assert!(reindents(&response(&[(
            "Content-Type",
            "application/json"
        )])));
        assert!(reindents(&response(&[(
            "content-type",
            "application/problem+json; charset=utf-8"
        )])));
        assert!(!reindents(&response(&[("Content-Type", "text/plain")])));
        assert!(!reindents(&response(&[])));
        assert!(!reindents(&response(&[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ])));
        assert!(reindents(&response(&[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "identity"),
        ])));
    }

    #[test]
    fn the_head_comes_first() {
        let r = response(&[("Content-Type", "text/plain")]);
        assert_eq!(
            String::from_utf8(head(&r)).unwrap(),
            "HTTP/1.1 200 OK\nContent-Type: text/plain\n\n"
        );
    }
}
