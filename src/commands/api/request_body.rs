//! The request body of `lmi api --file PATH|-`, checked before anything is
//! sent and then streamed, never held whole (issue 13).
//!
//! - A regular file is checked by one streaming pass (serde_json over a
//!   buffered reader: memory stays bounded whatever its size), then opened
//!   afresh and streamed for each attempt (a 401 retry or a 307/308
//!   redirect sends it again).
//! - stdin, and files that can be read only once (pipes, `<(cmd)`), are
//!   read into memory, up to [`ONCE_LIMIT`]: they must be sent again on a
//!   retry. Larger input is a usage error that says to use a file.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::http::Payload;

/// The most lmi reads from stdin (or a pipe) as a body: 64 MiB.
pub const ONCE_LIMIT: u64 = 64 * 1024 * 1024;

/// Loads and checks the body named by `--file`: `-` for stdin, else a path.
/// `custom_type` (a `Content-Type` from `-H`) lifts the JSON check.
pub fn load(source: &str, custom_type: bool) -> Result<Payload> {
    if source == "-" {
        let bytes = read_once("stdin", io::stdin().lock())?;
        check_body("stdin", bytes.as_slice(), custom_type)?;
        return Ok(Payload::Bytes(bytes));
    }
    let unreadable = |e: io::Error| Error::usage(format!("cannot read --file {source}: {e}"));
    let file = File::open(source).map_err(unreadable)?;
    let regular = file.metadata().map_err(unreadable)?.is_file();
    if !regular {
        let bytes = read_once(source, file)?;
        check_body(source, bytes.as_slice(), custom_type)?;
        return Ok(Payload::Bytes(bytes));
    }
    check_body(
        source,
        BufReader::with_capacity(64 * 1024, file),
        custom_type,
    )?;
    Ok(Payload::File(PathBuf::from(source)))
}

/// Input that cannot be read twice, in memory up to [`ONCE_LIMIT`].
fn read_once(shown: &str, input: impl Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    input
        .take(ONCE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::usage(format!("cannot read the body from {shown}: {e}")))?;
    if bytes.len() as u64 > ONCE_LIMIT {
        return Err(Error::usage(format!(
            "the body from {shown} is larger than {} MiB, the most lmi reads from a pipe",
            ONCE_LIMIT / (1024 * 1024)
        ))
        .with_hint("write it to a file and give --file PATH: a file is streamed, of any size"));
    }
    Ok(bytes)
}

/// Counts what passes through and whether any of it is not whitespace.
struct Scan<R> {
    inner: R,
    bytes: u64,
    blank: bool,
}

impl<R: Read> Read for Scan<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        if self.blank {
            self.blank = buf[..n].iter().all(u8::is_ascii_whitespace);
        }
        Ok(n)
    }
}

/// A body must not be empty, and must be JSON unless the user chose the
/// Content-Type (then it is sent as is). Reads `input` once, as a stream.
pub fn check_body(shown: &str, input: impl Read, custom_type: bool) -> Result<()> {
    let mut scan = Scan {
        inner: input,
        bytes: 0,
        blank: true,
    };
    let parsed = if custom_type {
        // Only emptiness matters: one byte tells.
        scan.read(&mut [0u8; 1])
            .map(drop)
            .map_err(serde_json::Error::io)
    } else {
        serde_json::from_reader::<_, serde::de::IgnoredAny>(&mut scan).map(drop)
    };
    if let Err(e) = &parsed {
        if e.is_io() {
            return Err(Error::usage(format!(
                "cannot read the body from {shown}: {e}"
            )));
        }
    }
    if scan.bytes == 0 || (scan.blank && !custom_type) {
        return Err(Error::usage(format!("the body from {shown} is empty"))
            .with_hint("give --file a JSON document, or leave --file out to send no body"));
    }
    if let Err(e) = parsed {
        // serde_json ends its message with the position; it is said once.
        let text = e.to_string();
        let what = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(w, _)| w);
        return Err(Error::usage(format!(
            "the body from {shown} is not valid JSON at line {}, column {}: {what}",
            e.line(),
            e.column()
        ))
        .with_hint("fix the JSON, or name its type with -H 'Content-Type: ...' to send it as is"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked() {
        assert!(check_body("f", &b"{\"a\":1}"[..], false).is_ok());
        assert!(check_body("f", &b"not json"[..], true).is_ok());
        assert!(check_body("f", &b"  \n"[..], true).is_ok());
        let empty = check_body("stdin", &b""[..], true).unwrap_err();
        assert!(
            empty.message().contains("stdin is empty"),
            "{}",
            empty.message()
        );
        assert!(check_body("f", &b" \n"[..], false)
            .unwrap_err()
            .message()
            .contains("empty"));
        let bad = check_body("f.json", &b"{\n  \"a\": 1,\n}"[..], false).unwrap_err();
        assert_eq!(bad.exit_code(), 2);
        assert_eq!(
            bad.message(),
            "the body from f.json is not valid JSON at line 3, column 1: key must be a string"
        );
        let trailing = check_body("f", &b"{} x"[..], false).unwrap_err();
        assert!(
            trailing.message().contains("trailing"),
            "{}",
            trailing.message()
        );
    }

    #[test]
    fn files_are_streamed_and_pipes_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        std::fs::write(&path, br#"{"big": [1, 2, 3]}"#).unwrap();
        let shown = path.to_str().unwrap();
        assert_eq!(load(shown, false).unwrap(), Payload::File(path.clone()));
        std::fs::write(&path, b"{").unwrap();
        assert_eq!(load(shown, false).unwrap_err().exit_code(), 2);
        assert_eq!(load(shown, true).unwrap(), Payload::File(path.clone()));
        let missing = dir.path().join("missing");
        assert_eq!(
            load(missing.to_str().unwrap(), false)
                .unwrap_err()
                .exit_code(),
            2
        );

        let big = io::repeat(b' ').take(ONCE_LIMIT + 1);
        let err = read_once("stdin", big).unwrap_err();
        assert!(
            err.message().contains("larger than 64 MiB"),
            "{}",
            err.message()
        );
    }
}
