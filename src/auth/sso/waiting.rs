//! The one updating line shown while lmi waits for a person (the browser
//! or the device approval, SPEC §3.1): the time left and how to cancel.
//! Drawn through the [`Terminal`] seam; nothing of it when the terminal is
//! not interactive (stderr is not a terminal).

use std::time::Duration;

use crate::terminal::Terminal;

const FRAMES: [char; 4] = ['|', '/', '-', '\\'];

/// The waiting line; cleared when dropped.
pub struct WaitingLine<'a> {
    terminal: &'a dyn Terminal,
    on: bool,
    drawn: bool,
    frame: usize,
    what: &'static str,
}

impl<'a> WaitingLine<'a> {
    /// A line that reads "Waiting for `what` (m:ss left, Ctrl-C to cancel)".
    pub fn new(terminal: &'a dyn Terminal, what: &'static str) -> WaitingLine<'a> {
        WaitingLine {
            terminal,
            on: terminal.interactive(),
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
        self.terminal.redraw(&format!(
            "{} Waiting for {} ({}:{:02} left, Ctrl-C to cancel) ",
            FRAMES[self.frame % FRAMES.len()],
            self.what,
            secs / 60,
            secs % 60
        ));
        self.frame += 1;
        self.drawn = true;
    }

    /// Erases the line (before other output, or when the wait is over).
    pub fn clear(&mut self) {
        if self.drawn {
            self.terminal.clear_line();
            self.drawn = false;
        }
    }
}

impl Drop for WaitingLine<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminal::{RecordingTerminal, Written};

    #[test]
    fn the_line_counts_down_and_is_cleared_once() {
        let t = RecordingTerminal::interactive();
        {
            let mut line = WaitingLine::new(&t, "the browser");
            line.tick(Duration::from_secs(125));
            line.tick(Duration::from_secs(9));
            line.clear();
        }
        assert_eq!(
            t.written(),
            [
                Written::Redraw("| Waiting for the browser (2:05 left, Ctrl-C to cancel) ".into()),
                Written::Redraw("/ Waiting for the browser (0:09 left, Ctrl-C to cancel) ".into()),
                Written::Clear,
            ]
        );
    }

    #[test]
    fn nothing_is_drawn_when_not_interactive() {
        let t = RecordingTerminal::default();
        let mut line = WaitingLine::new(&t, "the browser");
        line.tick(Duration::from_secs(5));
        drop(line);
        assert!(t.written().is_empty());
    }
}
