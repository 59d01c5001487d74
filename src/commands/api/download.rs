//! Where the body goes instead of stdout: `--output-file FILE` and
//! `--silent` (SPEC §4.4).
//!
//! - FILE is written through a temporary file in FILE's own folder (so the
//!   final rename never crosses file systems and is atomic), synced and
//!   renamed over FILE only once the whole body has arrived. A body that
//!   breaks off, a non-2xx answer or an error deletes the temporary file:
//!   FILE is never partial, and a previous FILE stays as it was.
//! - The temporary file is created before any request, which is the check
//!   that the folder exists and can be written (exit 2 otherwise, with no
//!   token fetched and nothing sent).
//! - While stderr is a terminal (and not `-q`), an `indicatif` progress line
//!   shows the bytes and the rate, and with a `Content-Length` the percent
//!   and the time left. Nothing is drawn otherwise.
//! - The temporary file is private (0600), and so is FILE after the rename.
//!   Ctrl-C deletes it before lmi exits 130.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tempfile::NamedTempFile;

use crate::error::{Error, Result};
use crate::http::StreamingResponse;
use crate::interrupt::RemoveOnInterrupt;
use crate::output::ReadFailure;

/// Copy buffer: large enough for fast links, small enough to stay bounded.
const BUFFER: usize = 64 * 1024;

/// How often the progress line is redrawn at most.
const REDRAW_HZ: u8 = 10;

/// A download target, its temporary file already created.
pub struct Download {
    target: PathBuf,
    temp: NamedTempFile,
    /// Ctrl-C deletes `temp` before exiting (a signal ends lmi without
    /// running destructors).
    guard: RemoveOnInterrupt,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("target", &self.target)
            .field("temp", &self.temp.path())
            .finish_non_exhaustive()
    }
}

impl Download {
    /// Checks FILE's folder by creating the temporary file in it.
    pub fn prepare(target: &Path) -> Result<Download> {
        let shown = target.display();
        if target.as_os_str().is_empty() {
            return Err(Error::usage("--output-file needs a file name"));
        }
        if target.is_dir() {
            return Err(Error::usage(format!(
                "--output-file {shown} is a folder; name a file in it"
            )));
        }
        let Some(name) = target.file_name() else {
            return Err(Error::usage(format!(
                "--output-file {shown} does not end in a file name"
            )));
        };
        let folder = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            return Err(Error::usage(format!(
                "--output-file {shown}: the folder {} does not exist",
                folder.display()
            ))
            .with_hint("create the folder first, or name a file in an existing one"));
        }
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{}.", name.to_string_lossy()))
            .suffix(".part")
            .tempfile_in(folder)
            .map_err(|e| {
                Error::usage(format!(
                    "--output-file {shown}: cannot write in the folder {}: {e}",
                    folder.display()
                ))
                .with_cause(e)
            })?;
        let guard = RemoveOnInterrupt::new(temp.path().to_path_buf());
        Ok(Download {
            target: target.to_path_buf(),
            temp,
            guard,
        })
    }

    /// Streams the body into the temporary file and renames it over FILE.
    /// `Ok(Err(_))` is a body that broke off (the caller words the error);
    /// the temporary file is deleted either way.
    pub fn save(
        self,
        response: &mut StreamingResponse,
        progress: bool,
    ) -> Result<std::result::Result<u64, ReadFailure>> {
        let length = response
            .header("content-length")
            .and_then(|l| l.trim().parse::<u64>().ok());
        let bar = progress.then(|| progress_bar(length));
        let Download {
            target,
            mut temp,
            guard,
        } = self;
        let written = copy(&mut response.body, temp.as_file_mut(), bar.as_ref());
        // The line stays, showing how far the download got.
        if let Some(bar) = &bar {
            match &written {
                Ok(Ok(_)) => bar.finish(),
                _ => bar.abandon(),
            }
        }
        let bytes = match written {
            Ok(Ok(bytes)) => bytes,
            // Deleting `temp` (before the guard goes) leaves FILE as it was.
            other => {
                drop(temp);
                drop(guard);
                return other;
            }
        };
        let saved = temp
            .as_file()
            .sync_all()
            .map_err(|e| Error::io("cannot write", temp.path(), e))
            .and_then(|()| {
                temp.persist(&target)
                    .map_err(|e| Error::io("cannot rename the download to", &target, e.error))
            });
        drop(guard);
        saved.map(|_| Ok(bytes))
    }
}

/// Whether to draw progress: stderr is a terminal and errors are not all
/// the user asked for.
pub fn shows_progress(quiet: bool) -> bool {
    !quiet && io::stderr().is_terminal()
}

/// Reads the body to its end without keeping it (`--silent`), so a broken
/// body is still an error and the connection ends cleanly.
pub fn discard(response: &mut StreamingResponse) -> Result<std::result::Result<u64, ReadFailure>> {
    copy(&mut response.body, &mut io::sink(), None)
}

/// Copies `body` to `out`; a read error is the inner `Err` (with the bytes
/// received), a write error the outer one.
fn copy(
    body: &mut dyn Read,
    out: &mut dyn Write,
    bar: Option<&ProgressBar>,
) -> Result<std::result::Result<u64, ReadFailure>> {
    let mut buf = vec![0u8; BUFFER];
    let mut bytes: u64 = 0;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Ok(Err(ReadFailure { bytes, error })),
        };
        out.write_all(&buf[..n]).map_err(|e| {
            Error::internal(format!("cannot write the download: {e}")).with_cause(e)
        })?;
        bytes += n as u64;
        if let Some(bar) = bar {
            bar.set_position(bytes);
        }
    }
    out.flush()
        .map_err(|e| Error::internal(format!("cannot write the download: {e}")).with_cause(e))?;
    Ok(Ok(bytes))
}

/// Bytes, rate and, with a known length, percent and time left.
fn progress_bar(length: Option<u64>) -> ProgressBar {
    let target = ProgressDrawTarget::stderr_with_hz(REDRAW_HZ);
    let (bar, template) = match length {
        Some(len) => (
            ProgressBar::with_draw_target(Some(len), target),
            "{bytes}/{total_bytes} {percent}% {binary_bytes_per_sec} {eta} left",
        ),
        None => (
            ProgressBar::with_draw_target(None, target),
            "{bytes} {binary_bytes_per_sec}",
        ),
    };
    // The templates are constant; should one fail to parse, indicatif's
    // default style still shows the position.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken(u64);

    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
            }
            let n = (self.0 as usize).min(buf.len());
            buf[..n].fill(b'x');
            self.0 -= n as u64;
            Ok(n)
        }
    }

    fn response(body: impl Read + Send + 'static) -> StreamingResponse {
        StreamingResponse {
            status: 200,
            reason: "OK".into(),
            version: "HTTP/1.1".into(),
            headers: vec![("Content-Length".into(), "10".into())],
            body: Box::new(body),
        }
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_whole_body_replaces_the_file_and_a_broken_one_leaves_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        std::fs::write(&target, "old").unwrap();

        let dl = Download::prepare(&target).unwrap();
        let failed = dl.save(&mut response(Broken(5)), false).unwrap();
        assert_eq!(failed.unwrap_err().bytes, 5);
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(leftovers(dir.path()), vec!["out.bin"]);

        let dl = Download::prepare(&target).unwrap();
        let saved = dl.save(&mut response(&b"new body!\n"[..]), false).unwrap();
        assert_eq!(saved.unwrap(), 10);
        assert_eq!(std::fs::read(&target).unwrap(), b"new body!\n");
        assert_eq!(leftovers(dir.path()), vec!["out.bin"]);
    }

    #[test]
    fn bad_targets_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        for bad in [
            dir.path().join("no/such/out.bin"),
            dir.path().to_path_buf(),
            PathBuf::new(),
        ] {
            let err = Download::prepare(&bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{}", bad.display());
        }
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn discarding_reads_to_the_end() {
        assert_eq!(discard(&mut response(&b"abc"[..])).unwrap().unwrap(), 3);
        let broken = discard(&mut response(Broken(2))).unwrap();
        assert_eq!(broken.unwrap_err().bytes, 2);
    }
}
