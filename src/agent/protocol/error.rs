//! The error answer: its [`ErrorCode`] (with the exit-code domain a
//! client reports it in) and the [`WireError`] object.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{to_object, VERSION};
use crate::error::{Error, Kind};

/// Why the agent could not do what was asked: the `code` of an error
/// answer, with the exit-code domain a client reports it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Not a request line (not JSON, missing or wrong fields, too long).
    BadRequest,
    /// A `"v"` other than 1.
    UnsupportedVersion,
    /// An `op` this agent does not know (an older agent).
    UnknownOp,
    /// The environment is not shared (or does not exist: same answer).
    NotShared,
    /// Not logged in where the agent runs, or the refresh failed.
    NoSession,
    /// The agent's session is for another issuer or client id.
    SessionMismatch,
    /// The keychain where the agent runs is locked or gone.
    Keychain,
    /// A service token could not be acquired.
    Auth,
    /// The agent's configuration is missing or invalid.
    Config,
    /// Anything else.
    Internal,
}

impl ErrorCode {
    const ALL: [ErrorCode; 10] = [
        ErrorCode::BadRequest,
        ErrorCode::UnsupportedVersion,
        ErrorCode::UnknownOp,
        ErrorCode::NotShared,
        ErrorCode::NoSession,
        ErrorCode::SessionMismatch,
        ErrorCode::Keychain,
        ErrorCode::Auth,
        ErrorCode::Config,
        ErrorCode::Internal,
    ];

    /// The code's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::UnknownOp => "unknown_op",
            ErrorCode::NotShared => "not_shared",
            ErrorCode::NoSession => "no_session",
            ErrorCode::SessionMismatch => "session_mismatch",
            ErrorCode::Keychain => "keychain",
            ErrorCode::Auth => "auth",
            ErrorCode::Config => "config",
            ErrorCode::Internal => "internal",
        }
    }

    /// The code named `name`; a code from a newer agent is `Internal`.
    pub fn from_name(name: &str) -> ErrorCode {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .unwrap_or(ErrorCode::Internal)
    }

    /// The domain (and so the exit code, SPEC §3) a client reports this
    /// code in. A version or op the agent does not know means lmi differs
    /// between the two machines: a setup problem (3), as is an
    /// environment the agent does not share. Session and keychain
    /// problems are authentication (4); a malformed request is a bug (1).
    pub fn kind(self) -> Kind {
        match self {
            ErrorCode::BadRequest | ErrorCode::Internal => Kind::Internal,
            ErrorCode::UnsupportedVersion
            | ErrorCode::UnknownOp
            | ErrorCode::NotShared
            | ErrorCode::Config => Kind::Config,
            ErrorCode::NoSession
            | ErrorCode::SessionMismatch
            | ErrorCode::Keychain
            | ErrorCode::Auth => Kind::Auth,
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|name| ErrorCode::from_name(&name))
    }
}

/// An error answer's `error` object. `message` and `hint` are already
/// safe to show (made so by the agent with `redact::server_text`); a client
/// cleans them again all the same, since it cannot know the agent did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default)]
    pub hint: Option<String>,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError {
            code,
            message: message.into(),
            hint: None,
        }
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> WireError {
        self.hint = Some(hint.into());
        self
    }

    /// The error answer line (without the newline).
    pub fn to_line(&self) -> String {
        let mut object = Map::new();
        object.insert("v".into(), Value::from(VERSION));
        object.insert("ok".into(), Value::Bool(false));
        object.insert("error".into(), Value::Object(to_object(self)));
        Value::Object(object).to_string()
    }

    /// The error as lmi reports it, in the code's domain.
    pub fn into_error(self) -> Error {
        let message = crate::redact::server_text(&self.message, &[]);
        let error = Error::new(self.code.kind(), message);
        match self.hint {
            Some(hint) => error.with_hint(crate::redact::server_text(&hint, &[])),
            None => error,
        }
    }
}
