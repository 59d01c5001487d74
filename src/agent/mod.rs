//! The session agent (SPEC §9): one login on a laptop serves every shell
//! there and every machine reached over SSH, through a Unix socket, and no
//! refresh token, secret or key leaves the machine it runs on.
//!
//! - `client`: a command's way to the agent: which socket, its check, the
//!   3-second answer, the typed asks and the seam commands use.
//! - `protocol`: the wire protocol (requests, answers, error codes, bounded
//!   lines), shared by the agent and its clients.
//! - `socket`: where the socket lives, its folder's trust, and telling a
//!   live agent from a stale socket file (Unix).
//! - `wire`: one request to an agent and its answer (the client's half,
//!   Unix).
//! - `server`: the listener, peer credentials, a thread per connection, the
//!   lifetime and signals (Unix).
//! - `serve`: what each request gets: the SSO session, shared environments'
//!   tokens, compare-and-discard (Unix).
//!
//! It sits above `auth` and `config` (it serves what they make) and below
//! `commands` (which start, stop and ask it).

pub mod client;
pub mod protocol;
#[cfg(unix)]
pub mod serve;
#[cfg(unix)]
pub mod server;
#[cfg(unix)]
pub mod socket;
#[cfg(unix)]
pub mod wire;
