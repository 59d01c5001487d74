//! The only writer to stdout: results as JSON (the default) or text.
//!
//! A closed pipe (`lmi auth token | head -c0`) ends lmi quietly: a write
//! error of kind `BrokenPipe` becomes an error of kind
//! [`Kind::BrokenPipe`](crate::error::Kind::BrokenPipe), which `main` turns
//! into a silent exit 0.

use serde::Serialize;
use std::io::{self, Write};

use crate::cli::OutputFormat;
use crate::error::{Error, Result};

/// Writes results to stdout in the chosen format.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: OutputFormat,
}

fn write_err(e: io::Error) -> Error {
    Error::stdout_write(e)
}

impl Output {
    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Prints `value` as pretty JSON.
    pub fn json<T: Serialize>(&self, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::internal(format!("cannot encode result: {e}")))?;
        self.raw(format!("{text}\n").as_bytes())
    }

    /// Prints `text` followed by a newline unless it already ends with one.
    pub fn text(&self, text: &str) -> Result<()> {
        if text.ends_with('\n') || text.is_empty() {
            self.raw(text.as_bytes())
        } else {
            self.raw(format!("{text}\n").as_bytes())
        }
    }

    /// JSON in JSON mode, else the text produced by `text`.
    pub fn result<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) -> Result<()> {
        if self.is_json() {
            self.json(value)
        } else {
            self.text(&text())
        }
    }

    /// Bytes as they are.
    pub fn raw(&self, bytes: &[u8]) -> Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(bytes).map_err(write_err)?;
        out.flush().map_err(write_err)
    }
}

/// Seconds since the epoch as RFC 3339 UTC (`2026-11-28T01:57:10Z`).
pub fn rfc3339(unix: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}
