//! `lmi api graphql` (SPEC §4.4): `{"query", "variables"}` POSTed to
//! `API_GRAPHQL_URL`, through the same authenticated client as every other
//! request (origin pinning, the 401 discard-and-retry, streaming).
//!
//! GraphQL servers answer most failures with HTTP 200 and an `errors`
//! array. The body is still streamed to stdout as it arrives; an
//! [`ErrorsWatch`] looks at the bytes on their way past (a few bytes of
//! state, no buffering) and tells whether the top-level object had a
//! non-empty `errors` array, which makes the run end with exit 5.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::fields::Fields;
use crate::error::{Error, Result};

/// The PATH that selects GraphQL, as in `gh api graphql`.
pub const PATH: &str = "graphql";

/// The request body: `{"query": query, "variables": variables}`. Pagination
/// calls it again with `endCursor` set among the variables.
pub fn request_body(query: &str, variables: &Map<String, Value>) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("query".into(), Value::String(query.to_owned()));
    body.insert("variables".into(), Value::Object(variables.clone()));
    Value::Object(body).to_string().into_bytes()
}

/// The query and the variables from the command line's fields: `query` is
/// the query, every other field a variable.
pub fn query_and_variables(mut fields: Fields) -> Result<(String, Map<String, Value>)> {
    let query = match fields.take("query") {
        Some(Value::String(q)) if !q.trim().is_empty() => q,
        Some(Value::String(_)) => {
            return Err(Error::usage("the GraphQL query is empty")
                .with_hint("give it with -f query='{ viewer { login } }' or -F query=@file.graphql"))
        }
        Some(other) => {
            return Err(Error::usage(format!(
                "the GraphQL query must be text, not {other}"
            ))
            .with_hint("give it with -f query='...' (-f never converts types)"))
        }
        None => {
            return Err(Error::usage("lmi api graphql needs a query")
                .with_hint("give it with -f query='{ viewer { login } }' or -F query=@file.graphql; other fields are its variables"))
        }
    };
    Ok((query, fields.to_object()?))
}

/// What a GraphQL request may not combine with.
pub fn check_args(method: Option<&str>, file: Option<&str>) -> Result<()> {
    if let Some(m) = method {
        if !m.trim().eq_ignore_ascii_case("POST") {
            return Err(Error::usage(format!(
                "lmi api graphql always POSTs; -X {m} cannot be used with it"
            )));
        }
    }
    if file.is_some() {
        return Err(Error::usage(
            "lmi api graphql builds its body from the fields; --file cannot be used with it",
        )
        .with_hint("give the query with -F query=@file.graphql and variables with -f/-F"));
    }
    Ok(())
}

/// The error for a 200 whose body carried GraphQL errors.
pub fn errors_error(what: &str) -> Error {
    Error::service(format!(
        "{what} answered with GraphQL errors (printed above)"
    ))
}

/// Watches a body as it is read for a non-empty top-level `errors` array.
pub struct ErrorsWatch<R> {
    inner: R,
    scan: Scan,
    found: Arc<AtomicBool>,
}

impl<R: Read> ErrorsWatch<R> {
    /// The wrapped reader, and the flag it sets when it sees the errors.
    pub fn new(inner: R) -> (ErrorsWatch<R>, Arc<AtomicBool>) {
        let found = Arc::new(AtomicBool::new(false));
        let watch = ErrorsWatch {
            inner,
            scan: Scan::default(),
            found: Arc::clone(&found),
        };
        (watch, found)
    }
}

impl<R: Read> Read for ErrorsWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !self.scan.found && self.scan.feed(&buf[..n]) {
            self.found.store(true, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// Where the scan is after the top-level key `errors` and its `:`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Watch {
    #[default]
    Idle,
    /// The next token is the value of `errors`.
    Value,
    /// Inside `errors: [`: anything but `]` is a first element.
    FirstElement,
}

/// A JSON tokenizer reduced to what finds `{"errors": [x, ...]}` at the top
/// level: nesting depth, strings (to skip their content) and the top-level
/// keys, compared with `errors` as they stream past.
#[derive(Debug, Default)]
struct Scan {
    depth: usize,
    in_string: bool,
    escape: bool,
    /// At depth 1, after `{` or `,`: the next string is a key.
    expect_key: bool,
    /// The top-level key being read, while it can still be `errors`.
    key: Option<Vec<u8>>,
    last_key_is_errors: bool,
    watch: Watch,
    found: bool,
}

impl Scan {
    /// Feeds bytes; true once the errors were seen.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            if self.in_string {
                self.string_byte(b);
                continue;
            }
            if b.is_ascii_whitespace() {
                continue;
            }
            match self.watch {
                Watch::Idle => {}
                Watch::Value => {
                    self.watch = if b == b'[' {
                        Watch::FirstElement
                    } else {
                        Watch::Idle
                    }
                }
                Watch::FirstElement => {
                    self.watch = Watch::Idle;
                    if b != b']' {
                        self.found = true;
                        return true;
                    }
                }
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    self.key = (self.depth == 1 && self.expect_key).then(Vec::new);
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    self.expect_key = self.depth == 1 && b == b'{';
                }
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                b',' if self.depth == 1 => self.expect_key = true,
                b':' if self.depth == 1 => {
                    self.expect_key = false;
                    if std::mem::take(&mut self.last_key_is_errors) {
                        self.watch = Watch::Value;
                    }
                }
                _ => {}
            }
        }
        self.found
    }

    fn string_byte(&mut self, b: u8) {
        if self.escape {
            self.escape = false;
        } else if b == b'\\' {
            self.escape = true;
        } else if b == b'"' {
            self.in_string = false;
            if let Some(key) = self.key.take() {
                self.last_key_is_errors = key == b"errors";
            }
            return;
        }
        if let Some(key) = &mut self.key {
            // Longer than `errors`: no need to keep collecting.
            if key.len() > 6 {
                self.key = Some(b"-".to_vec());
            } else {
                key.push(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn found(body: &str) -> bool {
        // Byte by byte too, as a stream may split it anywhere.
        let whole = Scan::default().feed(body.as_bytes());
        let mut scan = Scan::default();
        for b in body.as_bytes() {
            scan.feed(std::slice::from_ref(b));
        }
        assert_eq!(scan.found, whole, "{body}");
        whole
    }

    #[test]
    fn top_level_non_empty_errors_are_found() {
        assert!(found(r#"{"errors":[{"message":"boom"}]}"#));
        assert!(found(r#"{"data": null, "errors" : [ "x" ]}"#));
        assert!(found(
            "{\n  \"data\": {\"a\": [1, 2]},\n  \"errors\": [\n {}]\n}"
        ));
        assert!(!found(r#"{"data":{"errors":[1]}}"#));
        assert!(!found(r#"{"errors":[]}"#));
        assert!(!found(r#"{"errors": [ ] , "data": 1}"#));
        assert!(!found(r#"{"errors":null}"#));
        assert!(!found(r#"{"data":"\"errors\":[1]"}"#));
        assert!(!found(r#"{"errorsX":[1], "data": "errors"}"#));
        assert!(!found(r#"[{"errors":[1]}]"#));
        assert!(!found(
            r#"{"a":{"b":"}"}, "x": "errors", "y": ["errors", 1]}"#
        ));
        assert!(!found("not json"));
    }

    #[test]
    fn the_watch_passes_bytes_through() {
        let body = br#"{"errors":[{"message":"boom"}]}"#;
        let (mut watch, flag) = ErrorsWatch::new(&body[..]);
        let mut out = Vec::new();
        watch.read_to_end(&mut out).unwrap();
        assert_eq!(out, body);
        assert!(flag.load(Ordering::Relaxed));
    }

    #[test]
    fn bodies_and_queries() {
        let vars = json!({"n": 3, "owner": "x"});
        let body = request_body("query($n:Int){a}", vars.as_object().unwrap());
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed,
            json!({"query": "query($n:Int){a}", "variables": vars})
        );

        let fields = Fields::parse(
            &["query={ a }".to_owned(), "owner=x".to_owned()],
            &["n=3".to_owned()],
            false,
        )
        .unwrap();
        let (q, v) = query_and_variables(fields).unwrap();
        assert_eq!(q, "{ a }");
        assert_eq!(Value::Object(v), json!({"owner": "x", "n": 3}));

        let none = Fields::parse(&["owner=x".to_owned()], &[], false).unwrap();
        assert_eq!(query_and_variables(none).unwrap_err().exit_code(), 2);
        let typed = Fields::parse(&[], &["query=1".to_owned()], false).unwrap();
        assert_eq!(query_and_variables(typed).unwrap_err().exit_code(), 2);
        assert_eq!(check_args(Some("GET"), None).unwrap_err().exit_code(), 2);
        assert_eq!(check_args(None, Some("-")).unwrap_err().exit_code(), 2);
        assert!(check_args(Some("post"), None).is_ok());
    }
}
