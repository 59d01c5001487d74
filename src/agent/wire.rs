//! One request to an agent and its answer: the client's half of the
//! protocol (connect, one line out, one bounded line back), for `agent
//! stop|status|start` and for every command that asks the agent.

use std::io::{self, BufReader};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::protocol::{self, LineError, Request, WireError};

/// The longest answer a client reads: tokens are larger than requests,
/// and an agent is trusted more than its peers, but not without limit.
pub const MAX_ANSWER: usize = 1024 * 1024;

/// How long a client waits for the agent (SPEC §9: 3 s, then exit 4).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a call got no answer body.
#[derive(Debug)]
pub enum CallError {
    /// Nothing listens there: no socket file, or nobody accepts (stale).
    NotRunning(io::Error),
    /// Connected, but no whole answer came (timeout, closed, too long).
    NoAnswer(String),
    /// The agent answered with an error.
    Agent(WireError),
}

impl CallError {
    /// A one-line description naming the socket.
    pub fn describe(&self, socket: &Path) -> String {
        match self {
            CallError::NotRunning(e) => {
                format!("no lmi agent answers on {}: {e}", socket.display())
            }
            CallError::NoAnswer(why) => {
                format!(
                    "the lmi agent on {} did not answer: {why}",
                    socket.display()
                )
            }
            CallError::Agent(e) => crate::redact::server_text(&e.message, &[]),
        }
    }
}

/// Connects to `socket`, sends `request` and reads the answer, waiting at
/// most `timeout` for each read and write.
pub fn call<T: DeserializeOwned>(
    socket: &Path,
    request: &Request,
    timeout: Duration,
) -> Result<T, CallError> {
    let stream = UnixStream::connect(socket).map_err(CallError::NotRunning)?;
    call_on(stream, request, timeout)
}

/// [`call`] on a connection already made.
pub fn call_on<T: DeserializeOwned>(
    stream: UnixStream,
    request: &Request,
    timeout: Duration,
) -> Result<T, CallError> {
    let no_answer = |e: io::Error| CallError::NoAnswer(e.to_string());
    stream.set_read_timeout(Some(timeout)).map_err(no_answer)?;
    stream.set_write_timeout(Some(timeout)).map_err(no_answer)?;
    protocol::write_line(&stream, &request.to_line()).map_err(no_answer)?;
    let line = protocol::read_line_bounded(BufReader::new(&stream), MAX_ANSWER).map_err(|e| {
        CallError::NoAnswer(match e {
            LineError::Closed => "it closed the connection".to_owned(),
            LineError::TooLong => format!("the answer is longer than {MAX_ANSWER} bytes"),
            LineError::Io(e) if is_timeout(&e) => {
                format!("no answer within {} s", timeout.as_secs_f32())
            }
            LineError::Io(e) => e.to_string(),
        })
    })?;
    protocol::parse_answer(&line).map_err(CallError::Agent)
}

/// Whether a read failed by its timeout (`WouldBlock` on Unix sockets).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
