//! The client's half of the agent (SPEC §9): which socket to ask, whether
//! it may be trusted, and one request with its answer within
//! [`ANSWER_TIMEOUT`].
//!
//! Commands reach an agent through the [`AgentLink`] seam (a fake in unit
//! tests); [`AgentClient`] is the real one, over a Unix socket. The typed
//! asks (`sso`, `token`, `discard`, `environments`, on `dyn AgentLink`) turn the
//! agent's error answers into lmi errors of the protocol's domains, each
//! naming the agent's socket, so a person on a remote machine can tell a
//! problem over there from one here.
//!
//! An agent is used when `LMI_AGENT_SOCK` is set, or when the default
//! socket exists and answers. A set `LMI_AGENT_SOCK` that does not answer
//! is an authentication error naming it: never a silent fallback to this
//! machine's own session (SPEC §9). The socket itself is checked before
//! anything is sent, not its folder (a forwarded socket often sits in
//! `/tmp`): it must be a socket owned by this user.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::agent::protocol::{
    parse_answer, DiscardAnswer, EnvironmentsAnswer, ErrorCode, ProofAnswer, Request,
    SharedEnvironment, SsoAnswer, SsoSession, TokenAnswer,
};
use crate::error::{Error, Kind, Result};
use crate::secret::Secret;

/// How long a client waits for the agent: connect, request and answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// One request to an agent and its answer line: the seam commands reach an
/// agent through.
pub trait AgentLink: Send + Sync {
    /// The agent's socket, for messages.
    fn socket(&self) -> &Path;
    /// Sends `request` and returns the answer line. An agent that does not
    /// answer is an authentication error naming the socket.
    fn ask(&self, request: &Request) -> Result<Vec<u8>>;
}

/// What lmi says about the agent in messages.
pub fn agent_name(socket: &Path) -> String {
    format!("the lmi agent at {}", socket.display())
}

/// The error when the agent at `socket` does not answer.
pub fn unreachable(socket: &Path, why: &str) -> Error {
    Error::auth(format!(
        "{} does not answer ({why})",
        agent_name(socket)
    ))
    .with_hint(
        "start the agent where you logged in (lmi agent start), check the ssh -R forwarding, or unset LMI_AGENT_SOCK to use this machine's own session",
    )
}

impl dyn AgentLink + '_ {
    /// The answer to `request`, or the agent's error as an lmi error that
    /// names the agent.
    fn call<T: DeserializeOwned>(&self, request: &Request) -> Result<T> {
        let line = self.ask(request)?;
        self.read(&line).map_err(|(_, e)| e)
    }

    /// An answer line read: its body, or the agent's error code and the
    /// error as lmi reports it.
    fn read<T: DeserializeOwned>(&self, line: &[u8]) -> std::result::Result<T, (ErrorCode, Error)> {
        parse_answer(line).map_err(|wire| {
            let code = wire.code;
            let inner = wire.into_error();
            let message = format!("{}: {}", agent_name(self.socket()), inner.message());
            let hint = match code {
                ErrorCode::NoSession | ErrorCode::Keychain => Some(
                    "log in (or unlock the keychain) on the machine where the agent runs: lmi login sso there"
                        .to_owned(),
                ),
                ErrorCode::UnsupportedVersion | ErrorCode::UnknownOp => {
                    Some("use the same lmi version here and where the agent runs".to_owned())
                }
                _ => inner.hint().map(str::to_owned),
            };
            let error = Error::new(inner.kind(), message);
            (code, match hint {
                Some(hint) => error.with_hint(hint),
                None => error,
            })
        })
    }

    /// The agent's SSO session (refreshed by the agent when it had
    /// expired). `issuer` and `client_id`, when this machine has them
    /// configured, must be the session's.
    pub fn sso(&self, issuer: Option<&str>, client_id: Option<&str>) -> Result<SsoSession> {
        let answer: SsoAnswer = self.call(&Request::Sso {
            issuer: issuer.map(str::to_owned),
            client_id: client_id.map(str::to_owned),
        })?;
        Ok(answer.session)
    }

    /// A shared environment's token and settings; `None` when the agent
    /// does not share `environment` (or has no such environment).
    pub fn token(&self, environment: &str) -> Result<Option<SharedEnvironment>> {
        let request = Request::Token {
            environment: environment.to_owned(),
        };
        let line = self.ask(&request)?;
        match self.read::<TokenAnswer>(&line) {
            Ok(answer) => Ok(Some(answer.environment)),
            Err((ErrorCode::NotShared, _)) => Ok(None),
            Err((_, e)) => Err(e),
        }
    }

    /// Compare-and-discard after a 401: whether the agent dropped `token`.
    pub fn discard(&self, environment: &str, token: &Secret) -> Result<bool> {
        let answer: DiscardAnswer = self.call(&Request::Discard {
            environment: environment.to_owned(),
            access_token: token.clone(),
        })?;
        Ok(answer.discarded)
    }

    /// The names of the environments the agent shares.
    /// A DPoP proof for sending `token` (the one the agent handed out for
    /// `environment`) with `htm htu`, with the client's `nonce` for that
    /// origin when it learned one.
    pub fn proof(
        &self,
        environment: &str,
        htm: &str,
        htu: &str,
        token: &Secret,
        nonce: Option<&str>,
    ) -> Result<Secret> {
        let answer: ProofAnswer = self.call(&Request::Proof {
            environment: environment.to_owned(),
            htm: htm.to_owned(),
            htu: htu.to_owned(),
            access_token: token.clone(),
            nonce: nonce.map(str::to_owned),
        })?;
        Ok(answer.dpop)
    }

    pub fn environments(&self) -> Result<Vec<String>> {
        let answer: EnvironmentsAnswer = self.call(&Request::Environments)?;
        Ok(answer.environments)
    }
}

/// Where to look for an agent: `LMI_AGENT_SOCK` when set (`explicit`),
/// else the default socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub socket: PathBuf,
    /// `LMI_AGENT_SOCK` was set: an agent that does not answer is an error.
    pub explicit: bool,
}

/// The agent to use, when there is one: a set `LMI_AGENT_SOCK` always
/// gives one (or an error: not a socket of this user, exit 3; nothing
/// answers, exit 4); the default socket gives one only when it exists and
/// answers.
pub fn find(target: &Target) -> Result<Option<Box<dyn AgentLink>>> {
    imp::find(target)
}

#[cfg(unix)]
mod imp {
    use std::io::{Read, Write};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    use std::os::unix::net::UnixStream;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;
    use std::time::Instant;

    use super::{unreachable, AgentLink, Target, ANSWER_TIMEOUT};
    use crate::agent::protocol::{Request, MAX_LINE};
    use crate::error::{Error, Result};

    pub(super) fn find(target: &Target) -> Result<Option<Box<dyn AgentLink>>> {
        let socket = &target.socket;
        let meta = match std::fs::metadata(socket) {
            Ok(meta) => meta,
            Err(e) if target.explicit => {
                return Err(unreachable(socket, &format!("no socket there: {e}")))
            }
            Err(_) => return Ok(None),
        };
        check(socket, &meta)?;
        match UnixStream::connect(socket) {
            Ok(stream) => {
                tracing::debug!(target: "agent", "using the lmi agent at {}", socket.display());
                Ok(Some(Box::new(AgentClient {
                    socket: socket.clone(),
                    first: Mutex::new(Some(stream)),
                })))
            }
            Err(e) if target.explicit => Err(unreachable(socket, &e.to_string())),
            Err(e) => {
                tracing::debug!(target: "agent", "no agent answers at {} ({e}); using this machine's own session", socket.display());
                Ok(None)
            }
        }
    }

    /// The socket itself must be a socket owned by this user (its folder is
    /// not checked: a forwarded socket often sits in `/tmp`).
    fn check(socket: &Path, meta: &std::fs::Metadata) -> Result<()> {
        let me = rustix::process::geteuid().as_raw();
        let fix = "point LMI_AGENT_SOCK at your own agent's socket (lmi agent start prints it), or unset it";
        if !meta.file_type().is_socket() {
            return Err(Error::config(format!(
                "{} is not a socket, so lmi does not ask it for tokens",
                socket.display()
            ))
            .with_hint(fix));
        }
        if meta.uid() != me {
            return Err(Error::config(format!(
                "the agent socket {} is owned by another user (uid {}), so lmi does not ask it for tokens",
                socket.display(),
                meta.uid()
            ))
            .with_hint(fix));
        }
        Ok(())
    }

    /// The real agent over its Unix socket; one connection per request
    /// (the first one is the connection made when the agent was found).
    pub struct AgentClient {
        socket: PathBuf,
        first: Mutex<Option<UnixStream>>,
    }

    impl AgentClient {
        fn exchange(&self, stream: &mut UnixStream, line: &str) -> std::io::Result<Vec<u8>> {
            let deadline = Instant::now() + ANSWER_TIMEOUT;
            stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
            stream.write_all(line.as_bytes())?;
            stream.write_all(b"\n")?;
            let mut answer = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()),
                    ));
                }
                stream.set_read_timeout(Some(left))?;
                let n = match stream.read(&mut buf) {
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()),
                        ))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the connection closed without an answer",
                    ));
                }
                answer.extend_from_slice(&buf[..n]);
                if let Some(end) = answer.iter().position(|&b| b == b'\n') {
                    answer.truncate(end);
                    return Ok(answer);
                }
                if answer.len() > MAX_LINE {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "the answer is longer than the protocol allows",
                    ));
                }
            }
        }
    }

    /// Whether the agent closed the connection (rather than not answering
    /// in time): worth one new connection.
    fn dropped(e: &std::io::Error) -> bool {
        matches!(
            e.kind(),
            std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionReset
        )
    }

    impl AgentLink for AgentClient {
        fn socket(&self) -> &Path {
            &self.socket
        }

        fn ask(&self, request: &Request) -> Result<Vec<u8>> {
            tracing::debug!(target: "agent", "asking the agent at {}: {}", self.socket.display(), request.op());
            let line = request.to_line();
            let held = self.first.lock().ok().and_then(|mut first| first.take());
            if let Some(mut stream) = held {
                // The connection made when the agent was found; if the
                // agent has dropped it since, a new one is tried.
                match self.exchange(&mut stream, &line) {
                    Ok(answer) => return Ok(answer),
                    Err(e) if dropped(&e) => {
                        tracing::debug!(target: "agent", "the first connection was closed ({e}); connecting again")
                    }
                    Err(e) => return Err(unreachable(&self.socket, &e.to_string())),
                }
            }
            let mut stream = UnixStream::connect(&self.socket)
                .map_err(|e| unreachable(&self.socket, &e.to_string()))?;
            self.exchange(&mut stream, &line)
                .map_err(|e| unreachable(&self.socket, &e.to_string()))
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use super::{AgentLink, Target};
    use crate::error::{Error, Result};

    pub(super) fn find(target: &Target) -> Result<Option<Box<dyn AgentLink>>> {
        if target.explicit {
            return Err(Error::config(format!(
                "LMI_AGENT_SOCK is set ({}), but the lmi agent works only on Unix systems",
                target.socket.display()
            ))
            .with_hint("unset LMI_AGENT_SOCK"));
        }
        Ok(None)
    }
}

#[cfg(unix)]
pub use imp::AgentClient;

/// An error of the protocol's domain `kind` naming the agent (for callers
/// that find the agent's answer unusable).
pub fn agent_error(socket: &Path, kind: Kind, what: &str) -> Error {
    Error::new(kind, format!("{}: {what}", agent_name(socket)))
}
