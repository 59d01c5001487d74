//! The only writer to stdout: results as JSON (the default) or text.
//!
//! Results go to a [`Sink`]: the process's stdout, or (for unit tests of
//! the commands) a shared buffer that the test reads back. Results written
//! piece by piece ([`Output::writer`], [`Output::stream`]) go to the same
//! sink.
//!
//! A closed pipe (`lmi auth token | head -c0`) ends lmi quietly: a write
//! error of kind `BrokenPipe` becomes an error of kind
//! [`Kind::BrokenPipe`](crate::error::Kind::BrokenPipe), which `main` turns
//! into a silent exit 0.

mod json_grammar;
pub mod json_stream;

use serde::Serialize;
use std::io::{self, IsTerminal, Read, Write};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// The format results are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// JSON, for scripts (the default).
    #[default]
    Json,
    /// Plain text, for people.
    Text,
}

impl OutputFormat {
    /// The format `-o`/`--output` asked for; JSON when it is not given.
    pub fn from_flag(flag: Option<crate::cli::OutputFlag>) -> OutputFormat {
        match flag {
            Some(crate::cli::OutputFlag::Text) => OutputFormat::Text,
            Some(crate::cli::OutputFlag::Json) | None => OutputFormat::Json,
        }
    }

    /// The name plugins get in `LMI_OUTPUT`: `json` or `text`.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Text => "text",
        }
    }
}

/// Writes results to its sink in the chosen format.
#[derive(Debug, Clone)]
pub struct Output {
    pub format: OutputFormat,
    sink: Sink,
}

/// Where results are written.
#[derive(Clone, Default)]
pub enum Sink {
    /// The process's stdout (locked per write).
    #[default]
    Stdout,
    /// Any writer behind a lock, shared with whoever reads it back.
    Shared(Arc<Mutex<dyn Write + Send>>),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sink::Stdout => "Stdout",
            Sink::Shared(_) => "Shared",
        })
    }
}

/// A buffer that a [`Sink::Shared`] writes into: what a command printed.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// A sink that appends to this buffer.
    pub fn sink(&self) -> Sink {
        Sink::Shared(self.0.clone())
    }

    /// Everything written so far.
    pub fn bytes(&self) -> Vec<u8> {
        // A writer that panicked mid-write leaves whole writes behind.
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

fn write_err(e: io::Error) -> Error {
    Error::stdout_write(e)
}

impl Output {
    /// Results in `format` on the process's stdout.
    pub fn stdout(format: OutputFormat) -> Output {
        Output::to(format, Sink::Stdout)
    }

    /// Results in `format` to `sink`.
    pub fn to(format: OutputFormat, sink: Sink) -> Output {
        Output { format, sink }
    }

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

    /// The sink, buffered (stdout locked), for results written piece by
    /// piece (`lmi api --jq`, `--paginate`); map write errors with
    /// [`Error::stdout_write`] so a closed pipe stays quiet.
    pub fn writer(&self) -> io::BufWriter<SinkWriter> {
        io::BufWriter::with_capacity(STREAM_BUFFER, self.sink_writer())
    }

    fn sink_writer(&self) -> SinkWriter {
        match &self.sink {
            Sink::Stdout => SinkWriter::Stdout(io::stdout().lock()),
            Sink::Shared(w) => SinkWriter::Shared(w.clone()),
        }
    }

    /// Bytes as they are.
    pub fn raw(&self, bytes: &[u8]) -> Result<()> {
        match &self.sink {
            Sink::Stdout => write_all(&mut io::stdout().lock(), bytes),
            // A writer that panicked mid-write leaves whole writes behind.
            Sink::Shared(w) => write_all(&mut *w.lock().unwrap_or_else(|e| e.into_inner()), bytes),
        }
    }
}

/// The open sink: stdout locked, or the shared writer (locked per write).
pub enum SinkWriter {
    Stdout(io::StdoutLock<'static>),
    Shared(Arc<Mutex<dyn Write + Send>>),
}

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            SinkWriter::Stdout(out) => out.write(buf),
            // A writer that panicked mid-write leaves whole writes behind.
            SinkWriter::Shared(w) => w.lock().unwrap_or_else(|e| e.into_inner()).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            SinkWriter::Stdout(out) => out.flush(),
            SinkWriter::Shared(w) => w.lock().unwrap_or_else(|e| e.into_inner()).flush(),
        }
    }
}

fn write_all(out: &mut dyn Write, bytes: &[u8]) -> Result<()> {
    out.write_all(bytes).map_err(write_err)?;
    out.flush().map_err(write_err)
}

/// Bytes read from a body at a time.
const STREAM_BUFFER: usize = 128 * 1024;

/// How a streamed body went, when reading it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streamed {
    /// Body bytes received.
    pub bytes: u64,
    pub json: JsonEnd,
}

/// What the JSON re-indenter made of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonEnd {
    /// Not re-indented: copied byte for byte.
    Copied,
    /// A complete document, re-indented.
    Complete,
    /// Stopped being JSON at this body offset; from there on it was
    /// written as received.
    Broken { at: u64 },
    /// Nested deeper than the re-indenter goes
    /// ([`json_stream::MAX_DEPTH`]) at this body offset; from there on it
    /// was written as received.
    TooDeep { at: u64 },
    /// Ended in the middle of the document.
    Incomplete,
}

/// Reading the body failed after `bytes` bytes; what was written stays.
#[derive(Debug)]
pub struct ReadFailure {
    pub bytes: u64,
    pub error: io::Error,
}

impl Output {
    /// Writes `head`, then streams `body` to the sink as it arrives: through
    /// the JSON re-indenter when `reindent`, else byte for byte, through one
    /// fixed buffer. Write errors (a closed pipe too) are the outer error; a
    /// failed read is the inner one, after everything read so far has been
    /// written.
    pub fn stream(
        &self,
        head: &[u8],
        body: &mut dyn Read,
        reindent: bool,
    ) -> Result<std::result::Result<Streamed, ReadFailure>> {
        let terminal = matches!(self.sink, Sink::Stdout) && io::stdout().is_terminal();
        stream_into(&mut self.sink_writer(), terminal, head, body, reindent)
    }
}

/// [`Output::stream`] into `out`; `terminal` says whether `out` is one.
fn stream_into(
    out: &mut SinkWriter,
    terminal: bool,
    head: &[u8],
    body: &mut dyn Read,
    reindent: bool,
) -> Result<std::result::Result<Streamed, ReadFailure>> {
    out.write_all(head).map_err(write_err)?;
    let mut json = reindent.then(json_stream::Reindenter::new);
    let mut end = if reindent {
        JsonEnd::Complete
    } else {
        JsonEnd::Copied
    };
    let mut buf = vec![0u8; STREAM_BUFFER];
    let mut bytes: u64 = 0;
    // The last byte written as received, for the terminal's newline.
    let mut last_raw: Option<u8> = None;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                out.flush().map_err(write_err)?;
                return Ok(Err(ReadFailure { bytes, error }));
            }
        };
        let chunk = &buf[..n];
        let raw = match json.as_mut() {
            Some(r) => match r.feed(chunk, out).map_err(write_err)? {
                None => &chunk[n..],
                Some(at) => {
                    let offset = bytes + at as u64;
                    end = if r.too_deep() {
                        JsonEnd::TooDeep { at: offset }
                    } else {
                        JsonEnd::Broken { at: offset }
                    };
                    json = None;
                    &chunk[at..]
                }
            },
            None => chunk,
        };
        if let Some(&b) = raw.last() {
            out.write_all(raw).map_err(write_err)?;
            last_raw = Some(b);
        }
        bytes += n as u64;
    }
    if let Some(mut r) = json {
        if !r.finish(out).map_err(write_err)? {
            end = JsonEnd::Incomplete;
        }
    }
    // On a terminal, end the last line so the prompt (or an error line
    // on stderr) starts on its own; into a pipe the bytes stay as sent.
    if last_raw.is_some_and(|b| b != b'\n') && terminal {
        out.write_all(b"\n").map_err(write_err)?;
    }
    out.flush().map_err(write_err)?;
    Ok(Ok(Streamed { bytes, json: end }))
}

/// Seconds since the epoch as RFC 3339 UTC (`2026-11-28T01:57:10Z`).
pub fn rfc3339(unix: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}
