//! The elements of a streamed JSON array, for `--jq '.[] | …'` (SPEC §4.4):
//! a byte scanner ([`Scan`]) finds where each element starts and ends
//! without parsing it, so only the caller's parse sees its contents.
//!
//! The scanning runs on a thread of its own, reading the body and handing
//! batches of elements over a bounded channel to the caller's thread, which
//! parses and filters them. Reading and splitting then overlap with the
//! parsing and filtering (as `curl | jq` overlaps two processes), while
//! memory stays bounded by the batches in flight. The filter's values are
//! reference-counted and cannot cross threads, hence the split at bytes.

use std::io::BufRead;
use std::sync::mpsc;

use super::merge::{Scan, Step};
use crate::error::Result;

/// Element bytes gathered into one batch before it is handed on: large
/// enough that the channel is not the cost, small enough that output starts
/// soon.
const BATCH_BYTES: usize = 64 * 1024;

/// Batches in flight: how far the reading thread may run ahead. With
/// [`BATCH_BYTES`], a few hundred KiB besides the largest element.
const BATCHES: usize = 4;

/// Elements one after another in `bytes`; element `i` ends at `ends[i]`.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    fn with_capacity() -> Batch {
        Batch {
            bytes: Vec::with_capacity(BATCH_BYTES + BATCH_BYTES / 4),
            // Room for elements of 16 bytes on average without growing.
            ends: Vec::with_capacity(BATCH_BYTES / 16),
        }
    }
}

/// Hands the bytes of each element of the array read from `body` to
/// `each`, in order. `each` parses the element (a JSON error ends the walk
/// as one) and returns the filter's outcome, which stops the walk when it
/// is an error. A body that is not one array (unbalanced, a missing
/// element, more after it) is a JSON error once the elements before the
/// fault have been handed on, as a sequential walk would.
pub(super) fn each_element(
    body: &mut (dyn BufRead + Send),
    each: &mut dyn FnMut(&[u8]) -> serde_json::Result<Result<()>>,
) -> serde_json::Result<Result<()>> {
    let (tx, rx) = mpsc::sync_channel::<Batch>(BATCHES);
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut batch = Batch::with_capacity();
            let split = split(body, &mut |element| {
                batch.bytes.extend_from_slice(element);
                batch.ends.push(batch.bytes.len());
                if batch.bytes.len() < BATCH_BYTES {
                    return true;
                }
                let full = std::mem::replace(&mut batch, Batch::with_capacity());
                // A closed channel: the filter stopped on an error of its
                // own, which is the one reported.
                tx.send(full).is_ok()
            });
            if !batch.ends.is_empty() {
                let _ = tx.send(batch);
            }
            split
        });
        let filtered = filter_batches(rx, each);
        // The receiver is gone: a reader blocked on a full channel returns.
        let split = match reader.join() {
            Ok(split) => split,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match filtered {
            // Every element went through: the reader's verdict on the rest.
            Ok(Ok(())) => split.map(Ok),
            stopped => stopped,
        }
    })
}

/// Runs `each` on every element received, in order, up to the first
/// error. Drops `rx` on return, which stops the reader.
fn filter_batches(
    rx: mpsc::Receiver<Batch>,
    each: &mut dyn FnMut(&[u8]) -> serde_json::Result<Result<()>>,
) -> serde_json::Result<Result<()>> {
    for batch in rx {
        let mut start = 0;
        for &end in &batch.ends {
            if let Err(e) = each(&batch.bytes[start..end])? {
                return Ok(Err(e));
            }
            start = end;
        }
    }
    Ok(Ok(()))
}

/// Splits the array read from `body` into its elements (strings skipped,
/// brackets counted) and hands each element's bytes to `each` until it
/// returns false.
fn split(body: &mut dyn BufRead, each: &mut dyn FnMut(&[u8]) -> bool) -> serde_json::Result<()> {
    let mut scan = Scan::default();
    let mut element: Vec<u8> = Vec::new();
    let mut inside = false;
    // The last structural byte was a comma: an element must follow.
    let mut comma = false;
    let mut after: Vec<u8> = Vec::new();
    loop {
        let chunk = body.fill_buf().map_err(serde_json::Error::io)?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        // Start of the element part in this chunk, while inside one.
        let mut from = 0;
        let mut i = 0;
        while i < n {
            i += scan.passing(&chunk[i..]);
            let Some(&b) = chunk.get(i) else {
                break;
            };
            match scan.step(b) {
                Step::Pass => {}
                Step::Element => {
                    inside = true;
                    from = i;
                }
                Step::Drop => {
                    // `[,1]`, `[1,,2]`, `[1,]`: a comma without an element.
                    let structural = b == b',' || (b == b']' && scan.closed());
                    if structural {
                        if !inside && (b == b',' || comma) {
                            return Err(serde::de::Error::custom("an array element is missing"));
                        }
                        comma = b == b',';
                    }
                    if inside {
                        inside = false;
                        let go_on = if element.is_empty() {
                            each(&chunk[from..i])
                        } else {
                            element.extend_from_slice(&chunk[from..i]);
                            let go_on = each(&element);
                            element.clear();
                            go_on
                        };
                        if !go_on {
                            return Ok(());
                        }
                    }
                }
                Step::After => {
                    if after.len() < 64 {
                        after.push(b);
                    }
                }
            }
            i += 1;
        }
        if inside {
            element.extend_from_slice(&chunk[from..]);
        }
        body.consume(n);
    }
    if !scan.closed() {
        return Err(serde::de::Error::custom(
            "the body ended before its array closed",
        ));
    }
    if !after.iter().all(u8::is_ascii_whitespace) {
        return Err(serde::de::Error::custom(
            "the body goes on after its array closed",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{self, BufReader, Read};

    use super::*;
    use crate::error::Error;

    /// The elements of `body` as strings, or the JSON error's text.
    fn elements(body: &[u8], capacity: usize) -> std::result::Result<Vec<String>, String> {
        let mut seen = Vec::new();
        let mut body = BufReader::with_capacity(capacity, body);
        each_element(&mut body, &mut |e| {
            seen.push(String::from_utf8(e.to_vec()).unwrap());
            Ok(Ok(()))
        })
        .map_err(|e| e.to_string())?
        .unwrap();
        Ok(seen)
    }

    #[test]
    fn elements_come_in_order_across_batches_and_chunks() {
        let n = 3 * BATCH_BYTES / 8;
        let body = format!(
            "[{}]",
            (0..n)
                .map(|i| format!("\"{i:06}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        for capacity in [1, 7, 128 * 1024] {
            let seen = elements(body.as_bytes(), capacity).unwrap();
            assert_eq!(seen.len(), n, "{capacity}");
            assert!(seen
                .iter()
                .enumerate()
                .all(|(i, e)| e == &format!("\"{i:06}\"")));
        }
        // One element larger than a batch comes whole.
        let big = format!("\"{}\"", "x".repeat(3 * BATCH_BYTES));
        let seen = elements(format!("[1,{big},2]").as_bytes(), 4096).unwrap();
        assert_eq!(seen, ["1", big.as_str(), "2"]);
    }

    #[test]
    fn a_fault_in_the_array_comes_after_the_elements_before_it() {
        let n = BATCH_BYTES / 4;
        let body = format!("[{}, oops", vec!["[1]"; n].join(","));
        let mut seen = 0;
        let mut reader = BufReader::with_capacity(1000, body.as_bytes());
        let err = each_element(&mut reader, &mut |_| {
            seen += 1;
            Ok(Ok(()))
        })
        .unwrap_err();
        // `oops` starts an element that never ends: the unclosed array is
        // the fault, reported after every whole element.
        assert!(err.to_string().contains("ended before"), "{err}");
        assert_eq!(seen, n);
        assert!(elements(b"[1,,2]", 64).unwrap_err().contains("missing"));
    }

    /// An array that never ends: `[` once, then `1,  ` for ever.
    struct Endless(bool);

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(b' ');
            let skip = usize::from(!self.0);
            if !self.0 {
                buf[0] = b'[';
                self.0 = true;
            }
            for chunk in buf.chunks_mut(4).skip(skip) {
                chunk[0] = b'1';
                if let Some(comma) = chunk.get_mut(1) {
                    *comma = b',';
                }
            }
            Ok(buf.len())
        }
    }

    #[test]
    fn an_error_in_the_filter_stops_the_reading_thread() {
        let mut seen = 0;
        let mut body = BufReader::new(Endless(false));
        let outcome = each_element(&mut body, &mut |e| {
            assert_eq!(e, b"1");
            seen += 1;
            Ok(if seen == 3 * BATCH_BYTES {
                Err(Error::service("stop"))
            } else {
                Ok(())
            })
        })
        .unwrap();
        assert_eq!(outcome.unwrap_err().message(), "stop");
        assert_eq!(seen, 3 * BATCH_BYTES);
    }
}
