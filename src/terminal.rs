//! The terminal seam: what lmi says to the person at the keyboard while it
//! works (notices on stderr, and the one updating waiting line), as opposed
//! to results, which go to stdout through `output`.
//!
//! The login flows and the commands take a `&dyn` [`Terminal`], so their
//! messages are unit-tested with a [`RecordingTerminal`] instead of read
//! back from a child process's stderr. [`StderrTerminal`] is the real one.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Where lmi's messages to the person go.
pub trait Terminal: Send + Sync {
    /// Writes `text` and a line break (a notice, a prompt, a URL to open).
    fn notice(&self, text: &str);
    /// Whether an updating line can be drawn (stderr is a terminal); when
    /// not, the waiting line shows nothing at all.
    fn interactive(&self) -> bool;
    /// Draws `line` over the current line, without a line break.
    fn redraw(&self, line: &str);
    /// Erases the current line (one drawn by [`Terminal::redraw`]).
    fn clear_line(&self);
}

/// The process's stderr. Write failures are ignored: a closed stderr must
/// not end a login that is otherwise going well.
#[derive(Debug, Default, Clone, Copy)]
pub struct StderrTerminal;

impl Terminal for StderrTerminal {
    fn notice(&self, text: &str) {
        let _ = writeln!(std::io::stderr(), "{text}");
    }

    fn interactive(&self) -> bool {
        std::io::stderr().is_terminal()
    }

    fn redraw(&self, line: &str) {
        let mut err = std::io::stderr();
        let _ = write!(err, "\r{line}");
        let _ = err.flush();
    }

    fn clear_line(&self) {
        let mut err = std::io::stderr();
        let _ = write!(err, "\r\x1b[K");
        let _ = err.flush();
    }
}

/// Shows nothing: for callers with no person to tell, and for tests that
/// do not look at the messages.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullTerminal;

impl Terminal for NullTerminal {
    fn notice(&self, _text: &str) {}

    fn interactive(&self) -> bool {
        false
    }

    fn redraw(&self, _line: &str) {}

    fn clear_line(&self) {}
}

/// One thing written to a [`RecordingTerminal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Notice(String),
    Redraw(String),
    Clear,
}

/// Records what is written, for tests; `interactive` says whether it plays
/// a terminal (then the waiting line is drawn).
#[derive(Debug, Default)]
pub struct RecordingTerminal {
    pub interactive: bool,
    written: Mutex<Vec<Written>>,
}

impl RecordingTerminal {
    /// A recorder that plays a terminal, so waiting lines are recorded too.
    pub fn interactive() -> RecordingTerminal {
        RecordingTerminal {
            interactive: true,
            ..RecordingTerminal::default()
        }
    }

    /// Everything written so far, in order.
    pub fn written(&self) -> Vec<Written> {
        self.lock().clone()
    }

    /// The notices written so far, in order.
    pub fn notices(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter_map(|w| match w {
                Written::Notice(text) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    /// The notices as stderr would show them, joined with line breaks.
    pub fn text(&self) -> String {
        self.notices()
            .iter()
            .map(|n| format!("{n}\n"))
            .collect::<String>()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Written>> {
        // A panic while holding the lock can only happen in a test that has
        // already failed; its record is still worth reading.
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, w: Written) {
        self.lock().push(w);
    }
}

impl Terminal for RecordingTerminal {
    fn notice(&self, text: &str) {
        self.push(Written::Notice(text.to_owned()));
    }

    fn interactive(&self) -> bool {
        self.interactive
    }

    fn redraw(&self, line: &str) {
        self.push(Written::Redraw(line.to_owned()));
    }

    fn clear_line(&self) {
        self.push(Written::Clear);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_terminal_keeps_order_and_kind() {
        let t = RecordingTerminal::interactive();
        t.notice("one");
        t.redraw("| waiting");
        t.clear_line();
        t.notice("two");
        assert_eq!(
            t.written(),
            [
                Written::Notice("one".into()),
                Written::Redraw("| waiting".into()),
                Written::Clear,
                Written::Notice("two".into()),
            ]
        );
        assert_eq!(t.notices(), ["one", "two"]);
        assert_eq!(t.text(), "one\ntwo\n");
        assert!(!RecordingTerminal::default().interactive());
    }
}
