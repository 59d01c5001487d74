//! Error domains and their exit codes (SPEC §3).
//!
//! Only `main` turns an [`Error`] into a process exit code. Everything else
//! returns `Result<_, Error>`, naming the thing that went wrong in the message
//! and the fix in the hint. Messages never contain secrets: callers only
//! format redacted values into them (see `secret.rs`).

use std::fmt;

/// The domain of an error; each maps to one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bug or an unexpected local failure (exit 1).
    Internal,
    /// Bad command-line usage or bad input data (exit 2).
    Usage,
    /// Missing or invalid configuration (exit 3).
    Config,
    /// A token could not be acquired, refreshed or used (exit 4).
    Auth,
    /// The service answered with an error or could not be reached (exit 5).
    Service,
    /// A plugin was found but cannot run (exit 6).
    Plugin,
    /// The user interrupted lmi (exit 130).
    Interrupted,
    /// Whoever read stdout stopped reading (`lmi api … | head`): lmi ends
    /// quietly with exit 0, as a pipeline expects.
    BrokenPipe,
}

impl Kind {
    /// The process exit code for this domain (SPEC §3).
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Internal => 1,
            Kind::Usage => 2,
            Kind::Config => 3,
            Kind::Auth => 4,
            Kind::Service => 5,
            Kind::Plugin => 6,
            Kind::Interrupted => 130,
            Kind::BrokenPipe => 0,
        }
    }
}

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error with its domain, a one-line message, an optional hint and cause.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    message: String,
    hint: Option<String>,
    cause: Option<Cause>,
    silent: bool,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            cause: None,
            silent: false,
        }
    }

    /// An error that was already shown to the user (clap's usage message, a
    /// plugin's own output): `main` only sets the exit code.
    pub fn silent(kind: Kind) -> Self {
        Error {
            kind,
            message: String::new(),
            hint: None,
            cause: None,
            silent: true,
        }
    }

    pub fn is_silent(&self) -> bool {
        self.silent || self.kind == Kind::BrokenPipe
    }

    /// The error for a failed write to stdout: a closed pipe
    /// ([`io::ErrorKind::BrokenPipe`](std::io::ErrorKind::BrokenPipe)) is
    /// its own quiet kind, anything else an internal error.
    pub fn stdout_write(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Error::silent(Kind::BrokenPipe)
        } else {
            Error::internal(format!("cannot write to stdout: {e}"))
        }
    }

    /// A copy without the cause (errors are kept once and reported twice in
    /// places, such as a configuration error shared by several commands).
    pub fn shallow_clone(&self) -> Self {
        Error {
            kind: self.kind,
            message: self.message.clone(),
            hint: self.hint.clone(),
            cause: None,
            silent: self.silent,
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, message)
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(Kind::Auth, message)
    }
    pub fn service(message: impl Into<String>) -> Self {
        Self::new(Kind::Service, message)
    }
    pub fn plugin(message: impl Into<String>) -> Self {
        Self::new(Kind::Plugin, message)
    }

    /// Adds the `hint:` line shown under the error.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Keeps the underlying cause, shown with `-vv`.
    #[must_use]
    pub fn with_cause(mut self, cause: impl Into<Cause>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// The chain of causes, outermost first, for `-vv`.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> = self
            .cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static));
        while let Some(err) = next {
            out.push(err.to_string());
            next = err.source();
        }
        out
    }

    /// A local I/O failure on `path`, as an internal error naming the path.
    pub fn io(what: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        Error::internal(format!("{what} {}: {err}", path.display())).with_cause(err)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
