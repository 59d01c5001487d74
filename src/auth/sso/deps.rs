//! What the SSO work needs from outside it, in one struct: the clock and
//! the sleeper, the HTTP transport, the browser, the session store and the
//! terminal ([`SsoDeps`]). Commands build the real ones from the
//! invocation's seams; tests pass a fixed clock, canned HTTP answers, a
//! recording browser, a store in memory and a recording terminal.

use crate::clock::{Clock, Sleeper};
use crate::http::Transport;
use crate::terminal::Terminal;

use super::browser::Browser;
use super::store::Store;

/// The seams of the SSO session logic.
#[derive(Clone, Copy)]
pub struct SsoDeps<'a> {
    pub clock: &'a dyn Clock,
    /// Waits between device-flow polls (RFC 8628 §3.5).
    pub sleeper: &'a dyn Sleeper,
    pub transport: &'a dyn Transport,
    pub browser: &'a dyn Browser,
    pub store: &'a Store,
    /// Notices, the URL or code to open, and the waiting line.
    pub terminal: &'a dyn Terminal,
}
