//! The agent's wire protocol, version 1 (SPEC §9): one JSON request line
//! and one JSON answer line per connection, both `\n`-terminated UTF-8.
//!
//! Every request carries `"v":1` and an `op`; every answer carries `"v":1`
//! and `"ok"`, and either the op's fields or an `error` object with a
//! [`ErrorCode`], a message and a hint. The types here are the whole
//! protocol, for the agent and for its clients: [`Request`] (what a client
//! asks), the answer bodies ([`StatusAnswer`], [`SsoAnswer`], …) and
//! [`WireError`]. Lines are read with [`read_line_bounded`], so a peer can
//! never make either side hold more than [`MAX_LINE`] bytes.
//!
//! What travels is access tokens, ID tokens, their expiry, the user and the
//! issuer; the answer types have no field for a refresh token, client
//! secret, password, key or assertion, so none can be sent by mistake.
//! Times are RFC 3339 UTC on the wire and Unix seconds in the types.

use std::io::{self, BufRead, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::secret::Secret;

mod answers;
mod error;

pub use answers::*;
pub use error::{ErrorCode, WireError};

/// The protocol version this lmi speaks.
pub const VERSION: u64 = 1;

/// The longest request or answer line, newline included (64 KiB).
pub const MAX_LINE: usize = 64 * 1024;

/// What a client asks the agent (the `op` of a request line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The agent's pid, sessions and shared environments.
    Status,
    /// The agent's SSO session, refreshed when expired. With `issuer` or
    /// `client_id`, the agent's session must be for them
    /// (`session_mismatch` otherwise).
    Sso {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issuer: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// A shared environment's service token.
    Token { environment: String },
    /// Compare-and-discard after a 401: the agent drops its cached token
    /// for `environment` if it is still `access_token`.
    Discard {
        environment: String,
        access_token: Secret,
    },
    /// A DPoP proof (SPEC §4.3) for sending `access_token`, the token the
    /// agent holds for the shared `environment`, with `htm htu`; `nonce`
    /// is the one the client learned from that origin, else the agent's.
    Proof {
        environment: String,
        htm: String,
        htu: String,
        access_token: Secret,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// The names of the shared environments.
    Environments,
    /// Ends the agent (it answers first).
    Stop,
}

/// The op names [`Request`] knows, to tell an unknown op from bad fields.
const OPS: &[&str] = &[
    "status",
    "sso",
    "token",
    "discard",
    "proof",
    "environments",
    "stop",
];

impl Request {
    /// The op's name, for logs.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Sso { .. } => "sso",
            Request::Token { .. } => "token",
            Request::Discard { .. } => "discard",
            Request::Proof { .. } => "proof",
            Request::Environments => "environments",
            Request::Stop => "stop",
        }
    }

    /// The request as one line (without the newline), `"v":1` included.
    pub fn to_line(&self) -> String {
        let mut object = to_object(self);
        object.insert("v".into(), Value::from(VERSION));
        Value::Object(object).to_string()
    }

    /// Reads a request line: the version first (any other is
    /// `unsupported_version`), then the op (`unknown_op`), then its fields
    /// (`bad_request`).
    pub fn parse(line: &[u8]) -> Result<Request, WireError> {
        let value: Value = serde_json::from_slice(line).map_err(|e| {
            WireError::new(
                ErrorCode::BadRequest,
                format!("the request is not one JSON object: {e}"),
            )
        })?;
        let Value::Object(mut object) = value else {
            return Err(WireError::new(
                ErrorCode::BadRequest,
                "the request is not a JSON object",
            ));
        };
        check_version(object.remove("v"))?;
        let op = match object.get("op") {
            Some(Value::String(op)) => op.clone(),
            Some(_) | None => {
                return Err(WireError::new(
                    ErrorCode::BadRequest,
                    "the request has no \"op\" string",
                ))
            }
        };
        if !OPS.contains(&op.as_str()) {
            return Err(WireError::new(
                ErrorCode::UnknownOp,
                format!("unknown op {:?}", crate::redact::excerpt(&op, 40)),
            )
            .with_hint(format!("this agent knows: {}", OPS.join(", "))));
        }
        serde_json::from_value(Value::Object(object))
            .map_err(|e| WireError::new(ErrorCode::BadRequest, format!("bad {op:?} request: {e}")))
    }
}

pub(crate) fn check_version(v: Option<Value>) -> Result<(), WireError> {
    match v {
        Some(v) if v.as_u64() == Some(VERSION) => Ok(()),
        Some(v) => Err(WireError::new(
            ErrorCode::UnsupportedVersion,
            format!(
                "protocol version {} is not supported; this side speaks version {VERSION}",
                crate::redact::excerpt(&v.to_string(), 20)
            ),
        )
        .with_hint("use the same lmi version where the agent runs and here")),
        None => Err(WireError::new(
            ErrorCode::BadRequest,
            "the line has no \"v\" (protocol version)",
        )),
    }
}

pub(crate) fn to_object<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(object)) => object,
        // The protocol's types all serialize to objects; anything else
        // would be a bug in this file, and an empty object is still a
        // well-formed line.
        _ => Map::new(),
    }
}
/// A success answer line (without the newline): `body`'s fields with
/// `"v":1` and `"ok":true`.
pub fn answer_line<T: Serialize>(body: &T) -> String {
    let mut object = Map::new();
    object.insert("v".into(), Value::from(VERSION));
    object.insert("ok".into(), Value::Bool(true));
    object.extend(to_object(body));
    Value::Object(object).to_string()
}

/// Reads an answer line: `Ok(body)` for `"ok":true`, `Err` with the
/// agent's error for `"ok":false`, or a `bad_request` error describing a
/// line that is neither.
pub fn parse_answer<T: DeserializeOwned>(line: &[u8]) -> Result<T, WireError> {
    let bad = |why: String| WireError::new(ErrorCode::BadRequest, why);
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| bad(format!("the agent's answer is not JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(bad("the agent's answer is not a JSON object".into()));
    };
    check_version(object.remove("v"))?;
    match object.remove("ok") {
        Some(Value::Bool(true)) => serde_json::from_value(Value::Object(object))
            .map_err(|e| bad(format!("the agent's answer is not what was asked for: {e}"))),
        Some(Value::Bool(false)) => {
            let error = object.remove("error").unwrap_or(Value::Null);
            Err(serde_json::from_value(error)
                .unwrap_or_else(|e| bad(format!("the agent's error answer is malformed: {e}"))))
        }
        _ => Err(bad("the agent's answer has no \"ok\"".into())),
    }
}

/// Why [`read_line_bounded`] gave no line.
#[derive(Debug)]
pub enum LineError {
    /// The peer closed the connection before a whole line.
    Closed,
    /// More than the limit without a newline.
    TooLong,
    /// Reading failed (a read timeout is `WouldBlock` or `TimedOut`).
    Io(io::Error),
}

/// Reads one `\n`-terminated line of at most `max` bytes (newline
/// included) and returns it without the newline. Never holds more than
/// `max` bytes, whatever the peer sends.
pub fn read_line_bounded<R: BufRead>(reader: R, max: usize) -> Result<Vec<u8>, LineError> {
    let mut line = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX);
    let read = reader
        .take(limit)
        .read_until(b'\n', &mut line)
        .map_err(LineError::Io)?;
    if line.last() == Some(&b'\n') {
        line.pop();
        return Ok(line);
    }
    if read >= max {
        return Err(LineError::TooLong);
    }
    Err(LineError::Closed)
}

/// Writes `line` and its newline, then flushes.
pub fn write_line<W: Write>(mut writer: W, line: &str) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    writer.write_all(&bytes)?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_800_000_000;

    fn round_trip(request: Request) {
        let line = request.to_line();
        assert!(line.contains("\"v\":1"), "{line}");
        assert_eq!(Request::parse(line.as_bytes()).unwrap(), request, "{line}");
    }

    #[test]
    fn every_request_round_trips() {
        round_trip(Request::Status);
        round_trip(Request::Proof {
            environment: "shared".into(),
            htm: "GET".into(),
            htu: "https://api.test/x".into(),
            access_token: Secret::new("at"),
            nonce: Some("n1".into()),
        });
        round_trip(Request::Sso {
            issuer: None,
            client_id: None,
        });
        round_trip(Request::Sso {
            issuer: Some("https://idp.test".into()),
            client_id: Some("cli".into()),
        });
        round_trip(Request::Token {
            environment: "dev".into(),
        });
        round_trip(Request::Discard {
            environment: "dev".into(),
            access_token: Secret::new("at-1"),
        });
        round_trip(Request::Environments);
        round_trip(Request::Stop);
    }

    #[test]
    fn requests_have_the_documented_shape() {
        let line = Request::Token {
            environment: "dev".into(),
        }
        .to_line();
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"v": 1, "op": "token", "environment": "dev"})
        );
        let sso: Value = serde_json::from_str(
            &Request::Sso {
                issuer: None,
                client_id: None,
            }
            .to_line(),
        )
        .unwrap();
        assert_eq!(sso, serde_json::json!({"v": 1, "op": "sso"}));
    }

    fn code_of(line: &str) -> ErrorCode {
        Request::parse(line.as_bytes()).unwrap_err().code
    }

    #[test]
    fn bad_requests_get_their_codes() {
        assert_eq!(code_of("garbage"), ErrorCode::BadRequest);
        assert_eq!(code_of("[1,2]"), ErrorCode::BadRequest);
        assert_eq!(code_of(r#"{"op":"status"}"#), ErrorCode::BadRequest);
        assert_eq!(
            code_of(r#"{"v":2,"op":"status"}"#),
            ErrorCode::UnsupportedVersion
        );
        assert_eq!(
            code_of(r#"{"v":"1","op":"status"}"#),
            ErrorCode::UnsupportedVersion
        );
        // The version is checked before the op.
        assert_eq!(
            code_of(r#"{"v":2,"op":"fly"}"#),
            ErrorCode::UnsupportedVersion
        );
        assert_eq!(code_of(r#"{"v":1,"op":"fly"}"#), ErrorCode::UnknownOp);
        assert_eq!(code_of(r#"{"v":1,"op":7}"#), ErrorCode::BadRequest);
        assert_eq!(code_of(r#"{"v":1,"op":"token"}"#), ErrorCode::BadRequest);
        assert_eq!(
            code_of(r#"{"v":1,"op":"token","environment":"dev","x":1}"#),
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn a_hostile_op_name_is_cleaned_in_the_message() {
        let err = Request::parse(br#"{"v":1,"op":"a\u001b[2Jb"}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownOp);
        assert!(!err.message.contains('\u{1b}'), "{}", err.message);
    }

    #[test]
    fn answers_round_trip() {
        let status = StatusAnswer {
            pid: 42,
            sessions: vec![SessionInfo {
                issuer: "https://idp.test".into(),
                client_id: "cli".into(),
                user: Some("alice".into()),
                expires_at: Some(T),
            }],
            shared_environments: vec!["dev".into()],
        };
        let line = answer_line(&status);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["ok"], true);
        assert_eq!(value["v"], 1);
        assert_eq!(value["sessions"][0]["expires_at"], "2027-01-15T08:00:00Z");
        assert_eq!(
            parse_answer::<StatusAnswer>(line.as_bytes()).unwrap(),
            status
        );

        let sso = SsoAnswer {
            session: SsoSession {
                access_token: Secret::new("at"),
                id_token: None,
                token_type: "Bearer".into(),
                expires_at: None,
                user: None,
                issuer: "https://idp.test".into(),
                client_id: "cli".into(),
            },
        };
        let line = answer_line(&sso);
        assert!(line.contains(r#""id_token":null"#), "{line}");
        assert_eq!(parse_answer::<SsoAnswer>(line.as_bytes()).unwrap(), sso);

        let token = TokenAnswer {
            environment: SharedEnvironment {
                name: "dev".into(),
                access_token: Secret::new("at"),
                token_type: "Bearer".into(),
                expires_at: Some(T),
                source: Source::Acquired,
                api_base_url: Some("https://api.test/".into()),
                api_allowed_origins: vec!["https://other.test".into()],
                api_graphql_url: None,
                credential_username: None,
            },
        };
        let line = answer_line(&token);
        assert!(line.contains(r#""source":"acquired""#), "{line}");
        assert_eq!(parse_answer::<TokenAnswer>(line.as_bytes()).unwrap(), token);

        let line = answer_line(&DiscardAnswer { discarded: true });
        assert_eq!(
            parse_answer::<DiscardAnswer>(line.as_bytes()).unwrap(),
            DiscardAnswer { discarded: true }
        );
        let envs = EnvironmentsAnswer {
            environments: vec!["a".into(), "b".into()],
        };
        let line = answer_line(&envs);
        assert_eq!(
            parse_answer::<EnvironmentsAnswer>(line.as_bytes()).unwrap(),
            envs
        );
        let stop: Value = serde_json::from_str(&answer_line(&StopAnswer {})).unwrap();
        assert_eq!(stop, serde_json::json!({"v": 1, "ok": true}));
    }

    #[test]
    fn error_answers_round_trip_and_map_to_exit_codes() {
        let err = WireError::new(ErrorCode::NotShared, "environment \"x\" is not shared")
            .with_hint("set AGENT_SHARE=true in its file where the agent runs");
        let line = err.to_line();
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["ok"], false);
        assert_eq!(value["error"]["code"], "not_shared");
        assert_eq!(
            parse_answer::<StatusAnswer>(line.as_bytes()).unwrap_err(),
            err
        );
        assert_eq!(err.clone().into_error().exit_code(), 3);
        for (code, exit) in [
            ("bad_request", 1),
            ("unsupported_version", 3),
            ("unknown_op", 3),
            ("not_shared", 3),
            ("no_session", 4),
            ("session_mismatch", 4),
            ("keychain", 4),
            ("auth", 4),
            ("config", 3),
            ("internal", 1),
            ("from_the_future", 1),
        ] {
            let c = ErrorCode::from_name(code);
            assert_eq!(c.kind().exit_code(), exit, "{code}");
            if code != "from_the_future" {
                assert_eq!(c.as_str(), code);
            }
        }
        // Without a hint, and an unknown code.
        let line = r#"{"v":1,"ok":false,"error":{"code":"new","message":"m"}}"#;
        let err = parse_answer::<StatusAnswer>(line.as_bytes()).unwrap_err();
        assert_eq!((err.code, err.hint), (ErrorCode::Internal, None));
    }

    #[test]
    fn malformed_answers_are_errors() {
        for line in [
            "",
            "nope",
            r#"{"v":1}"#,
            r#"{"v":2,"ok":true}"#,
            r#"{"v":1,"ok":true}"#,
        ] {
            assert!(
                parse_answer::<StatusAnswer>(line.as_bytes()).is_err(),
                "{line}"
            );
        }
    }

    #[test]
    fn lines_are_bounded() {
        let read = |input: &[u8], max| read_line_bounded(io::Cursor::new(input.to_vec()), max);
        assert_eq!(read(b"abc\ndef\n", 10).unwrap(), b"abc");
        assert_eq!(read(b"abc\n", 4).unwrap(), b"abc");
        assert!(matches!(read(b"abcd\n", 4), Err(LineError::TooLong)));
        assert!(matches!(
            read(&vec![b'x'; 1 << 20], MAX_LINE),
            Err(LineError::TooLong)
        ));
        assert!(matches!(read(b"abc", 10), Err(LineError::Closed)));
        assert!(matches!(read(b"", 10), Err(LineError::Closed)));
        let mut out = Vec::new();
        write_line(&mut out, "{}").unwrap();
        assert_eq!(out, b"{}\n");
    }
}
