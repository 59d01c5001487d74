//! The one updating stderr line shown while lmi waits for a person (the
//! browser or the device approval, SPEC §3.1): the time left and how to
//! cancel. Nothing of it when stderr is not a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

const FRAMES: [char; 4] = ['|', '/', '-', '\\'];

/// The waiting line; cleared when dropped.
pub struct WaitingLine {
    on: bool,
    drawn: bool,
    frame: usize,
    what: &'static str,
}

impl WaitingLine {
    /// A line that reads "Waiting for `what` (m:ss left, Ctrl-C to cancel)".
    pub fn new(what: &'static str) -> WaitingLine {
        WaitingLine {
            on: std::io::stderr().is_terminal(),
            drawn: false,
            frame: 0,
            what,
        }
    }

    /// Redraws the line with the time left.
    pub fn tick(&mut self, left: Duration) {
        if !self.on {
            return;
        }
        let secs = left.as_secs();
        eprint!(
            "\r{} Waiting for {} ({}:{:02} left, Ctrl-C to cancel) ",
            FRAMES[self.frame % FRAMES.len()],
            self.what,
            secs / 60,
            secs % 60
        );
        let _ = std::io::stderr().flush();
        self.frame += 1;
        self.drawn = true;
    }

    /// Erases the line (before other output, or when the wait is over).
    pub fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
            self.drawn = false;
        }
    }
}

impl Drop for WaitingLine {
    fn drop(&mut self) {
        self.clear();
    }
}
